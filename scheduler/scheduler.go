// Package scheduler queues resyncs on a schedule: every
// scheduledResyncInterval minutes, or at the times of a cron spec
// (scheduledResyncCron). Unlike Ocean's in-memory loop, the next run time is
// stored, so a run missed while oceand was down starts right after the
// restart, once, and a restart never runs the schedule twice.
//
// The next run is stored in the same transaction as the job it queues (the
// State of the jobs.Request): after a crash either both are there or
// neither.
package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"oceand/jobs"
	"oceand/store"
)

// Queue is the part of the job engine the scheduler uses.
type Queue interface {
	Enqueue(req jobs.Request) (jobs.Enqueued, error)
}

// Config configures a Scheduler. Interval and Cron are exclusive; with
// neither the scheduler does nothing.
type Config struct {
	Store *store.Store
	Queue Queue
	// Interval queues a resync every Interval (scheduledResyncInterval).
	Interval time.Duration
	// Cron is a standard 5-field cron spec or a descriptor (@hourly,
	// @every 90m). Times are UTC unless the spec starts with
	// CRON_TZ=Area/City.
	Cron   string
	Logger *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// RetryDelay is how long to wait after a failed enqueue. Default 1m.
	RetryDelay time.Duration
}

// Scheduler queues scheduled resyncs.
type Scheduler struct {
	cfg    Config
	logger *slog.Logger
	now    func() time.Time
	// spec identifies the schedule in the store: a changed setting
	// discards the stored next run.
	spec     string
	schedule cron.Schedule // nil for an interval

	mu      sync.Mutex
	next    time.Time
	cancel  context.CancelFunc
	stopped chan struct{}
}

// persisted is the stored form of the schedule.
type persisted struct {
	Spec string    `json:"spec"`
	Next time.Time `json:"next"`
}

// New checks cfg; a bad cron spec or both settings at once are errors
// naming the setting.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = time.Minute
	}
	s := &Scheduler{cfg: cfg, logger: cfg.Logger, now: cfg.Now}
	switch {
	case cfg.Interval < 0:
		return nil, fmt.Errorf("scheduledResyncInterval: must be a positive number of minutes, got %v", cfg.Interval)
	case cfg.Interval > 0 && cfg.Cron != "":
		return nil, errors.New("scheduledResyncInterval and scheduledResyncCron are both set; keep one")
	case cfg.Interval > 0:
		s.spec = "every " + formatInterval(cfg.Interval)
	case cfg.Cron != "":
		sched, err := ParseCron(cfg.Cron)
		if err != nil {
			return nil, err
		}
		s.schedule = sched
		s.spec = "cron " + cfg.Cron
	}
	return s, nil
}

// ParseCron parses a scheduledResyncCron spec with robfig/cron's standard
// parser, in UTC unless it names CRON_TZ. The parser panics on some input
// (`TZ=0`); that is an error here.
func ParseCron(spec string) (sched cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("scheduledResyncCron %q: not a cron spec", spec)
		}
	}()
	full := strings.TrimSpace(spec)
	if !strings.HasPrefix(full, "TZ=") && !strings.HasPrefix(full, "CRON_TZ=") {
		full = "CRON_TZ=UTC " + full
	}
	sched, err = cron.ParseStandard(full)
	if err != nil {
		return nil, fmt.Errorf("scheduledResyncCron %q: %w", spec, err)
	}
	if sched.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("scheduledResyncCron %q: never fires", spec)
	}
	return sched, nil
}

func formatInterval(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", int(d/time.Minute))
	}
	return d.String()
}

// Enabled reports whether a schedule is set.
func (s *Scheduler) Enabled() bool { return s.spec != "" }

// Describe names the schedule for people ("every 60m", "cron 0 3 * * *").
func (s *Scheduler) Describe() string { return s.spec }

// NextRun is the time of the next scheduled resync; false when there is
// none (no schedule, or not started).
func (s *Scheduler) NextRun() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next, !s.next.IsZero()
}

// IntervalMinutes is the schedule's period in minutes as Port's
// resync-state wants it (intervalInMinuets): the interval, or the gap
// between the next two runs of a cron spec. 0 without a schedule.
func (s *Scheduler) IntervalMinutes() int {
	if s.cfg.Interval > 0 {
		return int(s.cfg.Interval / time.Minute)
	}
	if s.schedule == nil {
		return 0
	}
	first := s.schedule.Next(s.now())
	return int(s.schedule.Next(first).Sub(first) / time.Minute)
}

// Start reads the stored next run and starts queueing. A run that fell due
// while oceand was down is queued at once. Without a schedule Start does
// nothing.
func (s *Scheduler) Start(ctx context.Context) error {
	if !s.Enabled() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return errors.New("scheduler already started")
	}
	next, err := s.load()
	if err != nil {
		return err
	}
	s.next = next
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.stopped = make(chan struct{})
	go s.loop(ctx, s.stopped)
	return nil
}

// load returns the stored next run, or a new one (stored) when there is
// none or the schedule changed.
func (s *Scheduler) load() (time.Time, error) {
	raw, err := s.cfg.Store.GetValue(store.KeySchedule)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the schedule: %w", err)
	}
	var p persisted
	if raw != nil {
		if err := json.Unmarshal(raw, &p); err != nil {
			s.logger.Warn("the stored schedule is unreadable; starting it afresh", "err", err)
			p = persisted{}
		}
	}
	if p.Spec == s.spec && !p.Next.IsZero() {
		if now := s.now(); !p.Next.After(now) {
			s.logger.Info("a scheduled resync fell due while oceand was down; queueing it now", "schedule", s.spec, "due", p.Next)
		}
		return p.Next, nil
	}
	next := s.following(time.Time{}, s.now())
	if p.Spec != "" && p.Spec != s.spec {
		s.logger.Info("the schedule changed", "was", p.Spec, "now", s.spec, "next", next)
	}
	data, err := s.encode(next)
	if err != nil {
		return time.Time{}, err
	}
	if err := s.cfg.Store.SetValue(store.KeySchedule, data); err != nil {
		return time.Time{}, fmt.Errorf("store the schedule: %w", err)
	}
	return next, nil
}

// following is the run after due (zero: after none yet) as of now. An
// interval keeps its cadence unless runs were missed; a cron spec follows
// the clock.
func (s *Scheduler) following(due, now time.Time) time.Time {
	if s.schedule != nil {
		return s.schedule.Next(now)
	}
	if due.IsZero() {
		return now.Add(s.cfg.Interval)
	}
	next := due.Add(s.cfg.Interval)
	if !next.After(now) {
		next = now.Add(s.cfg.Interval)
	}
	return next
}

func (s *Scheduler) encode(next time.Time) ([]byte, error) {
	data, err := json.Marshal(persisted{Spec: s.spec, Next: next.UTC()})
	if err != nil {
		return nil, fmt.Errorf("encode the schedule: %w", err)
	}
	return data, nil
}

// Stop stops queueing; safe to call more than once.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	cancel, stopped := s.cancel, s.stopped
	s.cancel = nil
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-stopped
}

func (s *Scheduler) loop(ctx context.Context, stopped chan struct{}) {
	defer close(stopped)
	for {
		s.mu.Lock()
		due := s.next
		s.mu.Unlock()
		t := time.NewTimer(due.Sub(s.now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := s.fire(due); err != nil {
			s.logger.Error("queue a scheduled resync; retrying", "err", err, "retryIn", s.cfg.RetryDelay)
			t := time.NewTimer(s.cfg.RetryDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// fire queues the run due at due and, in the same transaction, stores the
// run after it.
func (s *Scheduler) fire(due time.Time) error {
	now := s.now()
	next := s.following(due, now)
	data, err := s.encode(next)
	if err != nil {
		return err
	}
	reason := fmt.Sprintf("%s, due %s", s.spec, due.UTC().Format(time.RFC3339))
	if late := now.Sub(due); late > time.Minute {
		reason += fmt.Sprintf(" (overdue by %s)", late.Round(time.Second))
	}
	if _, err := s.cfg.Queue.Enqueue(jobs.Request{
		Trigger: jobs.TriggerSchedule,
		Reason:  reason,
		State:   map[string][]byte{store.KeySchedule: data},
	}); err != nil {
		return err
	}
	s.mu.Lock()
	s.next = next
	s.mu.Unlock()
	s.logger.Debug("scheduled resync queued", "next", next)
	return nil
}

// Stored reads the next run stored in st (for `oceand state` without a
// daemon): the schedule it belongs to and its time.
func Stored(st *store.Store) (spec string, next time.Time, ok bool, err error) {
	raw, err := st.GetValue(store.KeySchedule)
	if err != nil || raw == nil {
		return "", time.Time{}, false, err
	}
	var p persisted
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", time.Time{}, false, fmt.Errorf("decode the schedule: %w", err)
	}
	return p.Spec, p.Next, !p.Next.IsZero(), nil
}
