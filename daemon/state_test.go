package daemon_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"oceand/daemon"
	"oceand/store"
)

func TestStateReportsSupersessionAndAKilledJob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, daemon.DBFile), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	end := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, s := range []store.JobState{store.JobSucceeded, store.JobSuperseded, store.JobSuperseded, store.JobSuperseded, store.JobRunning, store.JobQueued} {
		if err := st.CreateJob(&store.Job{State: s, Trigger: "schedule", FinishedAt: &end}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetValue(store.KeyConfigHash, []byte("abc123")); err != nil {
		t.Fatal(err)
	}
	got, err := daemon.ReadState(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastSuccess == nil || got.LastSuccess.ID != 1 || got.Running == nil || got.Running.ID != 5 || got.Queued == nil || got.Queued.ID != 6 ||
		got.ConfigHash != "abc123" || got.Superseded.Superseded != 3 {
		t.Fatalf("state = %+v", got)
	}
	all := strings.Join(got.Warnings, "\n")
	if !strings.Contains(all, "3 resyncs in a row were superseded") || !strings.Contains(all, "job 5 is recorded running but no daemon is running") {
		t.Errorf("warnings = %q", got.Warnings)
	}
}
