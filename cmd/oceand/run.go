package main

import (
	"fmt"
	"os"

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
			return d.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&noControlSocket, "no-control-socket", false, "do not serve the CLI on stateDir/oceand.sock (setting controlSocket)")
	return cmd
}
