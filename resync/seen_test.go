package resync

import (
	"fmt"
	"path/filepath"
	"testing"

	"oceand/store"
)

// The seen set keeps every mark of every entity through growth and through
// incremental saves: a resume must know all the chain produced.
func TestSeenSetSavesWhatChanged(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "oceand.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sp := st.Spool("chain-1")
	key := func(bp string, i int) store.EntityKey {
		return store.EntityKey{Blueprint: bp, Identifier: fmt.Sprintf("e-%d", i)}
	}

	s := newSeenSet(0)
	var batch seenMarks
	for i := range 10000 {
		batch.add(key("person", i), seenExpected|seenIndexed)
	}
	s.markAll(&batch)
	if err := s.save(sp); err != nil {
		t.Fatal(err)
	}
	// A second kind: new entities, and new marks on old ones.
	s.mark(key("team", 1), seenWritten)
	s.mark(key("person", 7), seenWritten)
	if err := s.save(sp); err != nil {
		t.Fatal(err)
	}
	if n, err := sp.Count(setSeen); err != nil || n != 1+3+1 {
		t.Fatalf("saved keys = %d, %v; want the blueprints, 3 chunks of the first save and 1 of the second", n, err)
	}

	loaded, ok, err := loadSeenSet(sp)
	if err != nil || !ok {
		t.Fatalf("load: %v, %v", ok, err)
	}
	for _, set := range []*seenSet{s, loaded} {
		for i := range 10000 {
			want := seenMark | seenExpected | seenIndexed
			if i == 7 {
				want |= seenWritten
			}
			if got := set.get(key("person", i)); got != want {
				t.Fatalf("person %d: marks %b, want %b", i, got, want)
			}
		}
		if got := set.get(key("team", 1)); got != seenMark|seenWritten {
			t.Fatalf("team 1: marks %b", got)
		}
		if got := set.get(key("team", 2)); got != 0 {
			t.Fatalf("team 2 was never produced: marks %b", got)
		}
		counts := map[string]*blueprintCounts{}
		set.count(func(bp string) *blueprintCounts {
			if counts[bp] == nil {
				counts[bp] = &blueprintCounts{}
			}
			return counts[bp]
		})
		if c := counts["person"]; c == nil || c.seen != 10000 || c.expected != 9999 || c.indexed != 10000 {
			t.Fatalf("person counts %+v", c)
		}
		if c := counts["team"]; c == nil || c.seen != 1 || c.expected != 0 {
			t.Fatalf("team counts %+v", c)
		}
	}
	// Nothing changed: a save adds no chunk.
	if err := loaded.save(sp); err != nil {
		t.Fatal(err)
	}
	if n, _ := sp.Count(setSeen); n != 5 {
		t.Fatalf("saved keys = %d after a save with nothing new, want 5", n)
	}
}
