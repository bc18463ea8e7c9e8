package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"oceand/daemon"
)

func (a *app) runCommand() *cobra.Command {
	var noControlSocket bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the integration daemon",
		Long:  "Run the integration with the settings of config.yaml, .env and OCEAN__ variables.\nWith eventListener.type ONCE it runs one resync (or resumes an interrupted one) and exits 0\nonly if it succeeded. Otherwise it runs until SIGTERM or SIGINT, which stop the running\nresync within 5s (recorded \"interrupted\" and resumed at the next start).",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The problems and warnings `config validate` would print.
			s, problems, warnings := a.inspectSettings()
			if len(problems) > 0 {
				a.writeProblems(cmd.ErrOrStderr(), problems, warnings)
				return exitError{code: exitUsage, err: fmt.Errorf("%s in the settings (see above; `oceand config validate` lists them too)", plural(len(problems), "problem"))}
			}
			if noControlSocket {
				s.ControlSocket = false
			}
			logger, err := a.logger(s)
			if err != nil {
				return err
			}
			applyContainerMemoryLimit(logger, os.DirFS("/"))
			d, err := daemon.New(s, daemon.Options{Logger: logger, Redactor: a.redactor})
			if err != nil {
				return usageError{err}
			}
			stopHangups := logHangups(logger)
			defer stopHangups()
			return d.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&noControlSocket, "no-control-socket", false, "do not serve the CLI on stateDir/oceand.sock (setting controlSocket)")
	return cmd
}

// logHangups keeps SIGHUP (a closed terminal, or a habit of asking daemons
// to reload) from ending the daemon silently with status 129: it is logged
// and the daemon runs on. oceand reads its settings only at start.
func logHangups(logger *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range hup {
			logger.Warn("received SIGHUP: oceand does not reload its settings and keeps running; restart it to apply changed settings (SIGTERM stops it)")
		}
	}()
	return func() {
		signal.Stop(hup)
		close(hup)
		<-done
	}
}
