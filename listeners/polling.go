package listeners

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"oceand/port"
)

// PortReader is what polling reads from Port.
type PortReader interface {
	GetIntegration(ctx context.Context) (*port.Integration, error)
	GetResyncRequest(ctx context.Context) (*port.ResyncRequest, error)
}

// StateStore reads and writes listener state kept between restarts.
type StateStore interface {
	StateReader
	SetValue(key string, value []byte) error
}

// Polling asks Port every Interval whether a resync is wanted: a changed
// mapping (config hash) or a resync request newer than the stored
// watermark. It needs no inbound network. Hash and watermark are stored with
// the job they queue (Trigger.State), never before, so a crash between the
// poll and the job cannot lose the request, and never after, so a restart
// cannot replay it.
type Polling struct {
	Port     PortReader
	Queue    Requester
	State    StateStore
	Interval time.Duration
	// MaxBackoff caps the wait between polls while Port is unreachable.
	// Default 5 minutes (or Interval when that is longer).
	MaxBackoff time.Duration
	// OnMissing, when set, is called when Port answers that the
	// integration does not exist (deleted in Port, or Port's data reset):
	// the daemon registers it again. The poll succeeds if it does.
	OnMissing func(ctx context.Context, cause error) error
	Logger    *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu       sync.Mutex
	cancel   context.CancelFunc
	done     chan struct{}
	lastErr  error
	lastPoll time.Time // last poll that reached Port
	lastTry  time.Time // last poll, whatever its outcome
	since    time.Time // first failure of the current outage
	lastLog  time.Time
	failures int
}

// PollStatus is what `oceand state` shows of the polling listener.
type PollStatus struct {
	LastPoll     *time.Time `json:"lastPoll,omitempty"`
	LastSuccess  *time.Time `json:"lastSuccess,omitempty"`
	LastError    string     `json:"lastError,omitempty"`
	FailingSince *time.Time `json:"failingSince,omitempty"`
	Failures     int        `json:"failures,omitempty"`
}

// Status is a snapshot of the last polls.
func (p *Polling) Status() *PollStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := &PollStatus{Failures: p.failures}
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	st.LastPoll, st.LastSuccess, st.FailingSince = at(p.lastTry), at(p.lastPoll), at(p.since)
	if p.lastErr != nil {
		st.LastError = p.lastErr.Error()
	}
	return st
}

func (p *Polling) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

// pollLogEvery is how often a lasting polling failure is logged again.
const pollLogEvery = time.Minute

// Start begins polling in the background; the first poll runs at once.
func (p *Polling) Start(ctx context.Context) error {
	if p.Interval <= 0 {
		return errors.New("polling interval must be positive")
	}
	p.mu.Lock()
	if p.cancel != nil {
		p.mu.Unlock()
		return errors.New("polling already started")
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	p.mu.Unlock()
	// The first poll runs before Start returns: what Port asked for while
	// oceand was down is queued by the time the daemon says it is ready.
	wait := p.record(p.Poll(ctx))
	go p.loop(ctx, wait)
	return nil
}

// Stop ends polling and waits for the loop to exit. Safe to call twice.
func (p *Polling) Stop() {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (p *Polling) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// Healthy reports whether the last poll reached Port.
func (p *Polling) Healthy() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastPoll.IsZero() && p.lastErr == nil {
		return errors.New("no poll has completed yet")
	}
	if p.lastErr != nil {
		return fmt.Errorf("polls failing since %s (%d in a row): %w", p.since.UTC().Format(time.RFC3339), p.failures, p.lastErr)
	}
	return nil
}

func (p *Polling) loop(ctx context.Context, wait time.Duration) {
	defer close(p.done)
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		err := p.Poll(ctx)
		if ctx.Err() != nil {
			return
		}
		wait = p.record(err)
	}
}

// record notes a poll's outcome, logs an outage at its first failed poll,
// then once a minute while it lasts, and returns how long to wait before
// the next poll.
func (p *Polling) record(err error) time.Duration {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastErr, p.lastTry = err, now
	if err == nil {
		if p.failures > 0 {
			p.log().Info("Port is reachable again; polling resumed", "failed_polls", p.failures, "since", p.since)
		}
		p.failures, p.since = 0, time.Time{}
		p.lastPoll = now
		return p.Interval
	}
	p.failures++
	maxWait := p.MaxBackoff
	if maxWait == 0 {
		maxWait = max(5*time.Minute, p.Interval)
	}
	wait := p.Interval
	for i := 1; i < p.failures && wait < maxWait; i++ {
		wait *= 2
	}
	wait = min(wait, maxWait)
	switch {
	case p.failures == 1:
		p.since, p.lastLog = now, now
		p.log().Warn("cannot poll Port; retrying with backoff (logged again every minute while it lasts)", "err", err, "next_poll_in", wait)
	case now.Sub(p.lastLog) >= pollLogEvery:
		p.lastLog = now
		p.log().Warn("still cannot poll Port; retrying with backoff", "since", p.since, "failed_polls", p.failures, "err", err, "next_poll_in", wait)
	}
	return wait
}

// Poll checks Port once and queues a resync if the mapping changed or a
// new resync request exists. On the very first poll of a state directory
// the current hash and request become the baseline without a resync: the
// start-up resync (resyncOnStart) covers them.
func (p *Polling) Poll(ctx context.Context) error {
	integ, err := p.Port.GetIntegration(ctx)
	if errors.Is(err, port.ErrNotFound) && p.OnMissing != nil {
		if merr := p.OnMissing(ctx, err); merr != nil {
			return fmt.Errorf("read integration: %w; %w", err, merr)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read integration: %w", err)
	}
	req, err := p.Port.GetResyncRequest(ctx)
	if err != nil {
		return fmt.Errorf("read resync request: %w", err)
	}
	hash := ConfigHash(integ.Config)
	storedHash, err := p.State.GetValue(KeyConfigHash)
	if err != nil {
		return err
	}
	storedMark, err := p.State.GetValue(KeyRequestWatermark)
	if err != nil {
		return err
	}
	var reqAt time.Time
	if req != nil {
		reqAt, err = time.Parse(time.RFC3339Nano, req.UpdatedAt)
		if err != nil {
			p.log().Warn("ignoring resync request with an unreadable time", "updatedAt", req.UpdatedAt)
			reqAt = time.Time{}
		}
	}

	if storedHash == nil {
		if err := p.State.SetValue(KeyConfigHash, []byte(hash)); err != nil {
			return err
		}
		storedHash = []byte(hash)
	}
	if storedMark == nil {
		// The zero time is a real baseline: "no request seen yet".
		storedMark = []byte(reqAt.UTC().Format(time.RFC3339Nano))
		if err := p.State.SetValue(KeyRequestWatermark, storedMark); err != nil {
			return err
		}
		if !reqAt.IsZero() {
			p.log().Info("taking Port's latest resync request as the baseline", "updatedAt", req.UpdatedAt)
		}
	}

	t := Trigger{State: map[string][]byte{}}
	if string(storedHash) != hash {
		t.Kind = TriggerPollConfig
		t.Reason = "the mapping in Port changed"
		t.State[KeyConfigHash] = []byte(hash)
	}
	if !reqAt.IsZero() {
		mark, err := time.Parse(time.RFC3339Nano, string(storedMark))
		if err != nil {
			// An unreadable watermark cannot hold a request back.
			p.log().Warn("the stored resync request watermark is unreadable; taking Port's request as new", "watermark", string(storedMark), "err", err)
			mark = time.Time{}
		}
		if reqAt.After(mark) {
			if t.Kind == "" {
				t.Kind = TriggerPollRequest
				t.Reason = "Port holds a resync request from " + reqAt.UTC().Format(time.RFC3339)
			} else {
				t.Reason += "; Port holds a resync request from " + reqAt.UTC().Format(time.RFC3339)
			}
			t.State[KeyRequestWatermark] = []byte(reqAt.UTC().Format(time.RFC3339Nano))
		}
	}
	if t.Kind == "" {
		return nil
	}
	id, err := p.Queue.Request(ctx, t)
	if err != nil {
		return fmt.Errorf("queue resync: %w", err)
	}
	p.log().Info("resync requested", "trigger", t.Kind, "reason", t.Reason, "job", id)
	return nil
}

// StartState is the listener state a start-up resync should store with its
// job: the current config hash and request watermark, so the first poll
// after it does not queue a second resync for the same state.
func StartState(ctx context.Context, p PortReader) (map[string][]byte, error) {
	integ, err := p.GetIntegration(ctx)
	if err != nil {
		return nil, err
	}
	state := map[string][]byte{KeyConfigHash: []byte(ConfigHash(integ.Config))}
	req, err := p.GetResyncRequest(ctx)
	if err != nil {
		return nil, err
	}
	if req != nil {
		if at, err := time.Parse(time.RFC3339Nano, req.UpdatedAt); err == nil {
			state[KeyRequestWatermark] = []byte(at.UTC().Format(time.RFC3339Nano))
		}
	}
	return state, nil
}
