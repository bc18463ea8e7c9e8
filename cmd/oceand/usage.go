package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// groupCommand makes cmd, which only groups subcommands, refuse an
// unknown subcommand with the ones it probably meant (`oceand jobs lsit`:
// exit 2, "did you mean list?") instead of printing its help and exiting
// 0. Without arguments it prints its help, as before.
func groupCommand(cmd *cobra.Command) *cobra.Command {
	cmd.SuggestionsMinimumDistance = 2
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return usageError{errors.New(msg + " (see " + c.CommandPath() + " --help)")}
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	return cmd
}
