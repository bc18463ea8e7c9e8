package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"oceand/config"
	"oceand/daemon"
	"oceand/port/emulator"
)

// demoEmulatorFile keeps the emulator's entities next to the daemon state,
// so a second demo with the same --state-dir talks to the same "Port".
const demoEmulatorFile = "port-emulator.json"

func (a *app) demoCommand() *cobra.Command {
	var persons, kb int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run one real resync of the fake source into the built-in Port emulator",
		Long: `demo starts the built-in Port emulator on a loopback port, runs the daemon with the
fake source against it, creates the fake blueprints and the default mapping, runs one
resync and prints the job and the entities now in the emulator.

State goes to a temporary directory unless --state-dir is given; with the same
--state-dir a second demo finds every person unchanged and sends none of them again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if persons < 1 {
				return usageError{fmt.Errorf("--persons must be at least 1, got %d", persons)}
			}
			if kb < 1 {
				return usageError{fmt.Errorf("--kb must be at least 1, got %d", kb)}
			}
			stateDir := a.stateDir
			if stateDir == "" {
				dir, err := os.MkdirTemp("", "oceand-demo-*")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				stateDir = dir
			} else if err := os.MkdirAll(stateDir, 0o700); err != nil {
				return err
			}
			return a.demo(cmd, stateDir, persons, kb)
		},
	}
	cmd.Flags().IntVar(&persons, "persons", 500, "number of fake persons")
	cmd.Flags().IntVar(&kb, "kb", 1, "size of each person's bio in KiB")
	return cmd
}

func (a *app) demo(cmd *cobra.Command, stateDir string, persons, kb int) error {
	out := cmd.OutOrStdout()
	secret := randomSecret()
	a.redactor.Add(secret)
	emu := emulator.New(emulator.Config{ClientID: "oceand-demo", ClientSecret: secret})
	emuFile := filepath.Join(stateDir, demoEmulatorFile)
	if err := emu.LoadFile(emuFile); err != nil {
		return err
	}
	url, err := emu.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer emu.Close()

	integrationConfig, _ := json.Marshal(map[string]any{
		"entity_amount":         persons,
		"entity_kb_size":        kb,
		"single_department_run": true,
	})
	flags := map[string]string{
		"port.base_url":          url,
		"port.client_id":         "oceand-demo",
		"port.client_secret":     secret,
		"integration.type":       "fake",
		"integration.identifier": "oceand-demo",
		"integration.config":     string(integrationConfig),
		"event_listener.type":    config.ListenerOnce,
		"state_dir":              stateDir,
		"log_level":              "warning",
	}
	if a.logLevel != "" {
		flags["log_level"] = a.logLevel
	}
	if a.logFormat != "" {
		flags["log_format"] = a.logFormat
	}
	// The demo ignores config.yaml and OCEAN__ variables: it must behave
	// the same on every machine.
	s, err := config.Load(config.LoadOptions{Dir: stateDir, Flags: flags})
	if err != nil {
		return err
	}
	logger, err := a.logger(s)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "oceand demo: %d fake persons into the Port emulator at %s\nstate: %s\n\n", persons, url, stateDir)
	d, err := daemon.New(s, daemon.Options{Logger: logger, Redactor: a.redactor})
	if err != nil {
		return err
	}
	started := time.Now()
	runErr := d.Run(cmd.Context())
	elapsed := time.Since(started)
	if err := emu.SaveFile(emuFile); err != nil {
		return err
	}
	if j := d.LastJob(); j != nil {
		if err := writeJob(out, j, time.Now()); err != nil {
			return err
		}
	}
	fmt.Fprintln(out)
	writeEmulatorSummary(out, emu, elapsed)
	if runErr != nil {
		return exitError{code: exitFailure, err: runErr}
	}
	return nil
}

func writeEmulatorSummary(w io.Writer, emu *emulator.Server, elapsed time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "BLUEPRINT\tENTITIES IN PORT")
	for _, bp := range emu.Blueprints() {
		fmt.Fprintf(tw, "%s\t%d\n", bp, emu.EntityCount(bp))
	}
	tw.Flush()
	reqs := emu.Requests()
	routes := make([]string, 0, len(reqs))
	for r := range reqs {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	fmt.Fprintf(w, "\nPort requests: %d in %s\n", emu.TotalRequests(), elapsed.Round(time.Millisecond))
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, r := range routes {
		fmt.Fprintf(tw, "  %s\t%s\n", r, strconv.Itoa(reqs[r]))
	}
	tw.Flush()
}

func randomSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
