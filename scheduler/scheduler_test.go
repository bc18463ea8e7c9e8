package scheduler_test

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"oceand/jobs"
	"oceand/scheduler"
	"oceand/store"
)

// fakeQueue records requests and writes their State as the engine does,
// in the same transaction as the (pretend) job.
type fakeQueue struct {
	st   *store.Store
	mu   sync.Mutex
	reqs []jobs.Request
}

func (q *fakeQueue) Enqueue(req jobs.Request) (jobs.Enqueued, error) {
	err := q.st.Update(func(tx *store.Tx) error {
		for k, v := range req.State {
			if err := tx.SetValue(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return jobs.Enqueued{}, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.reqs = append(q.reqs, req)
	return jobs.Enqueued{Outcome: jobs.Queued}, nil
}

func (q *fakeQueue) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.reqs)
}

func (q *fakeQueue) last() jobs.Request {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.reqs[len(q.reqs)-1]
}

type testBundle struct {
	st    *store.Store
	queue *fakeQueue
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "oceand.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &testBundle{st: st, queue: &fakeQueue{st: st}}
}

// start starts a scheduler on b's store; it stops when the test ends.
func (b *testBundle) start(t *testing.T, cfg scheduler.Config) *scheduler.Scheduler {
	t.Helper()
	cfg.Store, cfg.Queue = b.st, b.queue
	s, err := scheduler.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func (b *testBundle) storedNext(t *testing.T) time.Time {
	t.Helper()
	_, next, ok, err := scheduler.Stored(b.st)
	if err != nil || !ok {
		t.Fatalf("no stored next run: %v", err)
	}
	return next
}

func TestIntervalQueuesAResyncEveryInterval(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		start := time.Now()
		s := b.start(t, scheduler.Config{Interval: time.Hour})
		if next, ok := s.NextRun(); !ok || !next.Equal(start.Add(time.Hour)) {
			t.Fatalf("next run = %v, want one interval after start", next)
		}
		time.Sleep(time.Hour - time.Second)
		synctest.Wait()
		if n := b.queue.count(); n != 0 {
			t.Fatalf("%d resyncs before the interval", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := b.queue.count(); n != 1 {
			t.Fatalf("%d resyncs after one interval, want 1", n)
		}
		req := b.queue.last()
		if req.Trigger != jobs.TriggerSchedule || !strings.HasPrefix(req.Reason, "every 60m, due ") {
			t.Errorf("request = %+v", req)
		}
		// The next run was stored with the job; the cadence holds.
		if next := b.storedNext(t); !next.Equal(start.Add(2 * time.Hour).UTC()) {
			t.Errorf("stored next = %v, want %v", next, start.Add(2*time.Hour))
		}
		time.Sleep(3 * time.Hour)
		synctest.Wait()
		if n := b.queue.count(); n != 4 {
			t.Errorf("%d resyncs after 4 intervals, want 4", n)
		}
	})
}

func TestOverdueRunStartsRightAfterRestartOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		first, err := scheduler.New(scheduler.Config{Store: b.st, Queue: b.queue, Interval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if err := first.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		due, _ := first.NextRun()
		first.Stop()

		// oceand is down for five hours: five runs were missed.
		time.Sleep(5 * time.Hour)
		restart := time.Now()
		b.start(t, scheduler.Config{Interval: time.Hour})
		synctest.Wait()
		if n := b.queue.count(); n != 1 {
			t.Fatalf("%d resyncs right after the restart, want exactly 1", n)
		}
		if r := b.queue.last().Reason; !strings.Contains(r, due.UTC().Format(time.RFC3339)) || !strings.Contains(r, "overdue by 4h0m0s") {
			t.Errorf("reason = %q", r)
		}
		if next := b.storedNext(t); !next.Equal(restart.Add(time.Hour).UTC()) {
			t.Errorf("next after catch-up = %v, want an interval after the restart", next)
		}
	})
}

func TestRestartDoesNotRunTwice(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		s, _ := scheduler.New(scheduler.Config{Store: b.st, Queue: b.queue, Interval: time.Hour})
		if err := s.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		s.Stop()
		if n := b.queue.count(); n != 1 {
			t.Fatalf("%d resyncs, want 1", n)
		}
		// Restarted ten minutes later: the run just done is not repeated,
		// and the next keeps its time.
		time.Sleep(10 * time.Minute)
		again := b.start(t, scheduler.Config{Interval: time.Hour})
		synctest.Wait()
		if n := b.queue.count(); n != 1 {
			t.Fatalf("%d resyncs after the restart, want still 1", n)
		}
		if next, _ := again.NextRun(); !next.Equal(b.storedNext(t)) || time.Until(next) != 50*time.Minute {
			t.Errorf("next after restart in %v, want 50m", time.Until(next))
		}
	})
}

func TestCronSpec(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		// The bubble starts at 2000-01-01 00:00 UTC.
		s := b.start(t, scheduler.Config{Cron: "30 3 * * *"})
		next, _ := s.NextRun()
		if want := time.Date(2000, 1, 1, 3, 30, 0, 0, time.UTC); !next.Equal(want) {
			t.Fatalf("next = %v, want %v", next, want)
		}
		if m := s.IntervalMinutes(); m != 24*60 {
			t.Errorf("interval = %d minutes, want a day", m)
		}
		time.Sleep(next.Sub(time.Now()))
		synctest.Wait()
		if n := b.queue.count(); n != 1 {
			t.Fatalf("%d resyncs at 03:30, want 1", n)
		}
		if got := b.storedNext(t); !got.Equal(next.Add(24 * time.Hour)) {
			t.Errorf("stored next = %v", got)
		}
	})
}

func TestChangedScheduleStartsAfresh(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		s, _ := scheduler.New(scheduler.Config{Store: b.st, Queue: b.queue, Interval: 24 * time.Hour})
		if err := s.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		s.Stop()
		now := time.Now()
		again := b.start(t, scheduler.Config{Interval: 5 * time.Minute})
		if next, _ := again.NextRun(); !next.Equal(now.Add(5 * time.Minute)) {
			t.Errorf("next after a change of interval = %v, want in 5m", next)
		}
		spec, _, _, _ := scheduler.Stored(b.st)
		if spec != "every 5m" {
			t.Errorf("stored spec = %q", spec)
		}
	})
}

func TestBadSettingsAreErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tt := range []struct {
		cfg  scheduler.Config
		want string
	}{
		{scheduler.Config{Cron: "every day"}, "scheduledResyncCron \"every day\""},
		{scheduler.Config{Cron: "TZ=0"}, "scheduledResyncCron \"TZ=0\": not a cron spec"},
		{scheduler.Config{Cron: "0 0 30 2 *"}, "never fires"},
		{scheduler.Config{Cron: "@hourly", Interval: time.Hour}, "both set"},
		{scheduler.Config{Interval: -time.Minute}, "scheduledResyncInterval"},
	} {
		tt.cfg.Store, tt.cfg.Queue = b.st, b.queue
		_, err := scheduler.New(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error with %q", tt.cfg, err, tt.want)
		}
	}
	for _, spec := range []string{"*/5 * * * *", "@every 90m", "CRON_TZ=Europe/Paris 0 3 * * 1-5"} {
		if _, err := scheduler.ParseCron(spec); err != nil {
			t.Errorf("ParseCron(%q) = %v", spec, err)
		}
	}
}

func TestNoScheduleDoesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.start(t, scheduler.Config{})
	if s.Enabled() {
		t.Error("enabled without a schedule")
	}
	if _, ok := s.NextRun(); ok {
		t.Error("next run without a schedule")
	}
	if raw, _ := b.st.GetValue(store.KeySchedule); raw != nil {
		t.Errorf("stored %s", raw)
	}
}
