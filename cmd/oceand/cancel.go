package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"oceand/daemon"
	"oceand/store"
)

func (a *app) cancelCommand() *cobra.Command {
	var reason string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "cancel [ID]",
		Short: "Cancel the running resync (or a queued one by id)",
		Long: `Cancel the running resync, or the job ID if it is running or queued. A cancelled
resync stops at once, deletes nothing and is recorded "cancelled"; it is not resumed.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var id uint64
			if len(args) == 1 {
				n, err := strconv.ParseUint(args[0], 10, 64)
				if err != nil {
					return usageError{fmt.Errorf("job id must be a number, got %q", args[0])}
				}
				id = n
			}
			c, err := a.daemonClient(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if reason == "" {
				reason = "oceand cancel" + byUser()
			}
			j, err := c.Cancel(cmd.Context(), daemon.CancelRequest{ID: id, Reason: reason})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), j)
			}
			if j.State == store.JobRunning {
				fmt.Fprintf(cmd.OutOrStdout(), "cancelling job %d: it stops now (oceand jobs show %d --follow)\n", j.ID, j.ID)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "job %d %s\n", j.ID, j.State)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded with the job")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the job as JSON")
	return cmd
}
