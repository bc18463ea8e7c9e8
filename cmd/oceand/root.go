package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"oceand/buildinfo"
	"oceand/config"
	"oceand/logging"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed (a resync failed, ...)
	exitUsage   = 2 // bad flags, arguments or settings
)

// app is what every command shares: where to write, the environment, and
// the global flags.
type app struct {
	stdout, stderr io.Writer
	environ        []string

	configFile string
	stateDir   string
	logFormat  string
	logLevel   string

	redactor *logging.Redactor
}

// usageError marks errors that should exit with exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError carries a specific exit code with its message.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	a := &app{stdout: stdout, stderr: stderr, environ: environ, redactor: logging.NewRedactor()}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "oceand: "+a.redactor.String(err.Error()))
	var ue usageError
	var ee exitError
	var ve *config.ValidationError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue), errors.As(err, &ve), isCobraUsage(err):
		return exitUsage
	}
	return exitFailure
}

func isCobraUsage(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "unknown shorthand flag") || strings.Contains(msg, "accepts ") ||
		strings.HasPrefix(msg, "invalid argument") || strings.HasPrefix(msg, "flag needs an argument") ||
		strings.HasPrefix(msg, "required flag")
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "oceand",
		Short:         "Run a Port integration as a single daemon",
		Long:          "oceand pulls data from a third-party system, maps it to Port entities with jq and keeps Port's catalog in sync.\nIt reads Ocean's config.yaml, .env and OCEAN__ variables.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.configFile, "config", "", "settings file (default: ./config.yaml when present)")
	pf.StringVar(&a.stateDir, "state-dir", "", "state directory (setting stateDir, env OCEAN__STATE_DIR; default ./.oceand)")
	pf.StringVar(&a.logFormat, "log-format", "", "log format: auto, text or json (setting logFormat)")
	pf.StringVar(&a.logLevel, "log-level", "", "log level: debug, info, warning or error (env APPLICATION__LOG_LEVEL)")
	root.AddCommand(
		a.runCommand(),
		a.demoCommand(),
		a.jobsCommand(),
		a.configCommand(),
		a.mappingCommand(),
		a.sourceCommand(),
		a.resyncCommand(),
		a.cancelCommand(),
		a.stateCommand(),
		a.benchCommand(),
		a.versionCommand(),
		a.portEmulatorCommand(),
	)
	root.Version = buildinfo.Version
	root.SetVersionTemplate(versionLine())
	return groupCommand(root)
}

// loadOptions says where settings come from: config.yaml (or --config),
// .env, the environment and the global flags.
func (a *app) loadOptions() config.LoadOptions {
	flags := map[string]string{}
	if a.stateDir != "" {
		flags["state_dir"] = a.stateDir
	}
	if a.logFormat != "" {
		flags["log_format"] = a.logFormat
	}
	if a.logLevel != "" {
		flags["log_level"] = a.logLevel
	}
	return config.LoadOptions{ConfigFile: a.configFile, Environ: a.environ, Flags: flags}
}

// loadSettings reads the settings and registers their secrets with the
// redactor, also when some settings are wrong, so no error shows them.
func (a *app) loadSettings() (*config.Settings, error) {
	s, err := config.Read(a.loadOptions())
	a.redactor.Add(s.Secrets()...)
	if err != nil {
		// The warnings often explain the errors (a misspelt key).
		if w := s.Warnings(); len(w) > 0 {
			lines := make([]string, len(w))
			for i, p := range w {
				lines[i] = "warning: " + p.String()
			}
			err = fmt.Errorf("%w\n%s", err, strings.Join(lines, "\n"))
		}
		return nil, usageError{err}
	}
	return s, nil
}

// logger builds the daemon logger on stderr.
func (a *app) logger(s *config.Settings) (*slog.Logger, error) {
	l, err := logging.New(a.stderr, logging.Options{Format: s.LogFormat, Level: s.LogLevel, Redactor: a.redactor, NoColor: a.noColor()})
	if err != nil {
		return nil, usageError{err}
	}
	return l, nil
}

// noColor reports whether NO_COLOR is set to a value (no-color.org).
func (a *app) noColor() bool {
	for _, kv := range a.environ {
		if v, ok := strings.CutPrefix(kv, "NO_COLOR="); ok && v != "" {
			return true
		}
	}
	return false
}
