package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"oceand/port/emulator"
	"oceand/store"
)

func runCLI(t *testing.T, environ []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, environ)
	return code, out.String(), errOut.String()
}

func TestDemoTwiceReportsUnchanged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errOut := runCLI(t, nil, "demo", "--persons", "40", "--state-dir", dir)
	if code != exitOK {
		t.Fatalf("first demo exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "fake-person      40") {
		t.Errorf("first demo does not show 40 persons in Port:\n%s", out)
	}
	code, out, errOut = runCLI(t, nil, "demo", "--persons", "40", "--state-dir", dir)
	if code != exitOK {
		t.Fatalf("second demo exit %d\n%s\n%s", code, out, errOut)
	}
	// Second job: all 92 entities (40 persons and the other kinds) unchanged, none upserted.
	if !strings.Contains(out, "Job 2: succeeded") {
		t.Errorf("second demo is not job 2:\n%s", out)
	}
	// KIND STATE DURATION FETCHED MAPPED FILTERED DROPPED UPSERTED UNCHANGED FAILED
	if !regexp.MustCompile(`fake-person-1 +completed +[0-9.]+[µm]?s +40 +40 +0 +0 +0 +40 +0\n`).MatchString(out) {
		t.Errorf("second demo did not report 40 unchanged persons and the kind's duration:\n%s", out)
	}
	if !regexp.MustCompile(`reconcile: completed \(listed 92, stale 0, deleted 0, [0-9.]+[µm]?s\)`).MatchString(out) {
		t.Errorf("second demo did not report reconciliation and its duration:\n%s", out)
	}
	if strings.Contains(out, "entities/bulk") {
		t.Errorf("second demo sent bulk upserts:\n%s", out)
	}

	// The history is readable afterwards.
	code, out, _ = runCLI(t, nil, "jobs", "list", "--json", "--state-dir", dir)
	if code != exitOK {
		t.Fatalf("jobs list exit %d", code)
	}
	var jobs []store.Job
	if err := json.Unmarshal([]byte(out), &jobs); err != nil {
		t.Fatalf("jobs list --json: %v\n%s", err, out)
	}
	if len(jobs) != 2 || jobs[0].ID != 2 || jobs[0].Totals.Unchanged != 92 || jobs[1].Totals.Upserted != 92 {
		t.Errorf("jobs = %+v", jobs)
	}
	code, out, _ = runCLI(t, nil, "jobs", "show", "1", "--state-dir", dir)
	if code != exitOK || !strings.Contains(out, "Job 1: succeeded") {
		t.Errorf("jobs show 1: exit %d\n%s", code, out)
	}
}

func TestRunOnceExitCode(t *testing.T) {
	t.Parallel()
	base := []string{
		"OCEAN__PORT__CLIENT_ID=cli-id",
		"OCEAN__PORT__CLIENT_SECRET=cli-secret-value",
		"OCEAN__INTEGRATION__TYPE=fake",
		"OCEAN__INTEGRATION__IDENTIFIER=cli-test",
		"OCEAN__EVENT_LISTENER__TYPE=ONCE",
		"OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT=30",
		"OCEAN__INTEGRATION__CONFIG__SINGLE_DEPARTMENT_RUN=true",
		"OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_BATCH_SIZE=10",
	}
	tests := []struct {
		name  string
		extra []string
		want  int
	}{
		{"succeeds", nil, exitOK},
		{"fetch fails", []string{"OCEAN__INTEGRATION__CONFIG__FAIL_KIND=fake-person", "OCEAN__INTEGRATION__CONFIG__FAIL_AFTER_ITEMS=15"}, exitFailure},
		{"bad settings", []string{"OCEAN__EVENT_LISTENER__TYPE=CARRIER_PIGEON"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A Port each: two daemons installing the default blueprints
			// into one Port at once race (409 identifier_taken).
			emu := emulator.New(emulator.Config{ClientID: "cli-id", ClientSecret: "cli-secret-value"})
			srv := httptest.NewServer(emu.Handler())
			t.Cleanup(srv.Close)
			env := append(append([]string{"OCEAN__STATE_DIR=" + t.TempDir(), "OCEAN__LOG_FORMAT=json", "OCEAN__PORT__BASE_URL=" + srv.URL}, base...), tt.extra...)
			code, out, errOut := runCLI(t, env, "run")
			if code != tt.want {
				t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tt.want, out, errOut)
			}
			if strings.Contains(errOut, "cli-secret-value") {
				t.Errorf("the client secret appears in the output:\n%s", errOut)
			}
		})
	}
}
