package store_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"oceand/store"
)

// copyFixture copies a testdata database into a temp dir.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name, "oceand.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "oceand.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkV1Jobs asserts the jobs of testdata/v1 as genv1 wrote them.
func checkV1Jobs(t *testing.T, st *store.Store) {
	t.Helper()
	list, err := st.ListJobs(store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 4 {
		t.Fatalf("%d jobs, want 4", len(list))
	}
	states := []store.JobState{store.JobRunning, store.JobInterrupted, store.JobFailed, store.JobSucceeded}
	for i, j := range list {
		if j.ID != uint64(4-i) || j.State != states[i] {
			t.Errorf("job %d = id %d %s, want id %d %s", i, j.ID, j.State, 4-i, states[i])
		}
		if len(j.Kinds) != 2 || j.Kinds[1].Kind != "fake-person" || j.Kinds[1].Samples[0] != "item 7: bad" {
			t.Errorf("job %d kinds = %+v", j.ID, j.Kinds)
		}
	}
	failed := list[2]
	if failed.Kinds[1].State != store.KindFailed || failed.Kinds[1].Error != "fetch fake-person: boom" || failed.Kinds[1].Fetched != 12 ||
		failed.Totals.Fetched != 13 || failed.Error != "resync incomplete: kinds failed: fake-person-1" {
		t.Errorf("failed job = %+v", failed)
	}
	if list[3].Reconcile.SkippedReason == "" || !list[3].FinishedAt.Equal(time.Date(2026, 11, 20, 9, 0, 5, 0, time.UTC)) {
		t.Errorf("succeeded job = %+v", list[3])
	}
	byState, err := st.ListJobs(store.ListOptions{State: store.JobFailed})
	if err != nil || len(byState) != 1 || byState[0].ID != 2 {
		t.Errorf("failed jobs = %v, %v", byState, err)
	}
}

func TestMigrationFromSchema1(t *testing.T) {
	t.Parallel()
	path := copyFixture(t, "v1")

	// A read-only open (the CLI with no daemon) reads schema 1 as it is.
	ro, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if ro.Schema() != 1 {
		t.Errorf("read-only schema = %d, want 1", ro.Schema())
	}
	checkV1Jobs(t, ro)
	ro.Close()

	st := mustOpen(t, path)
	if st.Schema() != store.SchemaVersion {
		t.Fatalf("schema after open = %d, want %d", st.Schema(), store.SchemaVersion)
	}
	checkV1Jobs(t, st)
	// The entity index and the integration values are kept.
	entries, found, err := st.LookupEntities([]store.EntityKey{{Blueprint: "fakePerson", Identifier: "p-1"}, {Blueprint: "fakeDepartment", Identifier: "hr"}})
	if err != nil || !found[0] || !found[1] || entries[0].ChainID != 4 || entries[0].Hash[7] != 8 {
		t.Errorf("entity index after migration: %+v %v %v", entries, found, err)
	}
	if v, _ := st.GetValue("configHash"); string(v) != "0123abcd" {
		t.Errorf("configHash = %q", v)
	}
	// New jobs continue the id sequence and use the new layout.
	j := &store.Job{State: store.JobQueued, Trigger: "cli"}
	if err := st.CreateJob(j); err != nil || j.ID != 5 {
		t.Fatalf("new job id %d, %v; want 5", j.ID, err)
	}
	if last, _ := st.LastJob(store.JobRunning); last == nil || last.ID != 4 {
		t.Errorf("running job via the state index = %+v", last)
	}
}

func TestMigrationIsIdempotentAcrossReopens(t *testing.T) {
	t.Parallel()
	path := copyFixture(t, "v1")
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = mustOpen(t, path)
	checkV1Jobs(t, st)
}

func TestNewerSchemaIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "oceand.db")
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	bumpSchema(t, path, store.SchemaVersion+1)
	if _, err := store.Open(path, store.Options{}); err == nil {
		t.Fatal("opened a database of a newer schema")
	}
	if _, err := store.Open(path, store.Options{ReadOnly: true}); err == nil {
		t.Fatal("opened a database of a newer schema read-only")
	}
}

func TestJobStateIndexFollowsTransitions(t *testing.T) {
	t.Parallel()
	st := mustOpen(t, filepath.Join(t.TempDir(), "oceand.db"))
	var ids []uint64
	for range 5 {
		j := &store.Job{State: store.JobQueued, Trigger: "cli"}
		if err := st.CreateJob(j); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	set := func(id uint64, s store.JobState) {
		j, err := st.GetJob(id)
		if err != nil {
			t.Fatal(err)
		}
		j.State = s
		if err := st.PutJob(j); err != nil {
			t.Fatal(err)
		}
	}
	set(ids[0], store.JobRunning)
	set(ids[0], store.JobSucceeded)
	set(ids[1], store.JobFailed)
	set(ids[2], store.JobSucceeded)
	count := func(s store.JobState) []uint64 {
		list, err := st.ListJobs(store.ListOptions{State: s, NoKinds: true})
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, j := range list {
			out = append(out, j.ID)
		}
		return out
	}
	if got := count(store.JobSucceeded); len(got) != 2 || got[0] != 3 || got[1] != 1 {
		t.Errorf("succeeded = %v, want [3 1]", got)
	}
	if got := count(store.JobQueued); len(got) != 2 || got[0] != 5 {
		t.Errorf("queued = %v, want [5 4]", got)
	}
	if got := count(store.JobRunning); len(got) != 0 {
		t.Errorf("running = %v, want none", got)
	}
	if last, _ := st.LastJob(store.JobSucceeded); last.ID != 3 {
		t.Errorf("last success = %d", last.ID)
	}
}

func TestKindsAreStoredApartAndReplaced(t *testing.T) {
	t.Parallel()
	st := mustOpen(t, filepath.Join(t.TempDir(), "oceand.db"))
	j := &store.Job{State: store.JobRunning, Kinds: []store.KindProgress{{Kind: "a"}, {Kind: "b", Index: 1}, {Kind: "c", Index: 2}}}
	if err := st.CreateJob(j); err != nil {
		t.Fatal(err)
	}
	j.Kinds[1].Fetched = 7
	if err := st.Update(func(tx *store.Tx) error { return tx.PutProgress(j, []int{1}) }); err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetJob(j.ID)
	if len(got.Kinds) != 3 || got.Kinds[1].Fetched != 7 {
		t.Fatalf("kinds after progress write = %+v", got.Kinds)
	}
	// A job whose mapping shrank keeps no stale kinds.
	j.Kinds = j.Kinds[:1]
	if err := st.PutJob(j); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.GetJob(j.ID); len(got.Kinds) != 1 {
		t.Errorf("kinds after shrinking = %+v", got.Kinds)
	}
	if list, _ := st.ListJobs(store.ListOptions{NoKinds: true}); list[0].Kinds != nil {
		t.Errorf("NoKinds listing has kinds %+v", list[0].Kinds)
	}
}

func TestPruneKeepsActiveJobsAndTheirResumeSource(t *testing.T) {
	t.Parallel()
	st := mustOpen(t, filepath.Join(t.TempDir(), "oceand.db"))
	mk := func(j *store.Job) uint64 {
		j.Kinds = []store.KindProgress{{Kind: "k"}}
		if err := st.CreateJob(j); err != nil {
			t.Fatal(err)
		}
		return j.ID
	}
	interrupted := mk(&store.Job{State: store.JobInterrupted})    // 1: source of the queued resume
	mk(&store.Job{State: store.JobSucceeded})                     // 2
	mk(&store.Job{State: store.JobSucceeded})                     // 3
	mk(&store.Job{State: store.JobQueued, ResumeOf: interrupted}) // 4
	mk(&store.Job{State: store.JobSucceeded})                     // 5
	n, err := st.PruneJobs(2)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := st.ListJobs(store.ListOptions{})
	var ids []uint64
	for _, j := range list {
		ids = append(ids, j.ID)
	}
	if n != 2 || len(ids) != 3 || ids[0] != 5 || ids[1] != 4 || ids[2] != 1 {
		t.Errorf("pruned %d, kept %v; want 2 pruned, [5 4 1] kept", n, ids)
	}
	// Pruned jobs leave nothing behind in the state index.
	if got, _ := st.ListJobs(store.ListOptions{State: store.JobSucceeded}); len(got) != 1 {
		t.Errorf("succeeded after prune = %d jobs", len(got))
	}
}

func TestSupersededStreak(t *testing.T) {
	t.Parallel()
	st := mustOpen(t, filepath.Join(t.TempDir(), "oceand.db"))
	end := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, s := range []store.JobState{store.JobSuperseded, store.JobSucceeded, store.JobSuperseded, store.JobCancelled, store.JobSuperseded} {
		if err := st.CreateJob(&store.Job{State: s, FinishedAt: &end}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.SupersededStreak()
	if err != nil {
		t.Fatal(err)
	}
	if got.Superseded != 2 || got.LastCompleted != 2 || !got.Since.Equal(end) {
		t.Errorf("streak = %+v, want 2 since job 2", got)
	}
}

func bumpSchema(t *testing.T, path string, v uint64) {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	if err := st.RawPut("meta", "schema", b); err != nil {
		t.Fatal(err)
	}
}
