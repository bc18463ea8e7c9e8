// Package jobs runs resync jobs one at a time from a durable queue in the
// store. Every state change is written before it takes effect, so a restart
// loses no trigger and no history.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"oceand/store"
)

// Triggers: what asked for a job.
const (
	TriggerStart    = "start"
	TriggerSchedule = "schedule"
	TriggerCLI      = "cli"
	TriggerResume   = "resume"
)

// RunFunc executes one job. It reports progress through p and returns nil
// when the job succeeded. It must return promptly once ctx is done.
type RunFunc func(ctx context.Context, job *store.Job, p *Progress) error

// Config configures an Engine.
type Config struct {
	Store  *store.Store
	Run    RunFunc
	Logger *slog.Logger
	Now    func() time.Time
	// HistoryLimit bounds the job history kept. Default 1000.
	HistoryLimit int
}

// Engine is the single-flight job runner.
type Engine struct {
	cfg    Config
	logger *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	wake    chan struct{}
	done    map[uint64][]chan struct{}
	cancel  context.CancelCauseFunc
	stopped chan struct{}
	started bool
}

// ErrShutdown is the cancellation cause when the daemon stops.
var ErrShutdown = errors.New("daemon shutting down")

// New returns an Engine; call Start to run jobs.
func New(cfg Config) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HistoryLimit == 0 {
		cfg.HistoryLimit = 1000
	}
	return &Engine{cfg: cfg, logger: cfg.Logger, now: cfg.Now, wake: make(chan struct{}, 1), done: map[uint64][]chan struct{}{}}
}

// Start recovers jobs left running by a previous process and starts the
// runner. It returns at once.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return errors.New("job engine already started")
	}
	e.started = true
	e.mu.Unlock()
	if err := e.recover(); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	e.mu.Lock()
	e.cancel = cancel
	e.stopped = make(chan struct{})
	e.mu.Unlock()
	go e.loop(runCtx)
	e.poke()
	return nil
}

// Stop cancels the running job (recorded as interrupted) and waits for the
// runner to exit. It is safe to call more than once.
func (e *Engine) Stop() {
	e.mu.Lock()
	cancel, stopped := e.cancel, e.stopped
	e.cancel = nil
	e.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel(ErrShutdown)
	<-stopped
}

// recover marks jobs a crashed process left running as interrupted.
func (e *Engine) recover() error {
	running, err := e.cfg.Store.ListJobs(store.ListOptions{State: store.JobRunning})
	if err != nil {
		return fmt.Errorf("recover jobs: %w", err)
	}
	for _, j := range running {
		now := e.now()
		j.State = store.JobInterrupted
		j.FinishedAt = &now
		j.Error = "the daemon stopped while this job ran"
		if err := e.cfg.Store.PutJob(j); err != nil {
			return fmt.Errorf("recover job %d: %w", j.ID, err)
		}
		e.logger.Warn("job was interrupted by a daemon stop", "job", j.ID)
	}
	return nil
}

// Enqueue accepts a trigger: it stores a queued job, or merges the reason
// into the job already waiting.
func (e *Engine) Enqueue(trigger, reason string) (*store.Job, error) {
	queued, err := e.cfg.Store.ListJobs(store.ListOptions{State: store.JobQueued, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(queued) > 0 {
		j := queued[0]
		j.Reasons = append(j.Reasons, reason)
		if err := e.cfg.Store.PutJob(j); err != nil {
			return nil, err
		}
		return j, nil
	}
	j := &store.Job{State: store.JobQueued, Trigger: trigger, Reasons: []string{reason}, CreatedAt: e.now()}
	if err := e.cfg.Store.CreateJob(j); err != nil {
		return nil, fmt.Errorf("queue job: %w", err)
	}
	e.poke()
	return j, nil
}

// Wait blocks until job id reaches a terminal state and returns it.
func (e *Engine) Wait(ctx context.Context, id uint64) (*store.Job, error) {
	for {
		ch := make(chan struct{})
		e.mu.Lock()
		e.done[id] = append(e.done[id], ch)
		e.mu.Unlock()
		j, err := e.cfg.Store.GetJob(id)
		if err != nil {
			return nil, err
		}
		if j.State.Terminal() {
			return j, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) notify(id uint64) {
	e.mu.Lock()
	chans := e.done[id]
	delete(e.done, id)
	e.mu.Unlock()
	for _, ch := range chans {
		close(ch)
	}
}

func (e *Engine) loop(ctx context.Context) {
	defer close(e.stopped)
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		}
		for ctx.Err() == nil {
			next, err := e.cfg.Store.ListJobs(store.ListOptions{State: store.JobQueued})
			if err != nil {
				e.logger.Error("read job queue", "err", err)
				break
			}
			if len(next) == 0 {
				break
			}
			e.runJob(ctx, next[len(next)-1])
		}
	}
}

func (e *Engine) runJob(ctx context.Context, j *store.Job) {
	now := e.now()
	j.State = store.JobRunning
	j.StartedAt = &now
	if j.ChainStartedAt == nil {
		j.ChainStartedAt = &now
	}
	if err := e.cfg.Store.PutJob(j); err != nil {
		e.logger.Error("start job", "job", j.ID, "err", err)
		return
	}
	e.notify(j.ID)
	p := &Progress{engine: e, job: j}
	err := e.cfg.Run(ctx, j, p)
	p.mu.Lock()
	defer p.mu.Unlock()
	end := e.now()
	j.FinishedAt = &end
	switch {
	case err == nil:
		j.State = store.JobSucceeded
	case errors.Is(context.Cause(ctx), ErrShutdown):
		j.State = store.JobInterrupted
		j.Error = ErrShutdown.Error()
	default:
		j.State = store.JobFailed
		j.Error = err.Error()
	}
	if err := e.cfg.Store.PutJob(j); err != nil {
		e.logger.Error("finish job", "job", j.ID, "err", err)
	}
	if _, err := e.cfg.Store.PruneJobs(e.cfg.HistoryLimit); err != nil {
		e.logger.Error("prune job history", "err", err)
	}
	e.logger.Info("job finished", "job", j.ID, "state", j.State, "duration", j.Duration(end).Round(time.Millisecond))
	e.notify(j.ID)
}

// Progress lets a running job update its record. Writes are throttled: the
// record is stored at most every FlushInterval and on Flush.
type Progress struct {
	engine  *Engine
	mu      sync.Mutex
	job     *store.Job
	flushed time.Time
}

// FlushInterval is how often progress is written while a job runs.
const FlushInterval = 500 * time.Millisecond

// Update changes the job record under the progress lock and stores it if
// the last write is older than FlushInterval.
func (p *Progress) Update(fn func(j *store.Job)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p.job)
	if p.engine.now().Sub(p.flushed) < FlushInterval {
		return nil
	}
	return p.flushLocked()
}

// Flush stores the job record now.
func (p *Progress) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.flushLocked()
}

func (p *Progress) flushLocked() error {
	p.flushed = p.engine.now()
	if err := p.engine.cfg.Store.PutJob(p.job); err != nil {
		return fmt.Errorf("store progress of job %d: %w", p.job.ID, err)
	}
	return nil
}
