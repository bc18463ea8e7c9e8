package store_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"oceand/store"
)

// mustOpen opens a store in a temp dir and checks its consistency when the
// test ends.
func mustOpen(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Check(); err != nil {
			t.Errorf("store check: %v", err)
		}
		st.Close()
	})
	return st
}

func TestJobSurvivesReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "oceand.db")
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	end := start.Add(3 * time.Second)
	j := &store.Job{State: store.JobQueued, Trigger: "cli", Reasons: []string{"operator asked"}, CreatedAt: start}
	if err := st.CreateJob(j); err != nil {
		t.Fatal(err)
	}
	j.State = store.JobSucceeded
	j.StartedAt, j.FinishedAt = &start, &end
	j.Kinds = []store.KindProgress{{Kind: "fake-person", Index: 1, State: store.KindCompleted, Counts: store.Counts{Fetched: 10, Mapped: 10, Upserted: 7, Unchanged: 3}}}
	j.Totals = j.Kinds[0].Counts
	if err := st.PutJob(j); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = mustOpen(t, path)
	got, err := st.GetJob(j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.JobSucceeded || got.Trigger != "cli" || got.Reasons[0] != "operator asked" {
		t.Errorf("job after reopen = %+v", got)
	}
	if got.Kinds[0].Upserted != 7 || got.Kinds[0].Unchanged != 3 || got.Totals.Fetched != 10 {
		t.Errorf("kind progress after reopen = %+v, totals %+v", got.Kinds[0], got.Totals)
	}
	if !got.FinishedAt.Equal(end) || got.Duration(time.Time{}) != 3*time.Second {
		t.Errorf("times after reopen: finished %v duration %v", got.FinishedAt, got.Duration(time.Time{}))
	}
}

func TestReadOnlyOpenDoesNotWaitForWriter(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "oceand.db")
	mustOpen(t, path)
	_, err := store.Open(path, store.Options{ReadOnly: true, Timeout: 50 * time.Millisecond})
	if err == nil {
		t.Fatal("read-only open succeeded while a writer holds the file")
	}
}

func TestEntityIndex(t *testing.T) {
	t.Parallel()
	st := mustOpen(t, filepath.Join(t.TempDir(), "oceand.db"))
	a := store.EntityKey{Blueprint: "svc", Identifier: "a"}
	b := store.EntityKey{Blueprint: "svc", Identifier: "b/with/slash"}
	var h store.EntityHash
	h[0] = 7
	if err := st.PutEntities([]store.IndexUpdate{{EntityKey: b, IndexEntry: store.IndexEntry{Hash: h, ChainID: 3}}}); err != nil {
		t.Fatal(err)
	}
	entries, found, err := st.LookupEntities([]store.EntityKey{a, b, {Blueprint: "other", Identifier: "b/with/slash"}})
	if err != nil {
		t.Fatal(err)
	}
	if found[0] || !found[1] || found[2] {
		t.Fatalf("found = %v, want [false true false]", found)
	}
	if entries[1].Hash != h || entries[1].ChainID != 3 {
		t.Errorf("entry = %+v", entries[1])
	}
	if err := st.DeleteEntities([]store.EntityKey{b}); err != nil {
		t.Fatal(err)
	}
	if _, found, err := st.LookupEntities([]store.EntityKey{b}); err != nil || found[0] {
		t.Errorf("entity still indexed after delete (%v)", err)
	}
}

func TestOpenCopyReadsADatabaseAWriterHolds(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "oceand.db")
	w := mustOpen(t, path)
	for i := range 50 {
		if err := w.SetValue("k", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	copies := func() []string {
		t.Helper()
		m, err := filepath.Glob(filepath.Join(os.TempDir(), "oceand-state-*.db"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := len(copies())
	c, err := store.OpenCopy(path)
	if err != nil {
		t.Fatalf("copy while the writer holds the file: %v", err)
	}
	got, err := c.GetValue("k")
	if err != nil || string(got) != "49" || !c.IsCopy() {
		t.Errorf("value in the copy = %q, %v (copy %v)", got, err, c.IsCopy())
	}
	if err := c.Check(); err != nil {
		t.Errorf("the copy is not consistent: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if left := copies(); len(left) != before {
		t.Errorf("copies before %d, after Close %v", before, left)
	}
	// The writer goes on unaffected.
	if err := w.SetValue("k", []byte("after")); err != nil {
		t.Fatal(err)
	}
}
