package daemon_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"oceand/config"
	"oceand/daemon"
	"oceand/port/emulator"
	"oceand/store"
)

type testBundle struct {
	emu      *emulator.Server
	url      string
	stateDir string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	emu := emulator.New(emulator.Config{ClientID: "test-id", ClientSecret: "test-secret"})
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	return &testBundle{emu: emu, url: srv.URL, stateDir: t.TempDir()}
}

// settings builds ONCE settings for the fake source with the given config.
func (b *testBundle) settings(t *testing.T, integrationConfig map[string]any) *config.Settings {
	t.Helper()
	return b.settingsWith(t, integrationConfig, nil)
}

// mustJSON encodes v or fails the test.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func runOnce(t *testing.T, s *config.Settings) (*store.Job, error) {
	t.Helper()
	d, err := daemon.New(s, daemon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Run(context.Background())
	return d.LastJob(), err
}

func TestResyncWritesFakeSourceToPort(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.settings(t, map[string]any{"entity_amount": 120, "single_department_run": true, "third_party_batch_size": 50})

	job, err := runOnce(t, s)
	if err != nil {
		t.Fatalf("resync: %v", err)
	}
	if job.State != store.JobSucceeded {
		t.Fatalf("job state = %s, error %q", job.State, job.Error)
	}
	if got := b.emu.EntityCount("fake-person"); got != 120 {
		t.Errorf("persons in Port = %d, want 120", got)
	}
	if got := b.emu.EntityCount("fake-department"); got != 1 {
		t.Errorf("departments in Port = %d, want 1", got)
	}
	// 120 persons, 1 department, 8 offices, 3 teams of hr, 40 projects.
	if job.Totals.Upserted != 172 || job.Totals.Fetched != 172 || job.Totals.Failed != 0 {
		t.Errorf("totals = %+v, want 172 fetched and upserted", job.Totals)
	}

	// Content: the mapping's fields arrive as the fake source generated them.
	dept := b.emu.Entity("fake-department", "hr")
	if dept == nil || dept["title"] != "HR" {
		t.Fatalf("department hr = %v", dept)
	}
	persons := 0
	for _, id := range b.emu.Identifiers("fake-person") {
		e := b.emu.Entity("fake-person", id)
		props := e["properties"].(map[string]any)
		rels := e["relations"].(map[string]any)
		if rels["department"] != "hr" || props["department"] != "HR" {
			t.Errorf("person %s relation/department = %v/%v, want hr/HR", id, rels["department"], props["department"])
		}
		if e["title"] != props["name"] || props["email"] == nil || props["bio"] == nil {
			t.Errorf("person %s = %v", id, e)
		}
		if st := props["status"]; st != "WORKING" && st != "NOPE" {
			t.Errorf("person %s status = %v", id, st)
		}
		persons++
	}
	if persons != 120 {
		t.Errorf("listed %d persons", persons)
	}
	// Port records the exporter User-Agent as the datasource.
	ds := b.emu.EntityDatasources("fake-department", "hr")
	if len(ds) != 1 || ds[0] != "port-ocean/fake/0.1.0/test-integration/exporter" {
		t.Errorf("datasources = %v", ds)
	}
}

func TestSecondResyncSendsNoUpserts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.settings(t, map[string]any{"entity_amount": 60, "single_department_run": true})
	if _, err := runOnce(t, s); err != nil {
		t.Fatal(err)
	}
	b.emu.ResetCounters()

	job, err := runOnce(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if n := b.emu.Requests()["POST /v1/blueprints/{bp}/entities/bulk"]; n != 0 {
		t.Errorf("second resync sent %d bulk upserts, want 0", n)
	}
	if job.Totals.Unchanged != 112 || job.Totals.Upserted != 0 {
		t.Errorf("second resync totals = %+v, want 112 unchanged", job.Totals)
	}
	if job.ID != 2 {
		t.Errorf("second job id = %d, want 2 (history kept across runs)", job.ID)
	}
}

func TestChangedPersonsAreResent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := runOnce(t, b.settings(t, map[string]any{"entity_amount": 200, "single_department_run": true})); err != nil {
		t.Fatal(err)
	}
	job, err := runOnce(t, b.settings(t, map[string]any{"entity_amount": 200, "single_department_run": true, "revision": 1, "changed_percent": 10}))
	if err != nil {
		t.Fatal(err)
	}
	if job.Totals.Upserted == 0 || job.Totals.Upserted > 40 {
		t.Errorf("upserted %d of 200 with 10%% changed", job.Totals.Upserted)
	}
	if job.Totals.Upserted+job.Totals.Unchanged != 252 {
		t.Errorf("totals = %+v", job.Totals)
	}
}

func TestFailingFetchFailsTheJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.settings(t, map[string]any{"entity_amount": 100, "single_department_run": true, "third_party_batch_size": 10,
		"fail_kind": "fake-person", "fail_after_items": 30})
	job, err := runOnce(t, s)
	if err == nil || !daemon.IsJobFailure(err) {
		t.Fatalf("Run error = %v, want a job failure", err)
	}
	if job.State != store.JobFailed {
		t.Errorf("job state = %s, want failed", job.State)
	}
	k := job.Kinds[1]
	if k.State != store.KindFailed || k.Error == "" {
		t.Errorf("person kind = %+v, want failed with an error", k)
	}
	if job.Kinds[0].State != store.KindCompleted {
		t.Errorf("department kind = %s, want completed", job.Kinds[0].State)
	}
}
