package daemon_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"oceand/daemon"
	"oceand/port/emulator"
	"oceand/store"
)

// runOnceFast is runOnce with Port's backoff shortened to milliseconds.
func runOnceFast(t *testing.T, b *testBundle, integrationConfig map[string]any) (*store.Job, error) {
	t.Helper()
	d, err := daemon.New(b.settings(t, integrationConfig), daemon.Options{PortRetryWaitMin: time.Millisecond, PortRetryWaitMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Run(context.Background())
	return d.LastJob(), err
}

// A proxy answering Port's bulk route with 200 and a body that is not
// Port's JSON has not written anything: the batches are retried, then the
// kind fails and ONCE fails. Nothing is reported written.
func TestBulkAnsweredWithAPageIsNotSuccess(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		body  []byte
		ctype string
	}{
		{"empty", emulator.EmptyBody, "application/json"},
		{"not JSON", emulator.TextBody, "text/plain"},
		{"HTML", emulator.HTMLBody, "text/html; charset=utf-8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cfg := map[string]any{"entity_amount": 40, "single_department_run": true}
			b.emu.InjectFault(emulator.Fault{Route: "POST /v1/blueprints/{bp}/entities/bulk", RawBody: tt.body, RawType: tt.ctype})
			job, err := runOnceFast(t, b, cfg)
			if err == nil || !daemon.IsJobFailure(err) || job.State != store.JobFailed {
				t.Fatalf("ONCE = %v, job %+v; want a failed job", err, job)
			}
			if job.Totals.Upserted != 0 {
				t.Errorf("totals = %+v: entities reported written", job.Totals)
			}
			if k := job.Kinds[0]; k.State != store.KindFailed || !strings.Contains(k.Error, "not the JSON it sends") {
				t.Errorf("first kind = %s: %q, want failed naming the bad answer", k.State, k.Error)
			}
			if job.Reconcile.State != store.ReconcileSkipped {
				t.Errorf("reconcile = %+v, want skipped", job.Reconcile)
			}

			// A proxy that misbehaves twice: the retries carry the batches.
			b.emu.ClearFaults()
			b.emu.InjectFault(emulator.Fault{Route: "POST /v1/blueprints/{bp}/entities/bulk", Times: 2, RawBody: tt.body, RawType: tt.ctype})
			job, err = runOnceFast(t, b, cfg)
			if err != nil || job.State != store.JobSucceeded {
				t.Fatalf("second ONCE = %v, %s", err, job.State)
			}
			if got := b.emu.EntityCount("fake-person"); got != 40 {
				t.Errorf("persons in Port = %d, want 40", got)
			}
		})
	}
}
