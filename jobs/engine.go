package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"oceand/store"
)

// Triggers: what asked for a job (DESIGN §5).
const (
	TriggerStart       = "start"
	TriggerSchedule    = "schedule"
	TriggerPollRequest = "poll:request"
	TriggerPollConfig  = "poll:config"
	TriggerWebhook     = "webhook"
	TriggerKafka       = "kafka"
	TriggerCLI         = "cli"
	// TriggerResume is set by the engine only: a resume job takes over an
	// interrupted one.
	TriggerResume = "resume"
)

// Policy is what a trigger does to a running job (setting resyncPolicy).
type Policy string

// Resync policies.
const (
	PolicySupersede Policy = "supersede"
	PolicyQueue     Policy = "queue"
	PolicySkip      Policy = "skip"
)

// MaxResumeAttempts bounds the resume jobs of one chain: a resync that
// kills the daemon every time (an OOM on one kind) must not loop forever.
const MaxResumeAttempts = 3

// Defaults of Config.
const (
	DefaultHistoryLimit     = 1000
	DefaultProgressInterval = 500 * time.Millisecond
	DefaultStopTimeout      = 5 * time.Second
	// DefaultSupersedeWarning is how many jobs superseded in a row, with
	// none completed, make the engine warn.
	DefaultSupersedeWarning = 3
)

// maxReasons caps the reasons kept on one job: a poll merging into a job
// that waits for hours must not grow its record without bound.
const maxReasons = 50

// Cancellation causes. A job's final state follows from its cause, so a
// superseded or shut-down job is never recorded as failed.
var (
	// ErrShutdown: the daemon is stopping; the job becomes interrupted
	// and is resumed at the next start.
	ErrShutdown = errors.New("the daemon is shutting down")
	// ErrSuperseded matches every *SupersededError.
	ErrSuperseded = errors.New("superseded by a newer resync")
	// ErrCancelled matches every *CancelError.
	ErrCancelled = errors.New("cancelled")
	// ErrNotRunning: Cancel found no such running or queued job.
	ErrNotRunning = errors.New("no such running or queued job")
	// ErrStopTimeout: the running job did not stop within the shutdown
	// deadline; the engine recorded it interrupted without waiting.
	ErrStopTimeout = errors.New("the running job did not stop in time")
)

// SupersededError is the cause of a job stopped by a newer trigger.
type SupersededError struct {
	// By is the job that replaced it.
	By uint64
}

func (e *SupersededError) Error() string { return fmt.Sprintf("superseded by job %d", e.By) }

// Is makes errors.Is(err, ErrSuperseded) hold.
func (e *SupersededError) Is(target error) bool { return target == ErrSuperseded }

// CancelError is the cause of a job a user cancelled.
type CancelError struct {
	Reason string
}

func (e *CancelError) Error() string {
	if e.Reason == "" {
		return "cancelled by a user"
	}
	return "cancelled: " + e.Reason
}

// Is makes errors.Is(err, ErrCancelled) hold.
func (e *CancelError) Is(target error) bool { return target == ErrCancelled }

// RunFunc executes one job. It reports progress through p and returns nil
// when the job succeeded. Once ctx is done it must return promptly (the
// engine waits for it), preferably with context.Cause(ctx). job is the
// record as the job starts; changes go through p.
type RunFunc func(ctx context.Context, job *store.Job, p *Progress) error

// Config configures an Engine.
type Config struct {
	Store *store.Store
	Run   RunFunc
	// Logger receives job transitions; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Policy is resyncPolicy; empty is supersede.
	Policy Policy
	// HistoryLimit bounds the job history kept (jobHistoryLimit).
	// Zero or less is DefaultHistoryLimit.
	HistoryLimit int
	// ProgressInterval is how often a running job's progress is written.
	ProgressInterval time.Duration
	// StopTimeout bounds Stop's wait for the running job.
	StopTimeout time.Duration
	// SupersedeWarning is the streak of superseded jobs that is reported
	// in the log. Zero is DefaultSupersedeWarning.
	SupersedeWarning int
	// OnFinish, when set, is given a copy of each job's final record once
	// it is stored (metrics). It must not block nor call the engine.
	OnFinish func(j *store.Job)
}

// Request is a trigger handed to Enqueue by a listener, the scheduler or
// the CLI.
type Request struct {
	// Trigger is one of the Trigger constants except TriggerResume.
	Trigger string
	// Reason says why, for people: "resync request 2026-11-22T10:00Z",
	// "config hash changed", "oceand resync by alice".
	Reason string
	// DryRun asks for a plan: nothing is written to Port.
	DryRun bool
	// State holds integration values (store.Key...) to write in the same
	// transaction as the queued or merged job, whatever the outcome,
	// skipped included. A listener stores its watermark here: after a
	// crash the trigger is either queued with its watermark or neither,
	// so it is never lost and never replayed. A nil value deletes the key.
	State map[string][]byte
}

// Outcome is what Enqueue did with a trigger.
type Outcome string

// Outcomes.
const (
	// Queued: a new job waits.
	Queued Outcome = "queued"
	// Merged: the trigger joined the job already waiting.
	Merged Outcome = "merged"
	// Skipped: the trigger was dropped (policy skip, or a dry run while
	// a real resync waits).
	Skipped Outcome = "skipped"
)

// Enqueued reports what Enqueue did.
type Enqueued struct {
	Outcome Outcome `json:"outcome"`
	// Job is the queued or merged job; for Skipped, the job that made the
	// trigger unnecessary (the running or waiting one), or nil.
	Job *store.Job `json:"job,omitempty"`
	// Superseding is the running job this trigger stops, 0 if none.
	Superseding uint64 `json:"superseding,omitempty"`
}

// Engine is the single-flight job runner over the store's durable queue.
type Engine struct {
	cfg    Config
	logger *slog.Logger
	now    func() time.Time

	// mu orders every transition: Enqueue, Cancel, take and finish.
	mu        sync.Mutex
	running   *runState
	started   bool
	cancel    context.CancelCauseFunc
	stopped   chan struct{}
	abandoned bool
	wake      chan struct{}

	// cmu guards changed, closed and replaced on every change (broadcast).
	cmu     sync.Mutex
	changed chan struct{}
}

// runState is the job the runner executes.
type runState struct {
	id        uint64
	dryRun    bool
	cancel    context.CancelCauseFunc
	cancelled bool
	progress  *Progress
}

// Open checks cfg and recovers the queue a previous process left: a job
// found running was cut short by a crash or kill, so it is recorded
// interrupted and a resume job is queued. Open runs nothing; Start does.
func Open(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Run == nil {
		panic("jobs: Config.Store and Config.Run are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch cfg.Policy {
	case "":
		cfg.Policy = PolicySupersede
	case PolicySupersede, PolicyQueue, PolicySkip:
	default:
		return nil, fmt.Errorf("resyncPolicy: must be supersede, queue or skip, got %q", cfg.Policy)
	}
	if cfg.HistoryLimit <= 0 {
		cfg.HistoryLimit = DefaultHistoryLimit
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = DefaultProgressInterval
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	if cfg.SupersedeWarning <= 0 {
		cfg.SupersedeWarning = DefaultSupersedeWarning
	}
	e := &Engine{
		cfg: cfg, logger: cfg.Logger, now: cfg.Now,
		wake: make(chan struct{}, 1), changed: make(chan struct{}),
	}
	if err := e.recover(); err != nil {
		return nil, err
	}
	// jobHistoryLimit may have been lowered since the last run.
	if _, err := cfg.Store.PruneJobs(cfg.HistoryLimit); err != nil {
		return nil, fmt.Errorf("prune job history: %w", err)
	}
	return e, nil
}

// Policy is the resync policy in force.
func (e *Engine) Policy() Policy { return e.cfg.Policy }

// recover marks the job a crashed process left running as interrupted and
// queues its resume.
func (e *Engine) recover() error {
	return e.cfg.Store.Update(func(tx *store.Tx) error {
		for _, id := range tx.JobIDs(store.JobRunning, true, 0) {
			j, err := tx.Job(id)
			if err != nil {
				return fmt.Errorf("recover job %d: %w", id, err)
			}
			e.logger.Warn("a job was running when oceand last stopped (killed or crashed)", "job", id)
			if err := e.interrupt(tx, j, "the daemon stopped while this job ran (killed or crashed)"); err != nil {
				return fmt.Errorf("recover job %d: %w", id, err)
			}
		}
		return nil
	})
}

// interrupt records j interrupted and queues its resume in tx, or fails
// the chain when it was resumed MaxResumeAttempts times already.
func (e *Engine) interrupt(tx *store.Tx, j *store.Job, reason string) error {
	now := e.now()
	j.FinishedAt = &now
	j.State = store.JobInterrupted
	if j.Error == "" {
		j.Error = reason
	}
	abortKinds(j)
	if j.DryRun {
		// A plan is cheap to redo and stale once interrupted.
		return tx.PutJob(j)
	}
	attempts := resumeDepth(tx, j)
	if attempts >= MaxResumeAttempts {
		j.State = store.JobFailed
		j.Error = fmt.Sprintf("%s; chain %d was interrupted %d times (%d resumes): giving up on it, the next trigger starts a fresh resync",
			reason, j.ChainID, attempts+1, attempts)
		e.logger.Error("resync chain failed: interrupted too often", "job", j.ID, "chain", j.ChainID, "resumes", attempts)
		return tx.PutJob(j)
	}
	if err := tx.PutJob(j); err != nil {
		return err
	}
	resume, err := e.waitingForResume(tx, j, now)
	if err != nil {
		return err
	}
	resume.Trigger = TriggerResume
	resume.ResumeOf = j.ID
	resume.ChainID = j.ChainID
	resume.ChainStartedAt = j.ChainStartedAt
	if resume.ChainStartedAt == nil {
		resume.ChainStartedAt = j.StartedAt
	}
	resume.Reasons = append([]string{fmt.Sprintf("resume of job %d (attempt %d of %d)", j.ID, attempts+1, MaxResumeAttempts)}, resume.Reasons...)
	e.logger.Info("resume queued", "job", j.ID, "chain", j.ChainID, "attempt", attempts+1)
	if resume.ID == 0 {
		return tx.CreateJob(resume)
	}
	return tx.PutJob(resume)
}

// waitingForResume returns the job that will resume j: the waiting real
// job if there is one (it becomes the resume, its reasons kept), else a new
// one. A waiting dry run is cancelled: a resume must not wait behind a plan.
func (e *Engine) waitingForResume(tx *store.Tx, j *store.Job, now time.Time) (*store.Job, error) {
	if ids := tx.JobIDs(store.JobQueued, true, 1); len(ids) > 0 {
		w, err := tx.Job(ids[0])
		if err != nil {
			return nil, err
		}
		if !w.DryRun {
			for i, r := range w.Reasons {
				if !strings.HasPrefix(r, w.Trigger+": ") {
					w.Reasons[i] = w.Trigger + ": " + r
				}
			}
			return w, nil
		}
		w.State, w.FinishedAt = store.JobCancelled, &now
		w.Error = fmt.Sprintf("replaced by the resume of job %d", j.ID)
		if err := tx.PutJob(w); err != nil {
			return nil, err
		}
	}
	return &store.Job{State: store.JobQueued, CreatedAt: now}, nil
}

// resumeDepth counts the resume jobs of j's chain up to j.
func resumeDepth(tx *store.Tx, j *store.Job) int {
	n := 0
	for cur := j; cur.ResumeOf != 0 && n <= MaxResumeAttempts; n++ {
		prev, err := tx.Job(cur.ResumeOf)
		if err != nil {
			return n + 1
		}
		cur = prev
	}
	return n
}

// abortKinds marks kinds that were still running as aborted, ended when
// the job ended.
func abortKinds(j *store.Job) {
	var end time.Time
	if j.FinishedAt != nil {
		end = j.FinishedAt.UTC()
	}
	for i := range j.Kinds {
		if k := &j.Kinds[i]; k.State == store.KindRunning {
			k.State, k.FinishedAt = store.KindAborted, end
		}
	}
	if r := &j.Reconcile; r.State == store.ReconcileRunning {
		r.State, r.FinishedAt = store.ReconcileFailed, end
	}
}

// Start starts the runner; it returns at once. Jobs run until Stop, not
// until ctx is done: a job stopped by a plain context cancellation could
// not tell a shutdown from a supersession.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return errors.New("job engine already started")
	}
	e.started = true
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	e.cancel = cancel
	e.stopped = make(chan struct{})
	go e.loop(runCtx, e.stopped)
	e.poke()
	return nil
}

// Stop stops the runner, waiting at most Config.StopTimeout for the running
// job. It is safe to call more than once.
func (e *Engine) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.StopTimeout)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		e.logger.Error("job engine stop", "err", err)
	}
}

// Shutdown cancels the running job with ErrShutdown (it is recorded
// interrupted and its resume queued) and waits until it stopped or ctx is
// done. In the latter case the job is recorded interrupted without waiting
// and ErrStopTimeout is returned: the caller exits anyway, and the job's
// late writes are dropped.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	cancel, stopped := e.cancel, e.stopped
	e.cancel = nil
	e.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel(ErrShutdown)
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
	}
	return e.abandon()
}

// abandon records the running job interrupted while its RunFunc is still
// returning.
func (e *Engine) abandon() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	rs := e.running
	if rs == nil {
		return nil
	}
	e.abandoned = true
	j := rs.progress.close()
	err := e.cfg.Store.Update(func(tx *store.Tx) error {
		return e.interrupt(tx, j, "the daemon stopped before this job did")
	})
	if err != nil {
		return fmt.Errorf("%w (job %d); recording it: %w", ErrStopTimeout, rs.id, err)
	}
	return fmt.Errorf("%w: job %d recorded interrupted", ErrStopTimeout, rs.id)
}

// Enqueue accepts a trigger (see Request and the package doc). The result
// is durable when Enqueue returns: a Kafka offset may be committed, a
// webhook answered.
func (e *Engine) Enqueue(req Request) (Enqueued, error) {
	switch req.Trigger {
	case TriggerStart, TriggerSchedule, TriggerPollRequest, TriggerPollConfig, TriggerWebhook, TriggerKafka, TriggerCLI:
	default:
		return Enqueued{}, fmt.Errorf("queue job: unknown trigger %q", req.Trigger)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out Enqueued
	var supersede *runState
	err := e.cfg.Store.Update(func(tx *store.Tx) error {
		out, supersede = Enqueued{}, nil
		for k, v := range req.State {
			if err := tx.SetValue(k, v); err != nil {
				return fmt.Errorf("store %s: %w", k, err)
			}
		}
		now := e.now()
		rs := e.running
		if ids := tx.JobIDs(store.JobQueued, true, 1); len(ids) > 0 {
			w, err := tx.Job(ids[0])
			if err != nil {
				return err
			}
			if req.DryRun && !w.DryRun {
				out = Enqueued{Outcome: Skipped, Job: w}
				return nil
			}
			addReason(w, req.Trigger, req.Reason)
			if w.DryRun && !req.DryRun {
				w.DryRun = false
				addReason(w, w.Trigger, "the waiting dry run became a real resync")
			}
			if err := tx.PutJob(w); err != nil {
				return err
			}
			out = Enqueued{Outcome: Merged, Job: w}
			if rs != nil && !rs.cancelled && e.supersedes(req, rs) {
				supersede = rs
			}
			return nil
		}
		if rs != nil && !req.DryRun && !rs.dryRun && e.cfg.Policy == PolicySkip {
			out = Enqueued{Outcome: Skipped}
			if j, err := tx.Job(rs.id); err == nil {
				out.Job = j
			}
			return nil
		}
		j := &store.Job{State: store.JobQueued, Trigger: req.Trigger, Reasons: []string{req.Reason}, CreatedAt: now, DryRun: req.DryRun}
		if err := tx.CreateJob(j); err != nil {
			return fmt.Errorf("queue job: %w", err)
		}
		out = Enqueued{Outcome: Queued, Job: j}
		if rs != nil && !rs.cancelled && e.supersedes(req, rs) {
			supersede = rs
		}
		return nil
	})
	if err != nil {
		return Enqueued{}, err
	}
	if supersede != nil {
		out.Superseding = supersede.id
		supersede.cancelled = true
		supersede.cancel(&SupersededError{By: out.Job.ID})
	}
	attrs := []any{"trigger", req.Trigger, "reason", req.Reason, "outcome", out.Outcome}
	if out.Job != nil {
		attrs = append(attrs, "job", out.Job.ID)
	}
	if out.Superseding != 0 {
		attrs = append(attrs, "superseding", out.Superseding)
	}
	e.logger.Info("resync requested", attrs...)
	if out.Outcome != Skipped {
		e.poke()
		e.broadcast()
	}
	return out, nil
}

// supersedes reports whether req stops the running job rs.
func (e *Engine) supersedes(req Request, rs *runState) bool {
	switch {
	case req.DryRun:
		return false
	case rs.dryRun:
		return true
	}
	return e.cfg.Policy == PolicySupersede
}

// addReason appends a merged trigger's reason, naming its trigger when it
// differs from the job's.
func addReason(j *store.Job, trigger, reason string) {
	if trigger != j.Trigger {
		reason = trigger + ": " + reason
	}
	if len(j.Reasons) < maxReasons {
		j.Reasons = append(j.Reasons, reason)
		return
	}
	more := 1
	last := j.Reasons[len(j.Reasons)-1]
	if _, err := fmt.Sscanf(last, "and %d more", &more); err == nil {
		more++
	}
	j.Reasons[len(j.Reasons)-1] = fmt.Sprintf("and %d more", more)
}

// Cancel cancels job id, or the running job when id is 0. A running job
// stops and is recorded cancelled; a queued one is cancelled at once.
func (e *Engine) Cancel(id uint64, reason string) (*store.Job, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rs := e.running
	if id == 0 {
		if rs == nil {
			return nil, fmt.Errorf("%w: no job is running", ErrNotRunning)
		}
		id = rs.id
	}
	if rs != nil && rs.id == id {
		if !rs.cancelled {
			rs.cancelled = true
			rs.cancel(&CancelError{Reason: reason})
			e.logger.Info("job cancelled", "job", id, "reason", reason)
		}
		return rs.progress.Snapshot(), nil
	}
	var j *store.Job
	err := e.cfg.Store.Update(func(tx *store.Tx) error {
		var err error
		if j, err = tx.Job(id); err != nil {
			return err
		}
		if j.State != store.JobQueued {
			return fmt.Errorf("%w: job %d is %s", ErrNotRunning, id, j.State)
		}
		now := e.now()
		j.State, j.FinishedAt = store.JobCancelled, &now
		j.Error = (&CancelError{Reason: reason}).Error()
		return tx.PutJob(j)
	})
	if err != nil {
		return nil, err
	}
	e.logger.Info("queued job cancelled", "job", id, "reason", reason)
	e.broadcast()
	return j, nil
}

// Job returns job id: the live record while it runs, else the stored one.
func (e *Engine) Job(id uint64) (*store.Job, error) {
	if j := e.Running(); j != nil && j.ID == id {
		return j, nil
	}
	return e.cfg.Store.GetJob(id)
}

// Running returns a snapshot of the running job, or nil.
func (e *Engine) Running() *store.Job {
	e.mu.Lock()
	rs := e.running
	e.mu.Unlock()
	if rs == nil {
		return nil
	}
	return rs.progress.Snapshot()
}

// ListJobs lists jobs as store.ListJobs does, with the running job's live
// record.
func (e *Engine) ListJobs(opts store.ListOptions) ([]*store.Job, error) {
	list, err := e.cfg.Store.ListJobs(opts)
	if err != nil {
		return nil, err
	}
	if live := e.Running(); live != nil {
		for i, j := range list {
			if j.ID == live.ID {
				if opts.NoKinds {
					live.Kinds = nil
				}
				list[i] = live
			}
		}
	}
	return list, nil
}

// Changed returns a channel closed at the next change of any job (queued,
// started, progress written, finished).
func (e *Engine) Changed() <-chan struct{} {
	e.cmu.Lock()
	defer e.cmu.Unlock()
	return e.changed
}

func (e *Engine) broadcast() {
	e.cmu.Lock()
	close(e.changed)
	e.changed = make(chan struct{})
	e.cmu.Unlock()
}

// Wait blocks until job id reaches a terminal state and returns it.
func (e *Engine) Wait(ctx context.Context, id uint64) (*store.Job, error) {
	for {
		ch := e.Changed()
		j, err := e.Job(id)
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

func (e *Engine) loop(ctx context.Context, stopped chan struct{}) {
	defer close(stopped)
	for {
		rs, jobCtx, job, err := e.take(ctx)
		if err != nil {
			e.logger.Error("take the next job", "err", err)
		}
		if rs == nil {
			select {
			case <-ctx.Done():
				return
			case <-e.wake:
			}
			continue
		}
		e.execute(jobCtx, rs, job)
	}
}

// take moves the oldest queued job to running.
func (e *Engine) take(ctx context.Context) (*runState, context.Context, *store.Job, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ctx.Err() != nil {
		return nil, nil, nil, nil
	}
	var j *store.Job
	err := e.cfg.Store.Update(func(tx *store.Tx) error {
		ids := tx.JobIDs(store.JobQueued, true, 1)
		if len(ids) == 0 {
			return nil
		}
		var err error
		if j, err = tx.Job(ids[0]); err != nil {
			return err
		}
		now := e.now()
		j.State, j.StartedAt = store.JobRunning, &now
		if j.ChainStartedAt == nil {
			j.ChainStartedAt = &now
		}
		return tx.PutJob(j)
	})
	if err != nil || j == nil {
		return nil, nil, nil, err
	}
	jobCtx, cancel := context.WithCancelCause(ctx)
	rs := &runState{id: j.ID, dryRun: j.DryRun, cancel: cancel, progress: newProgress(e, j)}
	e.running = rs
	e.logger.Info("job started", "job", j.ID, "trigger", j.Trigger, "dryRun", j.DryRun, "resumes", j.ResumeOf)
	e.broadcast()
	return rs, jobCtx, j.Clone(), nil
}

func (e *Engine) execute(ctx context.Context, rs *runState, job *store.Job) {
	stopFlusher := rs.progress.startFlusher(e.cfg.ProgressInterval)
	err := e.run(ctx, job, rs.progress)
	stopFlusher()
	var cause error
	if ctx.Err() != nil {
		cause = context.Cause(ctx)
	}
	rs.cancel(nil)
	e.finish(rs, err, cause)
}

// run calls the RunFunc, turning a panic into a failed job: one bad job
// must not take the daemon down with the queue.
func (e *Engine) run(ctx context.Context, job *store.Job, p *Progress) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("job panicked: %v", r)
		}
	}()
	return e.cfg.Run(ctx, job, p)
}

// finish records how the running job ended.
func (e *Engine) finish(rs *runState, runErr, cause error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer e.broadcast()
	if e.abandoned {
		e.running = nil
		return
	}
	j := rs.progress.close()
	now := e.now()
	j.FinishedAt = &now
	var se *SupersededError
	interrupted := false
	switch {
	case runErr == nil:
		j.State, j.Error = store.JobSucceeded, ""
	case cause == nil:
		j.State, j.Error = store.JobFailed, runErr.Error()
	case errors.As(cause, &se):
		j.State, j.SupersededBy, j.Error = store.JobSuperseded, se.By, cause.Error()
	case errors.Is(cause, ErrCancelled):
		j.State, j.Error = store.JobCancelled, cause.Error()
	default:
		interrupted = true
		j.Error = cause.Error()
	}
	if j.State != store.JobSucceeded {
		abortKinds(j)
	}
	err := e.cfg.Store.Update(func(tx *store.Tx) error {
		if interrupted {
			return e.interrupt(tx, j, cause.Error())
		}
		return tx.PutJob(j)
	})
	e.running = nil
	if err != nil {
		e.logger.Error("record the end of a job", "job", j.ID, "err", err)
		return
	}
	if e.cfg.OnFinish != nil {
		e.cfg.OnFinish(j.Clone())
	}
	t := j.Totals
	attrs := []any{"job", j.ID, "state", j.State, "duration", j.Duration(now).Round(time.Millisecond),
		"upserted", t.Upserted, "unchanged", t.Unchanged, "failed", t.Failed, "dropped", t.Dropped, "deleted", j.Reconcile.Deleted}
	if j.Error != "" {
		attrs = append(attrs, "error", j.Error)
	}
	switch {
	case j.State == store.JobFailed:
		e.logger.Error("job finished", attrs...)
	case j.State == store.JobSucceeded && t.Failed+t.Dropped > 0:
		// Single entities Port refused, or the mapping could not name,
		// leave the job succeeded; the summary must not hide them.
		e.logger.Warn("job finished", append(attrs, "note", fmt.Sprintf(
			"succeeded, but %d entities failed and %d were dropped: see oceand jobs show %d", t.Failed, t.Dropped, j.ID))...)
	default:
		e.logger.Info("job finished", attrs...)
	}
	if _, err := e.cfg.Store.PruneJobs(e.cfg.HistoryLimit); err != nil {
		e.logger.Error("prune job history", "err", err)
	}
	if j.State == store.JobSuperseded {
		e.warnStreak()
	}
}

// warnStreak reports resyncs that keep superseding each other (P17).
func (e *Engine) warnStreak() {
	st, err := e.cfg.Store.SupersededStreak()
	if err != nil {
		e.logger.Error("count superseded jobs", "err", err)
		return
	}
	if st.Superseded < e.cfg.SupersedeWarning {
		return
	}
	since := "ever"
	if st.Since != nil {
		since = "since " + st.Since.UTC().Format(time.RFC3339)
	}
	e.logger.Warn(fmt.Sprintf("%d resyncs in a row were superseded before completing; none has completed %s. "+
		"Triggers arrive faster than a resync runs: consider resyncPolicy queue, or fewer triggers", st.Superseded, since),
		"superseded", st.Superseded, "lastCompleted", st.LastCompleted)
}
