package daemon_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"oceand/config"
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

// A resume is valid only while the mapping and the source's settings are
// those of the interrupted job. Here the source's revision changed before
// the restart: the resume must not skip the kinds the interrupted job
// completed; it starts a new chain and says why.
// A WEBHOOK daemon restarted without a resync on start still resumes the
// interrupted job, under the same rule.
func TestResumeAfterSourceSettingsChangedStartsANewChain(t *testing.T) {
	t.Parallel()
	for _, listener := range []string{config.ListenerPolling, config.ListenerWebhook} {
		t.Run(listener, func(t *testing.T) {
			t.Parallel()
			testResumeAfterSourceSettingsChanged(t, listener)
		})
	}
}

func testResumeAfterSourceSettingsChanged(t *testing.T, listener string) {
	b := setup(t)
	flags := map[string]string{"event_listener.type": listener}
	if listener == config.ListenerWebhook {
		flags["event_listener.app_host"] = "http://localhost:1"
		flags["application.port"] = "0" // any free port, each start
	}
	slow := map[string]any{"entity_amount": 60, "single_department_run": true, "third_party_batch_size": 5, "third_party_latency_ms": 20}
	r := start(t, b.settingsWith(t, slow, flags))
	// Stop once persons are complete, while a later kind runs.
	errMidway := errors.New("midway")
	_, err := r.client.Follow(t.Context(), 1, func(j *store.Job) error {
		if len(j.Kinds) > 2 && j.Kinds[1].State == store.KindCompleted {
			return errMidway
		}
		return nil
	})
	if !errors.Is(err, errMidway) {
		t.Fatalf("job 1 ended before persons were complete: %v", err)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	var first *store.Job
	withState(t, b.stateDir, func(st *store.Store) {
		first, _ = st.GetJob(1)
	})
	if first.State != store.JobInterrupted || first.Kinds[1].State != store.KindCompleted || first.SourceConfigHash == "" {
		t.Fatalf("job 1 = %s, persons %s, source hash %q", first.State, first.Kinds[1].State, first.SourceConfigHash)
	}

	changed := map[string]any{"revision": 1, "changed_percent": 100}
	for k, v := range slow {
		changed[k] = v
	}
	if listener == config.ListenerWebhook {
		flags["event_listener.resync_on_start"] = "false"
	}
	r = start(t, b.settingsWith(t, changed, flags))
	done := r.waitJob(t, 2)
	if done.State != store.JobSucceeded || done.ResumeOf != 1 || done.ChainID != 2 || done.SourceConfigHash == first.SourceConfigHash {
		t.Fatalf("job 2 = %s, resumes %d, chain %d, source hash %q; want a succeeded new chain 2", done.State, done.ResumeOf, done.ChainID, done.SourceConfigHash)
	}
	if !strings.Contains(strings.Join(done.Reasons, "; "), "integration.config") {
		t.Errorf("reasons = %q, want why it was not resumed", done.Reasons)
	}
	if k := done.Kinds[1]; k.Upserted != 60 {
		t.Errorf("persons = %+v, want all 60 sent again with the new revision", k)
	}
	for _, id := range b.emu.Identifiers("fake-person") {
		bio, _ := b.emu.Entity("fake-person", id)["properties"].(map[string]any)["bio"].(string)
		if !strings.HasPrefix(bio, "[revision 1]") {
			t.Fatalf("person %s keeps the old content: %.40q", id, bio)
		}
	}
}
