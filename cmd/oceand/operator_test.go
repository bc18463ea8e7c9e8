package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"oceand/daemon"
	"oceand/store"
)

// A dry run writes nothing to Port: `oceand state` does not call it the
// last success, and says what the last job was.
func TestStateDoesNotCallADryRunASuccess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stop := startDaemon(t, dir, nil)
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, nil, append(args, "--state-dir", dir)...)
	}
	if code, out, errOut := cli("jobs", "show", "1", "--follow"); code != exitOK || !strings.Contains(out, "Job 1: succeeded") {
		t.Fatalf("jobs show 1 --follow: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := cli("resync", "--dry-run", "--wait"); code != exitOK || !strings.Contains(out, "Job 2: succeeded (dry run)") {
		t.Fatalf("resync --dry-run --wait: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, daemonRuns := range []bool{true, false} {
		if !daemonRuns {
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		}
		code, out, _ := cli("state")
		if code != exitOK || !lineWith(out, "last success", "job 1,") || !lineWith(out, "last job", "job 2 succeeded (dry run: nothing written)") {
			t.Errorf("state (daemon running: %v): exit %d\n%s", daemonRuns, code, out)
		}
		code, out, _ = cli("state", "--json")
		var st daemon.State
		if code != exitOK || json.Unmarshal([]byte(out), &st) != nil || st.LastSuccess == nil || st.LastSuccess.ID != 1 {
			t.Errorf("state --json (daemon running: %v): exit %d\n%s", daemonRuns, code, out)
		}
	}
	// The reconciliation line of a dry run is a whole sentence.
	code, out, _ := cli("jobs", "show", "2")
	if code != exitOK || !strings.Contains(out, "dry run: nothing deleted; 0 entities would have been deleted\n") {
		t.Errorf("jobs show 2: exit %d\n%s", code, out)
	}
}

// A failed job says why in `jobs list`, cut to fit the table in 120
// columns.
func TestJobsListShowsWhyAJobFailed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	startDaemon(t, dir, map[string]string{
		"integration.config": `{"entity_amount": 20, "single_department_run": true, "fail_kind": "fake-person", "fail_after_items": 5}`,
	})
	if code, out, errOut := runCLI(t, nil, "jobs", "show", "1", "--follow", "--state-dir", dir); !strings.Contains(out, "Job 1: failed") {
		t.Fatalf("jobs show 1 --follow: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := runCLI(t, nil, "jobs", "list", "--state-dir", dir)
	if code != exitOK || !lineWith(out, "1", "failed", "start", "resync incomplete: kinds failed") {
		t.Errorf("jobs list: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > 120 {
			t.Errorf("line of %d columns: %q", n, line)
		}
	}
}

// --follow lines fit 120 columns and always show the totals, however many
// kinds run and however large the counts.
func TestFollowLineFits120ColumnsWithTotals(t *testing.T) {
	t.Parallel()
	big := store.Counts{Fetched: 12_345_678, Mapped: 12_345_678, Upserted: 11_000_000, Unchanged: 1_345_678, Failed: 1234}
	j := &store.Job{ID: 123456, State: store.JobRunning, Totals: big, Kinds: []store.KindProgress{
		{Kind: "fake-department", Index: 0, State: store.KindCompleted},
		{Kind: "fake-person-with-a-long-kind-name", Index: 1, State: store.KindRunning, Counts: big},
		{Kind: "fake-team", Index: 2, State: store.KindRunning, Counts: big},
	}, Reconcile: store.Reconcile{State: store.ReconcileRunning, Listed: 5_000_000}}
	at := time.Date(2026, 1, 2, 15, 4, 5, 0, time.Local)
	line := followLine(at, progressLine(j))
	if n := utf8.RuneCountInString(line); n > 120 {
		t.Errorf("line of %d columns: %q", n, line)
	}
	want := "15:04:05  job 123456 running  kinds 1/3  total 12345678 fetched, 11000000 upserted, 1345678 unchanged, 1234 failed"
	if !strings.HasPrefix(line, want) {
		t.Errorf("line = %q\nwant it to start %q", line, want)
	}
	j.Totals, j.Kinds[1].Counts, j.Kinds[2].State, j.Reconcile.State = store.Counts{Fetched: 40}, store.Counts{Fetched: 40, Upserted: 30}, store.KindPending, store.ReconcilePending
	if got, want := progressLine(j), "job 123456 running  kinds 1/3  total 40 fetched, 0 upserted, 0 unchanged, 0 failed  now: fake-person-with-a-long-kind-name-1 40 fetched, 30 upserted"; got != want {
		t.Errorf("line = %q\nwant   %q", got, want)
	}
}
