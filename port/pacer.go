package port

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Pacer keeps a process under Port's rate limit before Port has to say
// 429. Port counts requests per organization in fixed windows and reports
// on every answer x-ratelimit-limit, -remaining, -reset (epoch seconds) and
// -period. The pacer keeps its own count of the requests left in the
// current window (the lowest of Port's figures and its own bookings, so
// requests in flight are not counted twice), lets requests go freely while
// more than half the window's budget is left, then spreads the rest evenly
// over the time until the reset, and once the budget is spent holds
// requests until the next window. A 429 holds every request until
// Retry-After (or until Port answers one). Waits end early when the
// caller's context ends.
//
// One Pacer is shared by all requests of a Client; give the same Pacer to
// Clients of one organization.
type Pacer struct {
	now func() time.Time

	mu          sync.Mutex
	known       bool
	limit       int
	period      time.Duration
	reset       time.Time // end of the current window
	remaining   int       // requests left in the window, by our count
	next        time.Time // earliest start of the next request
	pausedUntil time.Time
}

// NewPacer returns a Pacer using clock now (time.Now when nil).
func NewPacer(now func() time.Time) *Pacer {
	if now == nil {
		now = time.Now
	}
	return &Pacer{now: now}
}

// wait blocks until the caller may send a request, at most maxWait.
func (p *Pacer) wait(ctx context.Context, maxWait time.Duration) error {
	d := min(p.reserve(), maxWait)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// reserve books the next request slot and returns how long until it.
func (p *Pacer) reserve() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	start := now
	if p.pausedUntil.After(start) {
		start = p.pausedUntil
	}
	if !p.known {
		return start.Sub(now)
	}
	if p.next.After(start) {
		start = p.next
	}
	if !p.roll(start) {
		return start.Sub(now)
	}
	if p.remaining <= p.margin() {
		// The window is spent: the first slot of the next one.
		start = p.reset.Add(p.grace())
		if !p.roll(start) {
			return start.Sub(now)
		}
	}
	p.remaining--
	p.next = start
	if p.remaining < p.limit/2 && p.remaining > p.margin() {
		p.next = start.Add(p.reset.Sub(start) / time.Duration(p.remaining-p.margin()))
	}
	return start.Sub(now)
}

// roll moves the window forward until it contains t, assuming a fresh
// budget for each new window (Port's next answer corrects it). Without a
// known period it forgets the window and returns false.
func (p *Pacer) roll(t time.Time) bool {
	if t.Before(p.reset) {
		return true
	}
	if p.period <= 0 {
		p.known = false
		return false
	}
	n := t.Sub(p.reset)/p.period + 1
	p.reset = p.reset.Add(n * p.period)
	p.remaining = p.limit
	return true
}

// margin is the part of the budget left unused, for requests the count
// cannot see (another process of the organization, answers not yet back).
func (p *Pacer) margin() int { return max(1, p.limit/50) }

// grace is how long after a window's reset the next one is entered, for
// clocks and Port's window edges that do not agree to the millisecond.
func (p *Pacer) grace() time.Duration { return min(50*time.Millisecond, p.period/100) }

// observe takes the rate-limit headers of an answer into account.
func (p *Pacer) observe(status int, h http.Header) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if status == http.StatusTooManyRequests {
		if d, ok := parseWait(h.Get("Retry-After"), now); ok && now.Add(d).After(p.pausedUntil) {
			p.pausedUntil = now.Add(d)
		}
	} else if status < 500 {
		// Port answered: whatever pause a 429 asked for is over.
		p.pausedUntil = time.Time{}
	}
	limit, err1 := strconv.Atoi(h.Get("X-Ratelimit-Limit"))
	remaining, err2 := strconv.Atoi(h.Get("X-Ratelimit-Remaining"))
	resetEpoch, err3 := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || limit <= 0 {
		return
	}
	if status == http.StatusTooManyRequests {
		remaining = 0
	}
	reset := time.Unix(resetEpoch, 0)
	if period, err := strconv.Atoi(h.Get("X-Ratelimit-Period")); err == nil && period > 0 {
		p.period = time.Duration(period) * time.Second
	}
	switch {
	case !p.known || reset.After(p.reset):
		p.known, p.limit, p.reset, p.remaining = true, limit, reset, remaining
	case reset.Equal(p.reset):
		p.limit = limit
		p.remaining = min(p.remaining, remaining)
	}
	// An answer from an older window says nothing about this one.
}

// Budget is the pacer's count of requests left in Port's current
// rate-limit window and the window's limit; known is false until Port
// has reported its limits.
func (p *Pacer) Budget() (remaining, limit int, known bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.known {
		return 0, 0, false
	}
	p.roll(p.now())
	return p.remaining, p.limit, p.known
}
