package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"oceand/daemon"
	"oceand/store"
)

func (a *app) jobsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "Inspect resync jobs",
	}
	cmd.AddCommand(a.jobsListCommand(), a.jobsShowCommand())
	return cmd
}

func (a *app) jobsListCommand() *cobra.Command {
	var asJSON bool
	var limit int
	var state string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List resync jobs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.openStateReadOnly()
			if err != nil {
				return err
			}
			defer st.Close()
			list, err := st.ListJobs(store.ListOptions{Limit: limit, State: store.JobState(state)})
			if err != nil {
				return err
			}
			if asJSON {
				if list == nil {
					list = []*store.Job{}
				}
				return writeJSON(cmd.OutOrStdout(), list)
			}
			return writeJobTable(cmd.OutOrStdout(), list, time.Now())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVar(&limit, "limit", 20, "show at most this many jobs (0: all)")
	cmd.Flags().StringVar(&state, "state", "", "only jobs in this state")
	return cmd
}

func (a *app) jobsShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one job with its per-kind progress",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("job id must be a number, got %q", args[0])}
			}
			st, err := a.openStateReadOnly()
			if err != nil {
				return err
			}
			defer st.Close()
			j, err := st.GetJob(id)
			if err != nil {
				return err
			}
			report, err := st.GetReport(id)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), jobWithReport{Job: j, Report: report})
			}
			if err := writeJob(cmd.OutOrStdout(), j, time.Now()); err != nil {
				return err
			}
			return writeJobReport(cmd.OutOrStdout(), report)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// openStateReadOnly opens the state database without waiting on a running
// daemon's lock for more than a moment.
func (a *app) openStateReadOnly() (*store.Store, error) {
	s, err := a.loadSettings()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(daemon.StatePath(s.StateDir), store.Options{ReadOnly: true, Timeout: 500 * time.Millisecond})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%w: a daemon is running on %s", err, s.StateDir)
	}
	return st, err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeJobTable(w io.Writer, list []*store.Job, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tTRIGGER\tCREATED\tDURATION\tUPSERTED\tUNCHANGED\tFAILED")
	for _, j := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", j.ID, j.State, j.Trigger,
			j.CreatedAt.Local().Format(time.DateTime), duration(j, now), j.Totals.Upserted, j.Totals.Unchanged, j.Totals.Failed)
	}
	return tw.Flush()
}

func duration(j *store.Job, now time.Time) string {
	if j.StartedAt == nil {
		return "-"
	}
	return j.Duration(now).Round(time.Millisecond).String()
}

// writeJob prints one job for people, as `oceand jobs show` does.
func writeJob(w io.Writer, j *store.Job, now time.Time) error {
	fmt.Fprintf(w, "Job %d: %s\n", j.ID, j.State)
	fmt.Fprintf(w, "  trigger:   %s", j.Trigger)
	if len(j.Reasons) > 0 {
		fmt.Fprintf(w, " (%s)", joinReasons(j.Reasons))
	}
	fmt.Fprintln(w)
	if j.ResumeOf != 0 {
		fmt.Fprintf(w, "  resumes:   job %d (chain %d)\n", j.ResumeOf, j.ChainID)
	}
	fmt.Fprintf(w, "  created:   %s\n", j.CreatedAt.Local().Format(time.DateTime))
	if j.StartedAt != nil {
		fmt.Fprintf(w, "  duration:  %s\n", duration(j, now))
	}
	if j.MappingHash != "" {
		fmt.Fprintf(w, "  mapping:   %s\n", j.MappingHash)
	}
	if j.Error != "" {
		fmt.Fprintf(w, "  error:     %s\n", j.Error)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSTATE\tFETCHED\tMAPPED\tFILTERED\tUPSERTED\tUNCHANGED\tFAILED")
	for _, k := range j.Kinds {
		fmt.Fprintf(tw, "%s-%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", k.Kind, k.Index, k.State, k.Fetched, k.Mapped, k.Filtered, k.Upserted, k.Unchanged, k.Failed)
	}
	t := j.Totals
	fmt.Fprintf(tw, "total\t\t%d\t%d\t%d\t%d\t%d\t%d\n", t.Fetched, t.Mapped, t.Filtered, t.Upserted, t.Unchanged, t.Failed)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, k := range j.Kinds {
		if k.Error != "" {
			fmt.Fprintf(w, "\n%s-%d error: %s\n", k.Kind, k.Index, k.Error)
		}
		for _, s := range k.Samples {
			fmt.Fprintf(w, "  %s-%d: %s\n", k.Kind, k.Index, s)
		}
	}
	r := j.Reconcile
	if r.State != "" {
		fmt.Fprintf(w, "\nreconcile: %s", r.State)
		if r.State != store.ReconcileSkipped && r.State != store.ReconcilePending {
			fmt.Fprintf(w, " (listed %d, stale %d, deleted %d)", r.Listed, r.Stale, r.Deleted)
		}
		if r.SkippedReason != "" {
			fmt.Fprintf(w, ": %s", r.SkippedReason)
		}
		fmt.Fprintln(w)
	}
	return nil
}

func joinReasons(rs []string) string {
	out := ""
	for i, r := range rs {
		if i > 0 {
			out += "; "
		}
		out += r
	}
	return out
}
