package emulator

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RateLimit is Port's per-organization request limit: fixed windows of
// Period aligned on the Unix epoch, so x-ratelimit-reset is a whole number
// of seconds and exact. Every /v1 response then carries x-ratelimit-period,
// -limit, -remaining and -reset (epoch seconds); a request over the limit
// gets 429 with Retry-After (seconds) and is not counted.
type RateLimit struct {
	// Limit is the number of requests allowed per Period. 0 disables rate
	// limiting and the x-ratelimit-* headers.
	Limit int
	// Period is the window length, rounded up to whole seconds. Default 5m.
	Period time.Duration
	// UnauthenticatedLimit bounds requests without a valid token (token
	// requests included) per UnauthenticatedPeriod, in their own bucket.
	// Default 100 per 5m, Port's published figure; negative disables it.
	UnauthenticatedLimit  int
	UnauthenticatedPeriod time.Duration
	// LimitIntegrationPatches counts PATCH /v1/integration/{id} and
	// PATCH .../resync-state against the limit. Off by default: Ocean never
	// retries a PATCH, so a 429 there loses a state update or fails startup.
	LimitIntegrationPatches bool
}

type bucket struct {
	limit  int
	period int64 // seconds
	window int64 // index of the current window
	count  int
}

type limiter struct {
	cfg RateLimit

	mu     sync.Mutex
	authed bucket
	unauth bucket
}

func newLimiter(cfg RateLimit) *limiter {
	if cfg.Limit <= 0 {
		return &limiter{}
	}
	if cfg.Period <= 0 {
		cfg.Period = 5 * time.Minute
	}
	if cfg.UnauthenticatedLimit == 0 {
		cfg.UnauthenticatedLimit = 100
	}
	if cfg.UnauthenticatedPeriod <= 0 {
		cfg.UnauthenticatedPeriod = 5 * time.Minute
	}
	return &limiter{
		cfg:    cfg,
		authed: bucket{limit: cfg.Limit, period: wholeSeconds(cfg.Period), window: -1},
		unauth: bucket{limit: cfg.UnauthenticatedLimit, period: wholeSeconds(cfg.UnauthenticatedPeriod), window: -1},
	}
}

func wholeSeconds(d time.Duration) int64 {
	return max(1, int64(math.Ceil(d.Seconds())))
}

var exemptPatches = map[string]bool{
	"PATCH /v1/integration/{id}":              true,
	"PATCH /v1/integration/{id}/resync-state": true,
}

// allow counts the request and sets the rate-limit headers. When the
// request is over the limit it answers 429 itself and returns false.
func (l *limiter) allow(w http.ResponseWriter, r *http.Request, pattern string, authed bool, now time.Time) bool {
	if l.cfg.Limit <= 0 {
		return true
	}
	b := &l.authed
	if !authed {
		if l.cfg.UnauthenticatedLimit < 0 {
			return true
		}
		b = &l.unauth
	}
	count := !exemptPatches[pattern] || l.cfg.LimitIntegrationPatches || !authed
	l.mu.Lock()
	if idx := now.Unix() / b.period; idx != b.window {
		b.window, b.count = idx, 0
	}
	reset := (b.window + 1) * b.period
	over := count && b.count >= b.limit
	if count && !over {
		b.count++
	}
	remaining := b.limit - b.count
	limit, period := b.limit, b.period
	l.mu.Unlock()

	h := w.Header()
	h.Set("x-ratelimit-period", strconv.FormatInt(period, 10))
	h.Set("x-ratelimit-limit", strconv.Itoa(limit))
	h.Set("x-ratelimit-remaining", strconv.Itoa(max(0, remaining)))
	h.Set("x-ratelimit-reset", strconv.FormatInt(reset, 10))
	if !over {
		return true
	}
	wait := time.Unix(reset, 0).Sub(now)
	h.Set("Retry-After", strconv.FormatInt(max(1, int64(math.Ceil(wait.Seconds()))), 10))
	writeError(w, http.StatusTooManyRequests, "rate_limited", "rate limit of "+strconv.Itoa(limit)+" requests per "+strconv.FormatInt(period, 10)+" s exceeded")
	return false
}
