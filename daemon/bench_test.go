package daemon_test

import (
	"errors"
	"net/http/httptest"
	"testing"

	"oceand/config"
	"oceand/daemon"
	"oceand/port/emulator"
	"oceand/store"
)

// BenchmarkSupersede measures how long a running resync takes to stop once
// a newer trigger supersedes it: from `oceand resync` (over the control
// socket) to the superseded job's final record. Each superseded job is in
// the middle of fetching and upserting persons when the trigger arrives.
func BenchmarkSupersede(b *testing.B) {
	emu := emulator.New(emulator.Config{ClientID: "test-id", ClientSecret: "test-secret"})
	srv := httptest.NewServer(emu.Handler())
	b.Cleanup(srv.Close)
	bundle := &testBundle{emu: emu, url: srv.URL, stateDir: b.TempDir()}
	// Slow enough that no job ends on its own while measured.
	s := bundle.settingsWith(b, map[string]any{"entity_amount": 100000, "single_department_run": true, "third_party_batch_size": 20, "third_party_latency_ms": 5},
		map[string]string{"event_listener.type": config.ListenerPolling})
	r := start(b, s)
	ctx := b.Context()
	midway := func(id uint64) {
		b.Helper()
		stop := errors.New("midway")
		_, err := r.client.Follow(ctx, id, func(j *store.Job) error {
			if len(j.Kinds) > 1 && j.Kinds[1].Upserted > 0 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			b.Fatalf("job %d did not get midway: %v", id, err)
		}
	}
	running := uint64(1)
	for b.Loop() {
		b.StopTimer()
		midway(running)
		b.StartTimer()
		out, err := r.client.Resync(ctx, daemon.ResyncRequest{Reason: "bench"})
		if err != nil || out.Superseding != running {
			b.Fatalf("resync = %+v, %v; want job %d superseded", out, err, running)
		}
		j, err := r.client.Follow(ctx, running, func(*store.Job) error { return nil })
		if err != nil || j.State != store.JobSuperseded {
			b.Fatalf("job %d = %+v, %v", running, j, err)
		}
		running = out.Job.ID
	}
}
