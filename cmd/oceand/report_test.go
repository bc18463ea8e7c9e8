package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"oceand/store"
)

func TestJobsShowListsWhatADryRunWouldDo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "oceand.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	j := &store.Job{State: store.JobSucceeded, Trigger: "cli", DryRun: true, CreatedAt: now, StartedAt: &now, FinishedAt: &now,
		Reconcile: store.Reconcile{State: store.ReconcileCompleted, Listed: 40, Stale: 3, SkippedReason: "dry run: nothing deleted; 3 entities would be"}}
	if err := st.CreateJob(j); err != nil {
		t.Fatal(err)
	}
	rep := &store.JobReport{JobID: j.ID, DryRun: true, Blueprints: []store.BlueprintReport{
		{Blueprint: "service", Upserts: 2, UpsertIDs: []string{"api", "web"}, Listed: 40, Owned: 41, Stale: 3, Deleted: 3, DeleteIDs: []string{"old-1", "old-2", "old-3"}},
		{Blueprint: "team", Listed: 5, Owned: 5, Stale: 5, DeletionRate: 1, SkippedReason: "team: 5 of 5 owned entities are stale (100%), above entityDeletionThreshold 0.9; none deleted"},
	}}
	if err := st.PutReport(rep); err != nil {
		t.Fatal(err)
	}
	st.Close()

	code, out, errOut := runCLI(t, nil, "jobs", "show", "1", "--state-dir", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// BLUEPRINT UPSERT RESTORE LISTED OWNED STALE RATE PROTECTED DELETE
	if !regexp.MustCompile(`\nteam +0 +0 +5 +5 +5 +1\.00 +0 +0\n`).MatchString(out) {
		t.Errorf("jobs show lacks team's deletion rate:\n%s", out)
	}
	for _, want := range []string{
		"Dry run: nothing was written to Port",
		"service would upsert: api, web",
		"service would delete: old-1, old-2, old-3",
		"team: 5 of 5 owned entities are stale",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("jobs show lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, nil, "jobs", "show", "1", "--json", "--state-dir", dir)
	var got struct {
		ID     uint64          `json:"id"`
		DryRun bool            `json:"dryRun"`
		Report store.JobReport `json:"report"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &got) != nil || got.ID != 1 || !got.DryRun || len(got.Report.Blueprints[0].DeleteIDs) != 3 {
		t.Errorf("jobs show --json = %s", out)
	}
}
