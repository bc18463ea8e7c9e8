package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"oceand/buildinfo"
)

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the oceand version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), versionLine())
			return err
		},
	}
}

// versionLine is what `oceand version` and `oceand --version` print.
func versionLine() string {
	return fmt.Sprintf("oceand %s (revision %s, %s)\n", buildinfo.Version, buildinfo.Revision(), runtime.Version())
}
