package main

import (
	"github.com/spf13/cobra"

	"oceand/daemon"
)

func (a *app) runCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the integration daemon",
		Long:  "Run the integration with the settings of config.yaml, .env and OCEAN__ variables.\nWith eventListener.type ONCE it runs one resync and exits 0 only if it succeeded.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.loadSettings()
			if err != nil {
				return err
			}
			logger, err := a.logger(s)
			if err != nil {
				return err
			}
			d, err := daemon.New(s, daemon.Options{Logger: logger, Redactor: a.redactor})
			if err != nil {
				return usageError{err}
			}
			return d.Run(cmd.Context())
		},
	}
}
