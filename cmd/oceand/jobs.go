package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"oceand/config"
	"oceand/daemon"
	"oceand/store"
)

func (a *app) jobsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "Inspect resync jobs",
		Long: `Inspect resync jobs. With a daemon running on the state directory the answers come
from it over its control socket (live progress included); otherwise from the state
database, opened read-only.`,
	}
	cmd.AddCommand(a.jobsListCommand(), a.jobsShowCommand())
	return groupCommand(cmd)
}

// jobStates are the states `--state` accepts.
var jobStates = []store.JobState{store.JobQueued, store.JobRunning, store.JobSucceeded, store.JobFailed,
	store.JobSuperseded, store.JobCancelled, store.JobInterrupted}

func (a *app) jobsListCommand() *cobra.Command {
	var asJSON bool
	var limit int
	var state string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List resync jobs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return usageError{fmt.Errorf("--limit must be 0 (all) or more, got %d", limit)}
			}
			if state != "" && !knownState(store.JobState(state)) {
				return usageError{fmt.Errorf("--state must be one of %v, got %q", jobStates, state)}
			}
			b, err := a.backend(cmd.Context())
			if err != nil {
				return err
			}
			defer b.close()
			list, err := b.jobs(cmd.Context(), store.ListOptions{Limit: limit, State: store.JobState(state), NoKinds: !asJSON})
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
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (the job records, with per-kind progress)")
	cmd.Flags().IntVar(&limit, "limit", 20, "show at most this many jobs (0: all)")
	cmd.Flags().StringVar(&state, "state", "", "only jobs in this state (queued, running, succeeded, failed, superseded, cancelled, interrupted)")
	return cmd
}

func knownState(s store.JobState) bool {
	for _, k := range jobStates {
		if k == s {
			return true
		}
	}
	return false
}

func (a *app) jobsShowCommand() *cobra.Command {
	var asJSON, follow bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one job with its per-kind progress",
		Long: `Show one job with its per-kind progress. --follow prints its progress as it changes
until the job ends (with --json: one JSON record per line).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("job id must be a number, got %q", args[0])}
			}
			b, err := a.backend(cmd.Context())
			if err != nil {
				return err
			}
			defer b.close()
			out := cmd.OutOrStdout()
			if follow {
				return a.followJob(cmd.Context(), b, id, asJSON, out)
			}
			j, err := b.job(cmd.Context(), id)
			if err != nil {
				return err
			}
			report, err := b.report(cmd.Context(), id)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(out, jobWithReport{Job: j, Report: report})
			}
			if err := writeJob(out, j, time.Now()); err != nil {
				return err
			}
			return writeJobReport(out, report)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&follow, "follow", false, "print live progress until the job ends")
	return cmd
}

// followJob prints job id as it changes until it ends. Without a daemon
// nothing changes: the job is printed once, and a job that has not ended
// is an error (no one runs it).
func (a *app) followJob(ctx context.Context, b *backend, id uint64, asJSON bool, out io.Writer) error {
	if b.client == nil {
		j, err := b.job(ctx, id)
		if err != nil {
			return err
		}
		if asJSON {
			err = writeJSONLine(out, j)
		} else {
			err = writeJob(out, j, time.Now())
		}
		if err != nil || j.State.Terminal() {
			return err
		}
		if b.store.IsCopy() {
			return fmt.Errorf("job %d is %s; following it needs the daemon's control socket (it runs with --no-control-socket)", id, j.State)
		}
		return fmt.Errorf("job %d is %s but no daemon is running on %s: it moves on when oceand starts", id, j.State, b.stateDir)
	}
	var lastLine string
	last, err := b.client.Follow(ctx, id, func(j *store.Job) error {
		if asJSON {
			return writeJSONLine(out, j)
		}
		if line := progressLine(j); line != lastLine && !j.State.Terminal() {
			lastLine = line
			_, err := fmt.Fprintln(out, followLine(time.Now(), line))
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if asJSON {
		return nil
	}
	fmt.Fprintln(out)
	return writeJob(out, last, time.Now())
}

// progressLine is one line of --follow output: the job state, the kinds
// done, the totals, then the kind in progress (or the reconciliation).
func progressLine(j *store.Job) string {
	done := 0
	var now []string
	for _, k := range j.Kinds {
		switch k.State {
		case store.KindCompleted, store.KindFailed:
			done++
		case store.KindRunning:
			now = append(now, fmt.Sprintf("%s-%d %d fetched, %d upserted", k.Kind, k.Index, k.Fetched, k.Upserted))
		}
	}
	if r := j.Reconcile; r.State == store.ReconcileRunning {
		now = append(now, fmt.Sprintf("reconciling: %d listed, %d stale, %d deleted", r.Listed, r.Stale, r.Deleted))
	}
	t := j.Totals
	line := fmt.Sprintf("job %d %s  kinds %d/%d  total %d fetched, %d upserted, %d unchanged, %d failed",
		j.ID, j.State, done, len(j.Kinds), t.Fetched, t.Upserted, t.Unchanged, t.Failed)
	if len(now) > 0 {
		line += "  now: " + strings.Join(now, "; ")
	}
	return line
}

// followLine is a --follow line with its time, cut to screenWidth: the
// totals come first, so a cut takes only detail.
func followLine(at time.Time, line string) string {
	s, _ := cutRunes(at.Format(time.TimeOnly)+"  "+line, screenWidth)
	return s
}

// progress says where a running job is: the kind in progress (or the
// reconciliation) and the totals.
func progress(j *store.Job) string {
	var b strings.Builder
	for _, k := range j.Kinds {
		if k.State == store.KindRunning {
			fmt.Fprintf(&b, "%s-%d: fetched %d upserted %d unchanged %d failed %d; ", k.Kind, k.Index, k.Fetched, k.Upserted, k.Unchanged, k.Failed)
		}
	}
	if r := j.Reconcile; r.State == store.ReconcileRunning {
		fmt.Fprintf(&b, "reconciling: listed %d stale %d deleted %d; ", r.Listed, r.Stale, r.Deleted)
	}
	t := j.Totals
	fmt.Fprintf(&b, "total: fetched %d upserted %d unchanged %d failed %d", t.Fetched, t.Upserted, t.Unchanged, t.Failed)
	return b.String()
}

// backend answers the CLI: the daemon over its control socket when one
// runs, else the state database opened read-only with a short lock
// timeout, so the CLI never hangs on a daemon's lock.
type backend struct {
	stateDir string
	settings *config.Settings
	client   *daemon.Client
	store    *store.Store
}

// errNeedsDaemon is for commands that only a running daemon can carry out.
var errNeedsDaemon = errors.New("no oceand daemon is running")

// backend connects to the daemon of the state directory, or opens its
// database when none answers.
func (a *app) backend(ctx context.Context) (*backend, error) {
	s, err := a.loadSettings()
	if err != nil {
		return nil, err
	}
	b := &backend{stateDir: s.StateDir, settings: s}
	c := daemon.NewClient(s.StateDir)
	if err := c.Ping(ctx); err == nil {
		b.client = c
		return b, nil
	} else if !errors.Is(err, daemon.ErrNoDaemon) {
		return nil, err
	}
	st, err := store.Open(daemon.StatePath(s.StateDir), store.Options{ReadOnly: true, Timeout: 500 * time.Millisecond})
	if errors.Is(err, store.ErrLocked) {
		// A daemon runs without its control socket: read a copy of its
		// database.
		st, err = store.OpenCopy(daemon.StatePath(s.StateDir))
		if err != nil {
			return nil, fmt.Errorf("a daemon holds %s and serves no control socket (--no-control-socket); reading a copy of its database failed: %w",
				daemon.StatePath(s.StateDir), err)
		}
		fmt.Fprintf(a.stderr, "note: the daemon on %s serves no control socket (--no-control-socket): this is read from a copy of its database; live progress and triggers need the socket\n", s.StateDir)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no oceand state in %s: no daemon has run with this stateDir (see --state-dir)", s.StateDir)
	case err != nil:
		return nil, err
	}
	b.store = st
	return b, nil
}

// daemonClient returns a client of the running daemon, or an error saying
// none runs.
func (a *app) daemonClient(ctx context.Context) (*daemon.Client, error) {
	s, err := a.loadSettings()
	if err != nil {
		return nil, err
	}
	c := daemon.NewClient(s.StateDir)
	if err := c.Ping(ctx); errors.Is(err, daemon.ErrNoDaemon) {
		if daemonHoldsState(s.StateDir) {
			return nil, fmt.Errorf("the daemon on %s serves no control socket (started with --no-control-socket): resync and cancel need the socket; restart it without --no-control-socket, or ask for a resync in Port", s.StateDir)
		}
		return nil, fmt.Errorf("%w on %s: start one with `oceand run` (a one-off resync: eventListener.type ONCE)", errNeedsDaemon, s.StateDir)
	} else if err != nil {
		return nil, err
	}
	return c, nil
}

// daemonHoldsState reports whether a daemon holds the state database's
// lock (it runs, with or without its control socket).
func daemonHoldsState(stateDir string) bool {
	st, err := store.Open(daemon.StatePath(stateDir), store.Options{ReadOnly: true, Timeout: 200 * time.Millisecond})
	if err == nil {
		if cerr := st.Close(); cerr != nil {
			return false
		}
	}
	return errors.Is(err, store.ErrLocked)
}

func (b *backend) close() {
	if b.client != nil {
		b.client.Close()
	}
	if b.store != nil {
		b.store.Close()
	}
}

func (b *backend) jobs(ctx context.Context, opts store.ListOptions) ([]*store.Job, error) {
	if b.client != nil {
		return b.client.Jobs(ctx, opts)
	}
	return b.store.ListJobs(opts)
}

func (b *backend) job(ctx context.Context, id uint64) (*store.Job, error) {
	if b.client != nil {
		return b.client.Job(ctx, id)
	}
	return b.store.GetJob(id)
}

// report is what a job did per blueprint (or, for a dry run, would have
// done); nil when the job wrote none.
func (b *backend) report(ctx context.Context, id uint64) (*store.JobReport, error) {
	if b.client != nil {
		return b.client.Report(ctx, id)
	}
	return b.store.GetReport(id)
}

func (b *backend) state(ctx context.Context) (*daemon.State, error) {
	if b.client != nil {
		return b.client.State(ctx)
	}
	if b.store.IsCopy() {
		return daemon.ReadStateOfSilentDaemon(b.store, b.settings)
	}
	return daemon.ReadState(b.store, b.settings)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// writeJobTable prints jobs in screenWidth columns: the note, which holds
// a failed job's error, is cut to fit (`jobs show ID` has it whole).
func writeJobTable(w io.Writer, list []*store.Job, now time.Time) error {
	rows := [][]string{{"ID", "STATE", "TRIGGER", "CREATED", "DURATION", "UPSERTED", "UNCHANGED", "FAILED", "NOTE"}}
	for _, j := range list {
		rows = append(rows, []string{strconv.FormatUint(j.ID, 10), string(j.State), string(j.Trigger),
			j.CreatedAt.Local().Format(time.DateTime), duration(j, now), strconv.FormatInt(j.Totals.Upserted, 10),
			strconv.FormatInt(j.Totals.Unchanged, 10), strconv.FormatInt(j.Totals.Failed, 10), jobNote(j)})
	}
	_, err := writeTable(w, rows, screenWidth, shrink{col: len(rows[0]) - 1, min: 24})
	return err
}

// jobNote says what the table's columns do not: entities a succeeded job
// could not write, dry run, resume, supersession, and why a job failed,
// was cancelled or interrupted.
func jobNote(j *store.Job) string {
	notes := jobNotes(j)
	if j.Error != "" && j.State != store.JobSucceeded && j.SupersededBy == 0 {
		first, _, _ := strings.Cut(j.Error, "\n")
		notes = append(notes, first)
	}
	return strings.Join(notes, ", ")
}

func jobNotes(j *store.Job) []string {
	var notes []string
	if j.State == store.JobSucceeded {
		if n := entityIssues(j.Totals); n != "" {
			notes = append(notes, "with "+n)
		}
	}
	if j.DryRun {
		notes = append(notes, "dry run")
	}
	if j.ResumeOf != 0 {
		notes = append(notes, fmt.Sprintf("resumes %d", j.ResumeOf))
	}
	if j.SupersededBy != 0 {
		notes = append(notes, fmt.Sprintf("superseded by %d", j.SupersededBy))
	}
	return notes
}

// entityIssues names the entities a job could not write ("" when none): a
// job that succeeded with them must say so wherever it is shown.
func entityIssues(t store.Counts) string {
	var parts []string
	if t.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", t.Failed))
	}
	if t.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d dropped", t.Dropped))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, " and ") + " entities"
}

func duration(j *store.Job, now time.Time) string {
	if j.StartedAt == nil {
		return "-"
	}
	return j.Duration(now).Round(time.Millisecond).String()
}

// spanText is a kind's or reconciliation's duration for people; "-"
// before it started (and for records written before oceand kept it).
func spanText(started time.Time, d time.Duration) string {
	if started.IsZero() {
		return "-"
	}
	return d.Round(time.Millisecond).String()
}

// writeJob prints one job for people, as `oceand jobs show` does.
func writeJob(w io.Writer, j *store.Job, now time.Time) error {
	title := string(j.State)
	if j.DryRun {
		title += " (dry run)"
	}
	fmt.Fprintf(w, "Job %d: %s\n", j.ID, title)
	fmt.Fprintf(w, "  trigger:   %s", j.Trigger)
	if len(j.Reasons) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(j.Reasons, "; "))
	}
	fmt.Fprintln(w)
	if j.ResumeOf != 0 {
		fmt.Fprintf(w, "  resumes:   job %d (chain %d", j.ResumeOf, j.ChainID)
		if j.ChainStartedAt != nil {
			fmt.Fprintf(w, ", started %s", j.ChainStartedAt.Local().Format(time.DateTime))
		}
		fmt.Fprintln(w, ")")
	}
	if j.SupersededBy != 0 {
		fmt.Fprintf(w, "  replaced:  by job %d\n", j.SupersededBy)
	}
	fmt.Fprintf(w, "  created:   %s\n", j.CreatedAt.Local().Format(time.DateTime))
	if j.StartedAt != nil {
		fmt.Fprintf(w, "  started:   %s\n", j.StartedAt.Local().Format(time.DateTime))
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
	fmt.Fprintln(tw, "KIND\tSTATE\tDURATION\tFETCHED\tMAPPED\tFILTERED\tDROPPED\tUPSERTED\tUNCHANGED\tFAILED")
	for _, k := range j.Kinds {
		fmt.Fprintf(tw, "%s-%d\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", k.Kind, k.Index, k.State, spanText(k.StartedAt, k.Duration(now)),
			k.Fetched, k.Mapped, k.Filtered, k.Dropped, k.Upserted, k.Unchanged, k.Failed)
	}
	t := j.Totals
	fmt.Fprintf(tw, "total\t\t\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", t.Fetched, t.Mapped, t.Filtered, t.Dropped, t.Upserted, t.Unchanged, t.Failed)
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
			fmt.Fprintf(w, " (listed %d, stale %d, deleted %d", r.Listed, r.Stale, r.Deleted)
			if !r.StartedAt.IsZero() {
				fmt.Fprintf(w, ", %s", r.Duration(now).Round(time.Millisecond))
			}
			fmt.Fprint(w, ")")
		}
		if r.SkippedReason != "" {
			fmt.Fprintf(w, ": %s", r.SkippedReason)
		}
		fmt.Fprintln(w)
	}
	return nil
}
