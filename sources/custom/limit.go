package custom

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// hostLimits paces the requests to each host: rateLimit per second (a
// token bucket), a pause for every request after a 429 or 503 with
// Retry-After, and spacing when X-RateLimit-Remaining runs low.
type hostLimits struct {
	perSecond float64
	burst     int
	now       func() time.Time

	mu    sync.Mutex
	hosts map[string]*hostLimit
}

type hostLimit struct {
	limiter *rate.Limiter

	mu sync.Mutex
	// pausedUntil holds every request to the host (a 429's Retry-After,
	// or the budget's reset when it is spent).
	pausedUntil time.Time
	// While the budget is low (until spacingUntil), requests start at
	// least spacing apart; next is the earliest start of the next one.
	spacing      time.Duration
	spacingUntil time.Time
	next         time.Time
}

// lowBudget is the share of X-RateLimit-Limit under which requests are
// spread over the time left to the reset.
const lowBudget = 0.10

func newHostLimits(perSecond float64, burst int, now func() time.Time) *hostLimits {
	if burst <= 0 {
		burst = max(1, int(math.Ceil(perSecond)))
	}
	return &hostLimits{perSecond: perSecond, burst: burst, now: now, hosts: map[string]*hostLimit{}}
}

func (l *hostLimits) host(host string) *hostLimit {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hosts[host]
	if h == nil {
		limit := rate.Inf
		if l.perSecond > 0 {
			limit = rate.Limit(l.perSecond)
		}
		h = &hostLimit{limiter: rate.NewLimiter(limit, l.burst)}
		l.hosts[host] = h
	}
	return h
}

// wait blocks until a request to host may start.
func (l *hostLimits) wait(ctx context.Context, host string) error {
	h := l.host(host)
	for {
		h.mu.Lock()
		now := l.now()
		until := h.pausedUntil
		if now.Before(h.spacingUntil) && h.next.After(until) {
			until = h.next
		}
		if !now.Before(until) {
			if now.Before(h.spacingUntil) {
				h.next = now.Add(h.spacing)
			}
			h.mu.Unlock()
			return h.limiter.Wait(ctx)
		}
		h.mu.Unlock()
		if err := sleep(ctx, until.Sub(now)); err != nil {
			return err
		}
	}
}

// observe reads the pacing signals of an answer from host. It returns how
// long every request to the host now waits, when the answer started or
// extended a pause.
func (l *hostLimits) observe(host string, resp *http.Response) (paused time.Duration) {
	h := l.host(host)
	now := l.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	pause := func(until time.Time) {
		if until.After(h.pausedUntil) {
			h.pausedUntil = until
			paused = until.Sub(now)
		}
	}
	if rateLimited(resp) || resp.StatusCode == http.StatusServiceUnavailable {
		if d, ok := serverWait(resp.Header, now); ok {
			pause(now.Add(d))
		}
		return paused
	}
	remaining, okR := headerNumber(resp.Header, "X-RateLimit-Remaining")
	limit, okL := headerNumber(resp.Header, "X-RateLimit-Limit")
	reset, okReset := rateLimitReset(resp.Header, now)
	if !okR || !okReset || !reset.After(now) {
		return 0
	}
	reset = minTime(reset, now.Add(MaxRetryAfter))
	switch {
	case remaining <= 0:
		pause(reset)
	case okL && limit > 0 && remaining < limit*lowBudget:
		h.spacing = time.Duration(float64(reset.Sub(now)) / remaining)
		h.spacingUntil = reset
		if next := now.Add(h.spacing); next.After(h.next) {
			h.next = next
		}
	}
	return paused
}

func headerNumber(h http.Header, name string) (float64, bool) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseFloat(v, 64)
	return n, err == nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
