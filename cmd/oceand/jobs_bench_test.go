package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"testing"
	"time"

	"oceand/daemon"
	"oceand/store"
)

// historyStates cycles through the terminal states, mostly successes as
// in a healthy history.
var historyStates = []store.JobState{store.JobSucceeded, store.JobSucceeded, store.JobSucceeded, store.JobSucceeded,
	store.JobSucceeded, store.JobSucceeded, store.JobSuperseded, store.JobFailed, store.JobInterrupted, store.JobCancelled}

// writeHistory fills dir's state database with n finished jobs of five
// kinds each, as a daemon that ran them would have left them.
func writeHistory(b *testing.B, dir string, n int) {
	b.Helper()
	st, err := store.Open(daemon.StatePath(dir), store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	kinds := []string{"fake-department", "fake-person", "fake-office", "fake-team", "fake-project"}
	err = st.Update(func(tx *store.Tx) error {
		for i := range n {
			created := t0.Add(time.Duration(i) * time.Hour)
			started, finished := created.Add(time.Second), created.Add(3*time.Minute)
			j := &store.Job{State: historyStates[i%len(historyStates)], Trigger: "schedule", Reasons: []string{"every 60m, due " + created.Format(time.RFC3339)},
				CreatedAt: created, StartedAt: &started, FinishedAt: &finished, ChainStartedAt: &started, MappingHash: "1ad0d971754f1010",
				Reconcile: store.Reconcile{State: store.ReconcileCompleted, Listed: 100000, Stale: 12, Deleted: 12}}
			for k, kind := range kinds {
				c := store.Counts{Fetched: 20000, Mapped: 20000, Upserted: 150, Unchanged: 19850}
				j.Kinds = append(j.Kinds, store.KindProgress{Kind: kind, Index: k, State: store.KindCompleted, Counts: c})
				j.Totals.Add(c)
			}
			if err := tx.CreateJob(j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkJobsList measures `oceand jobs list` over a history of 100 and
// of 10,000 jobs: from the database (no daemon), over the control socket
// (daemon running), and as a process (what a user waits for).
func BenchmarkJobsList(b *testing.B) {
	bin := buildBinary(b)
	for _, n := range []int{100, 10000} {
		dir := b.TempDir()
		writeHistory(b, dir, n)
		cases := []struct {
			name string
			args []string
		}{
			{"default", []string{"jobs", "list"}},
			{"state=failed", []string{"jobs", "list", "--state", "failed"}},
			{"json", []string{"jobs", "list", "--json"}},
			{"all", []string{"jobs", "list", "--limit", "0"}},
		}
		for _, c := range cases {
			benchCLI(b, fmt.Sprintf("history=%d/db/%s", n, c.name), append(c.args, "--state-dir", dir))
		}
		b.Run(fmt.Sprintf("history=%d/process/default", n), func(b *testing.B) {
			for b.Loop() {
				if out, err := exec.Command(bin, "jobs", "list", "--state-dir", dir).CombinedOutput(); err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
			}
		})
		socketDir := b.TempDir()
		writeHistory(b, socketDir, n)
		stop := startDaemon(b, socketDir, map[string]string{"event_listener.resync_on_start": "false"})
		for _, c := range cases {
			benchCLI(b, fmt.Sprintf("history=%d/socket/%s", n, c.name), append(c.args, "--state-dir", socketDir))
		}
		if err := stop(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchCLI runs the command line args in-process as a sub-benchmark.
func benchCLI(b *testing.B, name string, args []string) {
	b.Run(name, func(b *testing.B) {
		for b.Loop() {
			if code := run(context.Background(), args, io.Discard, io.Discard, nil); code != exitOK {
				b.Fatalf("exit %d", code)
			}
		}
	})
}
