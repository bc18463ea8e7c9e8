package jobs_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"oceand/jobs"
	"oceand/store"
)

// call is one RunFunc invocation the test controls: it returns what is
// sent on finish, or the context's cause once cancelled.
type call struct {
	job    *store.Job
	ctx    context.Context
	p      *jobs.Progress
	finish chan error
}

type testBundle struct {
	st     *store.Store
	engine *jobs.Engine
	calls  chan *call
	logs   *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Check(); err != nil {
			t.Errorf("store check: %v", err)
		}
		st.Close()
	})
	return st
}

// setup opens an engine on a fresh store; call it inside a synctest
// bubble. The engine is stopped when the test ends.
func setup(t *testing.T, cfg jobs.Config) *testBundle {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = openStore(t, filepath.Join(t.TempDir(), "oceand.db"))
	}
	b := &testBundle{st: cfg.Store, calls: make(chan *call, 16), logs: &syncBuffer{}}
	cfg.Logger = slog.New(slog.NewTextHandler(b.logs, nil))
	cfg.Run = func(ctx context.Context, job *store.Job, p *jobs.Progress) error {
		c := &call{job: job, ctx: ctx, p: p, finish: make(chan error, 1)}
		b.calls <- c
		select {
		case err := <-c.finish:
			return err
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	e, err := jobs.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.engine = e
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return b
}

func (b *testBundle) enqueue(t *testing.T, trigger, reason string) jobs.Enqueued {
	t.Helper()
	out, err := b.engine.Enqueue(jobs.Request{Trigger: trigger, Reason: reason})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// next returns the RunFunc call that started, failing if none did.
func (b *testBundle) next(t *testing.T) *call {
	t.Helper()
	synctest.Wait()
	select {
	case c := <-b.calls:
		return c
	default:
		t.Fatal("no job started")
		return nil
	}
}

func (b *testBundle) noneStarted(t *testing.T) {
	t.Helper()
	synctest.Wait()
	select {
	case c := <-b.calls:
		t.Fatalf("job %d started, want none", c.job.ID)
	default:
	}
}

func (b *testBundle) job(t *testing.T, id uint64) *store.Job {
	t.Helper()
	j, err := b.st.GetJob(id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestTriggersWhileOneWaitsMergeIntoIt(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, jobs.Config{Policy: jobs.PolicyQueue})
		first := b.enqueue(t, jobs.TriggerStart, "resyncOnStart")
		running := b.next(t)

		second := b.enqueue(t, jobs.TriggerSchedule, "every 60m")
		third := b.enqueue(t, jobs.TriggerWebhook, "POST /resync")
		fourth := b.enqueue(t, jobs.TriggerSchedule, "every 60m")
		if second.Outcome != jobs.Queued || third.Outcome != jobs.Merged || fourth.Outcome != jobs.Merged {
			t.Fatalf("outcomes = %s, %s, %s; want queued, merged, merged", second.Outcome, third.Outcome, fourth.Outcome)
		}
		if third.Job.ID != second.Job.ID || fourth.Job.ID != second.Job.ID {
			t.Fatalf("merged into jobs %d and %d, want %d", third.Job.ID, fourth.Job.ID, second.Job.ID)
		}
		b.noneStarted(t)

		running.finish <- nil
		waiting := b.next(t)
		if waiting.job.ID != second.Job.ID {
			t.Fatalf("started job %d, want the waiting job %d", waiting.job.ID, second.Job.ID)
		}
		want := []string{"every 60m", "webhook: POST /resync", "every 60m"}
		if got := waiting.job.Reasons; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("reasons = %q, want %q", got, want)
		}
		if j := b.job(t, first.Job.ID); j.State != store.JobSucceeded {
			t.Errorf("first job %s, want succeeded", j.State)
		}
		list, err := b.st.ListJobs(store.ListOptions{})
		if err != nil || len(list) != 2 {
			t.Fatalf("history holds %d jobs (%v), want 2", len(list), err)
		}
	})
}

func TestPolicies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		policy jobs.Policy
		// outcome of a trigger while a job runs, and the running job's end
		outcome      jobs.Outcome
		runningState store.JobState
	}{
		{jobs.PolicySupersede, jobs.Queued, store.JobSuperseded},
		{jobs.PolicyQueue, jobs.Queued, store.JobSucceeded},
		{jobs.PolicySkip, jobs.Skipped, store.JobSucceeded},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := setup(t, jobs.Config{Policy: tt.policy})
				first := b.enqueue(t, jobs.TriggerStart, "start")
				running := b.next(t)

				out, err := b.engine.Enqueue(jobs.Request{Trigger: jobs.TriggerPollRequest, Reason: "resync request",
					State: map[string][]byte{store.KeyResyncRequestWatermark: []byte("2026-11-22T10:00:00Z")}})
				if err != nil {
					t.Fatal(err)
				}
				if out.Outcome != tt.outcome {
					t.Fatalf("outcome = %s, want %s", out.Outcome, tt.outcome)
				}
				// The listener's state is stored whatever the outcome.
				if v, _ := b.st.GetValue(store.KeyResyncRequestWatermark); string(v) != "2026-11-22T10:00:00Z" {
					t.Errorf("watermark = %q", v)
				}
				synctest.Wait()
				if tt.runningState != store.JobSuperseded {
					running.finish <- nil
				}
				synctest.Wait()
				j := b.job(t, first.Job.ID)
				if j.State != tt.runningState {
					t.Fatalf("running job ended %s, want %s (error %q)", j.State, tt.runningState, j.Error)
				}
				switch tt.outcome {
				case jobs.Skipped:
					b.noneStarted(t)
					if out.Job == nil || out.Job.ID != first.Job.ID {
						t.Errorf("skipped trigger names job %v, want the running job", out.Job)
					}
				default:
					if c := b.next(t); c.job.ID != out.Job.ID {
						t.Errorf("started job %d, want %d", c.job.ID, out.Job.ID)
					}
				}
				if tt.runningState == store.JobSuperseded {
					if j.SupersededBy != out.Job.ID || out.Superseding != first.Job.ID {
						t.Errorf("supersededBy = %d, superseding = %d; want %d, %d", j.SupersededBy, out.Superseding, out.Job.ID, first.Job.ID)
					}
				}
			})
		})
	}
}

func TestSupersededJobStopsAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, jobs.Config{})
		first := b.enqueue(t, jobs.TriggerSchedule, "every 60m")
		running := b.next(t)

		triggered := time.Now()
		second := b.enqueue(t, jobs.TriggerCLI, "oceand resync")
		// The running job's context carries the cause at once.
		if cause := context.Cause(running.ctx); !errors.Is(cause, jobs.ErrSuperseded) {
			t.Fatalf("running job's cause = %v, want superseded", cause)
		}
		next := b.next(t)
		// In the bubble time moves only when everything waits on a timer:
		// no timer stood between the trigger and the new job's start.
		if d := time.Since(triggered); d >= 100*time.Millisecond {
			t.Errorf("superseded job stopped after %v, want under 100ms", d)
		}
		if next.job.ID != second.Job.ID {
			t.Fatalf("started job %d, want %d", next.job.ID, second.Job.ID)
		}
		j := b.job(t, first.Job.ID)
		if j.State != store.JobSuperseded || j.SupersededBy != second.Job.ID || j.Error != "superseded by job 2" {
			t.Errorf("superseded job = %s by %d (%q)", j.State, j.SupersededBy, j.Error)
		}
	})
}

func TestRepeatedSupersessionIsReported(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, jobs.Config{})
		b.enqueue(t, jobs.TriggerStart, "start")
		b.next(t).finish <- nil
		synctest.Wait()
		b.enqueue(t, jobs.TriggerSchedule, "tick")
		b.next(t)
		for range 3 {
			b.enqueue(t, jobs.TriggerSchedule, "tick")
			b.next(t)
		}
		st, err := b.st.SupersededStreak()
		if err != nil {
			t.Fatal(err)
		}
		if st.Superseded != 3 || st.LastCompleted != 1 || st.Since == nil {
			t.Errorf("streak = %+v, want 3 superseded since job 1", st)
		}
		if logs := b.logs.String(); !strings.Contains(logs, "3 resyncs in a row were superseded") {
			t.Errorf("no warning in the log:\n%s", logs)
		}
	})
}

func TestDryRuns(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, jobs.Config{Policy: jobs.PolicySupersede})
		real := b.enqueue(t, jobs.TriggerStart, "start")
		running := b.next(t)

		// A dry run does not supersede a real resync: it waits.
		dry, err := b.engine.Enqueue(jobs.Request{Trigger: jobs.TriggerCLI, Reason: "plan", DryRun: true})
		if err != nil || dry.Outcome != jobs.Queued || dry.Superseding != 0 || !dry.Job.DryRun {
			t.Fatalf("dry run = %+v, %v", dry, err)
		}
		b.noneStarted(t)
		running.finish <- nil
		plan := b.next(t)
		if !plan.job.DryRun {
			t.Fatal("started job is not a dry run")
		}
		// A real trigger supersedes a running dry run.
		again := b.enqueue(t, jobs.TriggerSchedule, "tick")
		if again.Superseding != dry.Job.ID {
			t.Errorf("real trigger supersedes %d, want the dry run %d", again.Superseding, dry.Job.ID)
		}
		if c := b.next(t); c.job.ID != again.Job.ID {
			t.Errorf("started %d, want %d", c.job.ID, again.Job.ID)
		}
		if j := b.job(t, dry.Job.ID); j.State != store.JobSuperseded {
			t.Errorf("dry run %s, want superseded", j.State)
		}
		if j := b.job(t, real.Job.ID); j.State != store.JobSucceeded {
			t.Errorf("real job %s", j.State)
		}
	})
}

func TestDryRunWaitingBecomesRealWhenARealTriggerMerges(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, jobs.Config{Policy: jobs.PolicyQueue})
		b.enqueue(t, jobs.TriggerStart, "start")
		running := b.next(t)
		dry, _ := b.engine.Enqueue(jobs.Request{Trigger: jobs.TriggerCLI, Reason: "plan", DryRun: true})
		// Another dry run merges; a real trigger makes the waiting job real.
		if out, _ := b.engine.Enqueue(jobs.Request{Trigger: jobs.TriggerCLI, Reason: "plan 2", DryRun: true}); out.Outcome != jobs.Merged {
			t.Fatalf("second dry run %s, want merged", out.Outcome)
		}
		if out := b.enqueue(t, jobs.TriggerWebhook, "POST /resync"); out.Outcome != jobs.Merged || out.Job.DryRun {
			t.Fatalf("real trigger %+v, want merged into a real job", out)
		}
		// Now a dry run is refused rather than merged into a real resync.
		if out, _ := b.engine.Enqueue(jobs.Request{Trigger: jobs.TriggerCLI, Reason: "plan 3", DryRun: true}); out.Outcome != jobs.Skipped || out.Job.ID != dry.Job.ID {
			t.Fatalf("dry run while a real job waits = %+v, want skipped naming job %d", out, dry.Job.ID)
		}
		running.finish <- nil
		if c := b.next(t); c.job.DryRun || c.job.ID != dry.Job.ID {
			t.Errorf("started %d dry=%v", c.job.ID, c.job.DryRun)
		}
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, jobs.Config{Policy: jobs.PolicyQueue})
		first := b.enqueue(t, jobs.TriggerStart, "start")
		b.next(t)
		second := b.enqueue(t, jobs.TriggerCLI, "again")

		if _, err := b.engine.Cancel(second.Job.ID, "changed my mind"); err != nil {
			t.Fatal(err)
		}
		if j := b.job(t, second.Job.ID); j.State != store.JobCancelled || j.Error != "cancelled: changed my mind" {
			t.Errorf("queued job after cancel: %s %q", j.State, j.Error)
		}
		if _, err := b.engine.Cancel(0, "operator"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if j := b.job(t, first.Job.ID); j.State != store.JobCancelled {
			t.Errorf("running job after cancel: %s", j.State)
		}
		if _, err := b.engine.Cancel(0, ""); !errors.Is(err, jobs.ErrNotRunning) {
			t.Errorf("cancel with nothing running: %v", err)
		}
		if _, err := b.engine.Cancel(first.Job.ID, ""); !errors.Is(err, jobs.ErrNotRunning) {
			t.Errorf("cancel of a finished job: %v", err)
		}
		b.noneStarted(t)
	})
}

func TestShutdownInterruptsAndQueuesResume(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "oceand.db")
		b := setup(t, jobs.Config{Store: openStore(t, path)})
		first := b.enqueue(t, jobs.TriggerStart, "start")
		c := b.next(t)
		started := *b.job(t, first.Job.ID).StartedAt
		if err := c.p.Update(func(j *store.Job) {
			j.Kinds = []store.KindProgress{
				{Kind: "a", Index: 0, State: store.KindCompleted},
				{Kind: "b", Index: 1, State: store.KindRunning, StartedAt: started},
			}
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second) // synctest: the fake clock moves, no real wait
		if err := b.engine.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if cause := context.Cause(c.ctx); !errors.Is(cause, jobs.ErrShutdown) {
			t.Errorf("job cause = %v", cause)
		}
		j := b.job(t, first.Job.ID)
		if j.State != store.JobInterrupted || j.Kinds[1].State != store.KindAborted || j.Kinds[0].State != store.KindCompleted {
			t.Fatalf("job after shutdown: %s, kinds %+v", j.State, j.Kinds)
		}
		// The aborted kind ended with the job: its duration stops growing.
		if d := j.Kinds[1].Duration(time.Now().Add(time.Hour)); d != 3*time.Second {
			t.Errorf("aborted kind's duration = %v, want 3s (until the shutdown)", d)
		}
		waiting, _ := b.st.ListJobs(store.ListOptions{State: store.JobQueued})
		if len(waiting) != 1 {
			t.Fatalf("%d queued jobs after shutdown, want the resume", len(waiting))
		}
		r := waiting[0]
		if r.Trigger != jobs.TriggerResume || r.ResumeOf != first.Job.ID || r.ChainID != first.Job.ID || !r.ChainStartedAt.Equal(started) {
			t.Errorf("resume = %+v", r)
		}
	})
}

func TestShutdownDoesNotWaitForAStuckJob(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := openStore(t, filepath.Join(t.TempDir(), "oceand.db"))
		release := make(chan struct{})
		e, err := jobs.Open(jobs.Config{Store: st, Run: func(ctx context.Context, job *store.Job, p *jobs.Progress) error {
			<-release // ignores ctx
			_ = p.Update(func(j *store.Job) { j.Error = "late write" })
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		out, _ := e.Enqueue(jobs.Request{Trigger: jobs.TriggerStart, Reason: "start"})
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		begin := time.Now()
		if err := e.Shutdown(ctx); !errors.Is(err, jobs.ErrStopTimeout) {
			t.Fatalf("shutdown = %v, want ErrStopTimeout", err)
		}
		if d := time.Since(begin); d != 5*time.Second {
			t.Errorf("shutdown took %v, want the 5s deadline", d)
		}
		close(release)
		synctest.Wait()
		j, _ := st.GetJob(out.Job.ID)
		if j.State != store.JobInterrupted || j.Error == "late write" {
			t.Errorf("stuck job recorded %s %q, want interrupted", j.State, j.Error)
		}
	})
}

// crashed writes a job as a killed daemon leaves it: running.
func crashed(t *testing.T, st *store.Store, j *store.Job) *store.Job {
	t.Helper()
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	j.State, j.CreatedAt, j.StartedAt = store.JobRunning, start, &start
	if j.ChainStartedAt == nil {
		j.ChainStartedAt = &start
	}
	if err := st.CreateJob(j); err != nil {
		t.Fatal(err)
	}
	return j
}

func TestOpenResumesACrashedJob(t *testing.T) {
	t.Parallel()
	st := openStore(t, filepath.Join(t.TempDir(), "oceand.db"))
	chainStart := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	// A job waited while the crashed one ran: it becomes the resume.
	j := crashed(t, st, &store.Job{Trigger: jobs.TriggerSchedule, Reasons: []string{"tick"}, ChainStartedAt: &chainStart})
	if err := st.CreateJob(&store.Job{State: store.JobQueued, Trigger: jobs.TriggerWebhook, Reasons: []string{"POST /resync"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Open(jobs.Config{Store: st, Run: func(context.Context, *store.Job, *jobs.Progress) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetJob(j.ID)
	if got.State != store.JobInterrupted || got.FinishedAt == nil {
		t.Fatalf("crashed job = %s", got.State)
	}
	queued, _ := st.ListJobs(store.ListOptions{State: store.JobQueued})
	if len(queued) != 1 {
		t.Fatalf("%d queued, want 1", len(queued))
	}
	r := queued[0]
	if r.Trigger != jobs.TriggerResume || r.ResumeOf != j.ID || r.ChainID != j.ID || !r.ChainStartedAt.Equal(chainStart) {
		t.Errorf("resume = %+v", r)
	}
	want := "resume of job 1 (attempt 1 of 3)|webhook: POST /resync"
	if strings.Join(r.Reasons, "|") != want {
		t.Errorf("reasons = %q, want %q", r.Reasons, want)
	}
}

func TestResumeAttemptsAreBounded(t *testing.T) {
	t.Parallel()
	st := openStore(t, filepath.Join(t.TempDir(), "oceand.db"))
	open := func() {
		t.Helper()
		if _, err := jobs.Open(jobs.Config{Store: st, Run: func(context.Context, *store.Job, *jobs.Progress) error { return nil }}); err != nil {
			t.Fatal(err)
		}
	}
	crashed(t, st, &store.Job{Trigger: jobs.TriggerStart})
	for attempt := 1; attempt <= jobs.MaxResumeAttempts; attempt++ {
		open()
		queued, _ := st.ListJobs(store.ListOptions{State: store.JobQueued})
		if len(queued) != 1 || queued[0].Trigger != jobs.TriggerResume {
			t.Fatalf("attempt %d: queued = %+v", attempt, queued)
		}
		// The resume starts and the daemon is killed again.
		r := queued[0]
		r.State, r.StartedAt = store.JobRunning, r.ChainStartedAt
		if err := st.PutJob(r); err != nil {
			t.Fatal(err)
		}
	}
	open()
	if queued, _ := st.ListJobs(store.ListOptions{State: store.JobQueued}); len(queued) != 0 {
		t.Fatalf("a resume was queued after %d attempts", jobs.MaxResumeAttempts)
	}
	last, _ := st.LastJob(store.JobFailed)
	if last == nil || last.ChainID != 1 || !strings.Contains(last.Error, "interrupted 4 times") {
		t.Fatalf("last job of the chain = %+v, want failed", last)
	}
}

func TestProgressIsBatched(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, jobs.Config{ProgressInterval: time.Second})
		out := b.enqueue(t, jobs.TriggerStart, "start")
		c := b.next(t)
		for i := range 1000 {
			if err := c.p.Update(func(j *store.Job) {
				if j.Kinds == nil {
					j.Kinds = []store.KindProgress{{Kind: "fake-person", State: store.KindRunning}}
				}
				j.Kinds[0].Fetched = int64(i + 1)
			}); err != nil {
				t.Fatal(err)
			}
		}
		// Not written yet, but the engine shows the live record.
		if j := b.job(t, out.Job.ID); len(j.Kinds) != 0 {
			t.Errorf("progress written before the interval: %+v", j.Kinds)
		}
		if live, _ := b.engine.Job(out.Job.ID); live.Kinds[0].Fetched != 1000 {
			t.Errorf("live record = %+v", live.Kinds)
		}
		time.Sleep(time.Second) // fake time: the flusher's tick
		synctest.Wait()
		if j := b.job(t, out.Job.ID); len(j.Kinds) != 1 || j.Kinds[0].Fetched != 1000 {
			t.Errorf("progress after one interval: %+v", j.Kinds)
		}
		c.finish <- nil
		synctest.Wait()
		if j := b.job(t, out.Job.ID); j.State != store.JobSucceeded || j.Kinds[0].Fetched != 1000 {
			t.Errorf("final record %s %+v", j.State, j.Kinds)
		}
	})
}

func TestFailedAndPanickingJobs(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, jobs.Config{})
		first := b.enqueue(t, jobs.TriggerStart, "start")
		b.next(t).finish <- errors.New("kind fake-person failed")
		synctest.Wait()
		if j := b.job(t, first.Job.ID); j.State != store.JobFailed || j.Error != "kind fake-person failed" {
			t.Errorf("failed job = %s %q", j.State, j.Error)
		}

		st := openStore(t, filepath.Join(t.TempDir(), "panic.db"))
		e, err := jobs.Open(jobs.Config{Store: st, Run: func(context.Context, *store.Job, *jobs.Progress) error { panic("boom") }})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer e.Stop()
		out, _ := e.Enqueue(jobs.Request{Trigger: jobs.TriggerCLI, Reason: "panic"})
		j, err := e.Wait(t.Context(), out.Job.ID)
		if err != nil || j.State != store.JobFailed || j.Error != "job panicked: boom" {
			t.Errorf("panicking job = %+v, %v", j, err)
		}
	})
}

func TestHistoryIsPrunedToTheLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, jobs.Config{HistoryLimit: 3})
		for range 5 {
			b.enqueue(t, jobs.TriggerCLI, "again")
			b.next(t).finish <- nil
			synctest.Wait()
		}
		list, err := b.st.ListJobs(store.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []uint64
		for _, j := range list {
			ids = append(ids, j.ID)
		}
		if len(ids) != 3 || ids[0] != 5 || ids[2] != 3 {
			t.Errorf("kept jobs %v, want [5 4 3]", ids)
		}
	})
}

func TestWaitReturnsTheFinishedJob(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, jobs.Config{})
		out := b.enqueue(t, jobs.TriggerCLI, "wait for me")
		done := make(chan *store.Job)
		go func() {
			j, err := b.engine.Wait(t.Context(), out.Job.ID)
			if err != nil {
				t.Error(err)
			}
			done <- j
		}()
		b.next(t).finish <- nil
		if j := <-done; j.State != store.JobSucceeded {
			t.Errorf("wait returned %s", j.State)
		}
	})
}

func TestUnknownTriggerIsRefused(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, jobs.Config{})
		for _, trig := range []string{"", "resume", "cron"} {
			if _, err := b.engine.Enqueue(jobs.Request{Trigger: trig}); err == nil {
				t.Errorf("trigger %q accepted", trig)
			}
		}
	})
}
