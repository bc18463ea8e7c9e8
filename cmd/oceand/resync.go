package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"

	"github.com/spf13/cobra"

	"oceand/daemon"
	"oceand/jobs"
	"oceand/store"
)

func (a *app) resyncCommand() *cobra.Command {
	var wait, dryRun, asJSON bool
	var reason string
	cmd := &cobra.Command{
		Use:   "resync",
		Short: "Ask the running daemon for a resync",
		Long: `Ask the running daemon for a resync (trigger "cli"). What happens to a resync that is
already running follows resyncPolicy: supersede (it stops and this one starts), queue
(this one waits) or skip (nothing is queued). A trigger that finds a resync waiting
joins it.

--dry-run queues a resync that computes what it would upsert and delete and writes
nothing to Port; it never stops a running resync. --wait follows the job until it
ends and exits 0 only if it succeeded.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.daemonClient(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if reason == "" {
				reason = "oceand resync" + byUser()
			}
			out, err := c.Resync(cmd.Context(), daemon.ResyncRequest{Reason: reason, DryRun: dryRun})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON && !wait {
				return writeJSON(w, out)
			}
			if !asJSON {
				writeEnqueued(w, out, dryRun)
			}
			if !wait || out.Job == nil {
				return nil
			}
			return a.waitForJob(cmd.Context(), c, out.Job.ID, asJSON, w)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the job until it ends; exit 0 only if it succeeded")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "plan only: write nothing to Port")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (with --wait: the job at every change, one per line)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded with the job (default: who asked)")
	return cmd
}

func byUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return " by " + u.Username
	}
	if name := os.Getenv("USER"); name != "" {
		return " by " + name
	}
	return ""
}

func writeEnqueued(w io.Writer, out jobs.Enqueued, dryRun bool) {
	kind := "resync"
	if dryRun {
		kind = "dry run"
	}
	switch out.Outcome {
	case jobs.Queued:
		fmt.Fprintf(w, "queued %s: job %d", kind, out.Job.ID)
		if out.Superseding != 0 {
			fmt.Fprintf(w, " (superseding job %d, which stops now)", out.Superseding)
		}
		fmt.Fprintln(w)
	case jobs.Merged:
		fmt.Fprintf(w, "joined the resync already waiting: job %d (%d reasons)", out.Job.ID, len(out.Job.Reasons))
		if out.Superseding != 0 {
			fmt.Fprintf(w, "; superseding job %d", out.Superseding)
		}
		fmt.Fprintln(w)
	case jobs.Skipped:
		switch {
		case out.Job == nil:
			fmt.Fprintln(w, "skipped")
		case out.Job.State == store.JobQueued:
			fmt.Fprintf(w, "skipped: a resync is waiting (job %d); a dry run is queued only when none waits\n", out.Job.ID)
		default:
			fmt.Fprintf(w, "skipped: job %d is running and resyncPolicy is skip\n", out.Job.ID)
		}
	}
}

// waitForJob follows job id, and the job that superseded it if one did,
// until it ends; an end other than succeeded is an exitFailure error.
func (a *app) waitForJob(ctx context.Context, c *daemon.Client, id uint64, asJSON bool, w io.Writer) error {
	b := &backend{client: c}
	for {
		var last *store.Job
		err := a.followJob(ctx, b, id, asJSON, w)
		if err != nil {
			return err
		}
		if last, err = c.Job(ctx, id); err != nil {
			return err
		}
		if last.State == store.JobSuperseded && last.SupersededBy != 0 {
			if !asJSON {
				fmt.Fprintf(w, "\njob %d was superseded by job %d; following it\n\n", id, last.SupersededBy)
			}
			id = last.SupersededBy
			continue
		}
		if last.State != store.JobSucceeded {
			return exitError{code: exitFailure, err: fmt.Errorf("job %d %s", last.ID, last.State)}
		}
		return nil
	}
}
