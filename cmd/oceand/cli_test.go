package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"oceand/config"
	"oceand/daemon"
	"oceand/port/emulator"
	"oceand/store"
)

// startDaemon runs a POLLING daemon (no listener yet: start-up resync,
// schedule and CLI only) on dir against a fresh emulator, until stop.
func startDaemon(t testing.TB, dir string, flags map[string]string) (stop func() error) {
	t.Helper()
	emu := emulator.New(emulator.Config{ClientID: "cli-id", ClientSecret: "cli-secret"})
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	all := map[string]string{
		"port.base_url":          srv.URL,
		"port.client_id":         "cli-id",
		"port.client_secret":     "cli-secret",
		"integration.type":       "fake",
		"integration.identifier": "cli-test",
		"integration.config":     `{"entity_amount": 20, "single_department_run": true}`,
		"event_listener.type":    config.ListenerPolling,
		"state_dir":              dir,
	}
	for k, v := range flags {
		all[k] = v
	}
	s, err := config.Load(config.LoadOptions{Dir: t.TempDir(), Flags: all})
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	d, err := daemon.New(s, daemon.Options{Ready: ready})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon: %v", err)
	}
	var stopped bool
	var runErr error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
		}
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
	return stop
}

func TestCLIWithAndWithoutADaemon(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stop := startDaemon(t, dir, nil)
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, nil, append(args, "--state-dir", dir)...)
	}

	// The start-up resync, then one asked for from the CLI.
	code, out, errOut := cli("jobs", "show", "1", "--follow")
	if code != exitOK || !strings.Contains(out, "Job 1: succeeded") {
		t.Fatalf("jobs show 1 --follow: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = cli("resync", "--wait", "--reason", "from the test")
	if code != exitOK || !strings.Contains(out, "queued resync: job 2") || !strings.Contains(out, "Job 2: succeeded") {
		t.Fatalf("resync --wait: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = cli("jobs", "show", "2", "--follow", "--json")
	var last store.Job
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || json.Unmarshal([]byte(lines[len(lines)-1]), &last) != nil || last.State != store.JobSucceeded || last.Reasons[0] != "from the test" {
		t.Errorf("jobs show --follow --json: exit %d\n%s", code, out)
	}
	code, out, _ = cli("jobs", "list", "--json")
	var list []store.Job
	if code != exitOK || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || list[1].Trigger != "start" {
		t.Errorf("jobs list --json: exit %d\n%s", code, out)
	}
	code, out, _ = cli("state")
	if code != exitOK || !strings.Contains(out, "daemon         running: pid") || !strings.Contains(out, "last success   job 2") ||
		!strings.Contains(out, "running        none") {
		t.Errorf("state: exit %d\n%s", code, out)
	}
	code, _, errOut = cli("cancel")
	if code != exitFailure || !strings.Contains(errOut, "no job is running") {
		t.Errorf("cancel with nothing running: exit %d\n%s", code, errOut)
	}
	code, out, _ = cli("resync", "--dry-run", "--json")
	if code != exitOK || !strings.Contains(out, `"dryRun": true`) || !strings.Contains(out, `"outcome": "queued"`) {
		t.Errorf("resync --dry-run --json: exit %d\n%s", code, out)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// No daemon: the same questions are answered from the database.
	code, out, _ = cli("state", "--json")
	var st daemon.State
	if code != exitOK || json.Unmarshal([]byte(out), &st) != nil || st.Daemon != nil || st.LastSuccess == nil || st.Integration != "cli-test" {
		t.Errorf("state --json without a daemon: exit %d\n%s", code, out)
	}
	code, out, _ = cli("jobs", "list", "--state", "succeeded")
	if code != exitOK || strings.Count(out, "succeeded") < 2 {
		t.Errorf("jobs list --state succeeded without a daemon: exit %d\n%s", code, out)
	}
	code, out, _ = cli("jobs", "show", "1", "--follow")
	if code != exitOK || !strings.Contains(out, "Job 1: succeeded") {
		t.Errorf("jobs show --follow of a finished job without a daemon: exit %d\n%s", code, out)
	}
	code, _, errOut = cli("resync")
	if code != exitFailure || !strings.Contains(errOut, "no oceand daemon is running") {
		t.Errorf("resync without a daemon: exit %d\n%s", code, errOut)
	}
	code, _, errOut = cli("jobs", "list", "--state", "done")
	if code != exitUsage || !strings.Contains(errOut, "--state must be one of") {
		t.Errorf("jobs list --state done: exit %d\n%s", code, errOut)
	}
}

func TestCLIReadsTheDatabaseOfADaemonWithoutSocket(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	startDaemon(t, dir, map[string]string{"control_socket": "false", "event_listener.resync_on_start": "false"})
	code, out, errOut := runCLI(t, nil, "jobs", "list", "--state-dir", dir)
	if code != exitOK || !strings.Contains(errOut, "serves no control socket") || !strings.Contains(errOut, "read from a copy of its database") {
		t.Errorf("jobs list against a daemon without socket: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, nil, "state", "--json", "--state-dir", dir)
	var st daemon.State
	if code != exitOK || json.Unmarshal([]byte(out), &st) != nil || !st.NoControlSocket || st.Integration != "cli-test" {
		t.Errorf("state --json against a daemon without socket: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, nil, "state", "--state-dir", dir)
	if code != exitOK || !strings.Contains(out, "running without its control socket") || strings.Contains(out, "not running") {
		t.Errorf("state against a daemon without socket: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, nil, "resync", "--state-dir", dir)
	if code != exitFailure || !strings.Contains(errOut, "serves no control socket") || !strings.Contains(errOut, "resync and cancel need the socket") ||
		strings.Contains(errOut, "no oceand daemon is running") {
		t.Errorf("resync against a daemon without socket: exit %d\n%s", code, errOut)
	}
}

func TestCLIReachesADaemonUnderADeepStateDir(t *testing.T) {
	t.Parallel()
	// stateDir/oceand.sock is longer than a unix socket path may be.
	dir := filepath.Join(t.TempDir(), strings.Repeat("s", 70), strings.Repeat("t", 40))
	startDaemon(t, dir, map[string]string{"event_listener.resync_on_start": "false"})
	code, out, errOut := runCLI(t, nil, "state", "--state-dir", dir)
	if code != exitOK || !strings.Contains(out, "running: pid") {
		t.Fatalf("state over the socket of a deep stateDir: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, nil, "resync", "--dry-run", "--wait", "--state-dir", dir)
	if code != exitOK || !strings.Contains(out, "queued dry run: job 1") {
		t.Errorf("resync --dry-run --wait over a deep stateDir: exit %d\n%s\n%s", code, out, errOut)
	}
}
