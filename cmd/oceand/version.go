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
			fmt.Fprintf(cmd.OutOrStdout(), "oceand %s (revision %s, %s)\n", buildinfo.Version, buildinfo.Revision(), runtime.Version())
			return nil
		},
	}
}
