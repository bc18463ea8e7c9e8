package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLostStateDirCostsOneFullUpsert backs the README's claim about a lost
// stateDir: the next resync sends every entity again (Port updates them in
// place by identifier, no duplicates), and deletion still works, because
// reconciliation lists the integration's entities in Port rather than
// trusting the local index. That resync rewrote everything still there, so
// by Ocean's deletion rate (stale / owned and not written this resync) the
// stale ones are all it lists: it holds them back, and the next resync,
// which rewrites nothing, deletes them. The job history is what is lost.
func TestLostStateDirCostsOneFullUpsert(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	demo := func(persons string) string {
		t.Helper()
		code, out, errOut := runCLI(t, nil, "demo", "--persons", persons, "--state-dir", dir)
		if code != exitOK {
			t.Fatalf("demo --persons %s: exit %d\n%s\n%s", persons, code, out, errOut)
		}
		return out
	}
	// The demo keeps the emulator's entities in the state directory, beside
	// the database: removing only the database loses oceand's state and
	// keeps "Port".
	loseState := func() {
		t.Helper()
		if err := os.Remove(filepath.Join(dir, "oceand.db")); err != nil {
			t.Fatal(err)
		}
	}
	demo("40")
	loseState()

	out := demo("40")
	// KIND STATE DURATION FETCHED MAPPED FILTERED DROPPED UPSERTED UNCHANGED FAILED
	for _, want := range []string{
		`Job 1: succeeded`,
		`fake-person-1 +completed +\S+ +40 +40 +0 +0 +40 +0 +0\n`,
		`total +92 +92 +0 +0 +92 +0 +0\n`,
		`reconcile: completed \(listed 0, stale 0, deleted 0, `,
		`fake-person +40\n`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("demo after the state was lost: no match for %q:\n%s", want, out)
		}
	}

	loseState()
	out = demo("36")
	for _, want := range []string{
		`fake-person-1 +completed +\S+ +36 +36 +0 +0 +36 +0 +0\n`,
		`reconcile: completed \(listed 4, stale 4, deleted 0, .*deletion rate 1\.00 > entityDeletionThreshold 0\.9`,
		`fake-person +40\n`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("demo with 4 persons fewer after the state was lost: no match for %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Job 2") {
		t.Errorf("the job history survived the lost state:\n%s", out)
	}
	out = demo("36")
	for _, want := range []string{
		`fake-person-1 +completed +\S+ +36 +36 +0 +0 +0 +36 +0\n`,
		`reconcile: completed \(listed 92, stale 4, deleted 4, `,
		`fake-person +36\n`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the resync after: no match for %q:\n%s", want, out)
		}
	}
}
