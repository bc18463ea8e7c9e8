package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"oceand/daemon"
	"oceand/store"
)

func (a *app) stateCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Show the integration's state: daemon, last success, running and queued jobs, next scheduled run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := a.backend(cmd.Context())
			if err != nil {
				return err
			}
			defer b.close()
			st, err := b.state(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			return writeState(cmd.OutOrStdout(), st, time.Now())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func writeState(w io.Writer, st *daemon.State, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("integration", "%s (%s)", orDash(st.Integration), orDash(st.Type))
	if d := st.Daemon; d != nil {
		row("daemon", "running: pid %d, version %s, %s listener, up %s", d.PID, d.Version, d.Listener, now.Sub(d.StartedAt).Round(time.Second))
	} else if st.NoControlSocket {
		row("daemon", "running without its control socket (--no-control-socket)")
	} else {
		row("daemon", "not running")
	}
	if p := st.Port; p != nil {
		if p.Reachable {
			row("port", "reachable%s", lastOK(p.LastOK, now))
		} else {
			row("port", "UNREACHABLE since %s, %d failed attempts: %s", when(p.FailingSince, now), p.FailedAttempts, p.LastError)
		}
	}
	if p := st.Poll; p != nil {
		switch {
		case p.LastPoll == nil:
			row("last poll", "none yet")
		case p.LastError != "":
			row("last poll", "%s FAILED (%d in a row, failing since %s): %s", when(p.LastPoll, now), p.Failures, when(p.FailingSince, now), p.LastError)
		case st.Port != nil && !st.Port.Reachable && st.Port.FailingSince != nil && st.Port.FailingSince.After(*p.LastPoll):
			// The poll after it is in the Port client's retries, which
			// last minutes before its error is recorded.
			row("last poll", "%s, ok; Port unreachable since %s: the next poll retries until it answers", when(p.LastPoll, now), when(st.Port.FailingSince, now))
		default:
			row("last poll", "%s, ok", when(p.LastPoll, now))
		}
	}
	row("resync policy", "%s", orDash(st.ResyncPolicy))
	row("config hash", "%s", orDash(st.ConfigHash))
	if j := st.LastSuccess; j != nil {
		row("last success", "job %d, %s, %d upserted, %d unchanged, %d failed%s%s", j.ID, when(j.FinishedAt, now), j.Totals.Upserted, j.Totals.Unchanged, j.Totals.Failed, droppedOf(j), mappingOf(j))
	} else {
		row("last success", "none")
	}
	if j := st.LastJob; j != nil && (st.LastSuccess == nil || j.ID != st.LastSuccess.ID) {
		row("last job", "job %d %s%s, %s%s", j.ID, j.State, dryRunOf(j), when(j.FinishedAt, now), errorOf(j))
	}
	if j := st.Running; j != nil {
		row("running", "job %d (%s), started %s; %s", j.ID, j.Trigger, when(j.StartedAt, now), progress(j))
	} else {
		row("running", "none")
	}
	if j := st.Queued; j != nil {
		row("queued", "job %d (%s): %s", j.ID, j.Trigger, strings.Join(j.Reasons, "; "))
	} else {
		row("queued", "none")
	}
	switch s := st.Schedule; {
	case s == nil:
		row("next resync", "not scheduled")
	case s.NextRun == nil:
		row("next resync", "%s", s.Spec)
	default:
		row("next resync", "%s (%s)", when(s.NextRun, now), s.Spec)
	}
	if n := st.Superseded.Superseded; n > 0 {
		row("superseded", "%d in a row since the last completed job", n)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, warning := range st.Warnings {
		fmt.Fprintf(w, "\nwarning: %s\n", warning)
	}
	return nil
}

func lastOK(t *time.Time, now time.Time) string {
	if t == nil {
		return ""
	}
	return ", last answer " + when(t, now)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// when prints a time with how long ago or ahead it is.
func when(t *time.Time, now time.Time) string {
	if t == nil {
		return "-"
	}
	d := now.Sub(*t).Round(time.Second)
	rel := d.String() + " ago"
	if d < 0 {
		rel = "in " + (-d).String()
	}
	return fmt.Sprintf("%s (%s)", t.Local().Format(time.DateTime), rel)
}

func droppedOf(j *store.Job) string {
	if j.Totals.Dropped == 0 {
		return ""
	}
	return fmt.Sprintf(", %d dropped (no valid identifier or blueprint)", j.Totals.Dropped)
}

func mappingOf(j *store.Job) string {
	if j.MappingHash == "" {
		return ""
	}
	return ", mapping " + j.MappingHash
}

func errorOf(j *store.Job) string {
	if j.Error == "" {
		return ""
	}
	return ": " + j.Error
}

func dryRunOf(j *store.Job) string {
	if j.DryRun {
		return " (dry run: nothing written)"
	}
	return ""
}
