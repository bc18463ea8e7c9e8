package port

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// call is the state of one API call across its attempts. The retry loop
// runs the attempts one after the other, so it needs no lock.
type call struct {
	req      *request
	attempts int
	token    *accessToken   // token the last attempt carried
	answer   *http.Response // the last answer accounted to the token
	reauth   bool           // the last attempt got 401: fetch a new token
	reauths  int            // new tokens this call asked for after a 401
	retries  int            // other retries
	body     []byte
	bodyRead bool
	// waited is the backoff before the coming retry; the pacer may add
	// only what the cap leaves.
	waited time.Duration
	// attemptStart is when the current attempt was sent.
	attemptStart time.Time
	route        string // the request's route template
	observed     int    // the last attempt told to the observer
}

type callKey struct{}

func callOf(ctx context.Context) *call {
	st, _ := ctx.Value(callKey{}).(*call)
	if st == nil {
		return &call{req: &request{}}
	}
	return st
}

// checkRetry decides whether an attempt is repeated.
//
// Every request is retried when Port surely did not process it: 429, a 401
// (with a new token, see refreshAgain) and a connection that could not be
// opened.
// Requests that are safe to repeat are also retried on 408, 502, 503, 504
// and any other transport error, a reset while reading the answer
// included. 500 is not retried (as in Ocean): Port answers it for requests
// that fail again; 4xx answers are final.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	st := callOf(ctx)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	// go-retryablehttp checks an attempt twice when its answer is read
	// by a response handler: it is observed once.
	if st.observed != st.attempts {
		st.observed = st.attempts
		c.cfg.Observer.Attempt(st.req.method, st.route, status, c.now().Sub(st.attemptStart))
	}
	if ctx.Err() != nil {
		return false, context.Cause(ctx)
	}
	if st.req.noRetry {
		return false, err
	}
	retry, err := c.shouldRetry(st, resp, err)
	if retry && !st.reauth {
		// A 401 retry is bounded by refreshAgain; the others by RetryMax.
		if st.retries >= c.cfg.RetryMax {
			return false, err
		}
		st.retries++
	}
	if retry {
		reason := any(err)
		if err == nil {
			reason = resp.StatusCode
		}
		c.logger.Debug("port request will be retried", "method", st.req.method, "route", st.req.path, "attempt", st.attempts, "reason", reason)
	}
	return retry, err
}

func (c *Client) shouldRetry(st *call, resp *http.Response, err error) (bool, error) {
	if err != nil {
		return !st.req.unsafe || notSent(err), err
	}
	// checkRetry may see one answer twice (before and after it is read).
	if st.token != nil && st.answer != resp {
		st.answer = resp
		if resp.StatusCode == http.StatusUnauthorized {
			st.token.refused.Add(1)
		} else {
			st.token.worked.Store(true)
		}
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		if st.req.noAuth || !c.refreshAgain(st) {
			return false, nil
		}
		st.reauth = true
		st.reauths++
		return true, nil
	case http.StatusTooManyRequests:
		return true, nil
	case http.StatusRequestTimeout, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return !st.req.unsafe, nil
	}
	return false, nil
}

// maxTokenRefreshes bounds the new tokens one request asks for after 401s.
// Tokens that die under load (revoked, rotated) are replaced as often as
// needed while each works; the bound is a backstop.
const maxTokenRefreshes = 20

// refreshAgain decides whether a 401 is worth a new token: the first one of
// a call always is (the cached token may have expired or been revoked);
// after that, as long as the refused token worked at least once, for this
// request or another. A token every attempt of which was refused (none is
// still waiting for its answer) never worked: the credentials no longer
// get a usable token, and asking again would loop.
func (c *Client) refreshAgain(st *call) bool {
	switch {
	case st.reauths == 0:
		return true
	case st.reauths >= maxTokenRefreshes, st.token == nil:
		return false
	}
	t := st.token
	return t.worked.Load() || t.refused.Load() < t.uses.Load()
}

// notSent reports whether err means the request never reached Port: the
// connection could not be opened.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// backoff is how long to wait before attempt n+1; the call remembers it,
// so that pacing adds no more than the cap leaves.
func (c *Client) backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	d := c.wait(min, max, attempt, resp)
	if resp != nil && resp.Request != nil {
		st := callOf(resp.Request.Context())
		st.waited = d
		c.cfg.Observer.RetryWait(st.req.method, st.route, resp.StatusCode, d)
	}
	return d
}

// wait is the backoff policy. A 401 is retried at once. Otherwise Port's own word counts: Retry-After (any status), then
// on a 429 x-ratelimit-reset, as seconds, an epoch or a date, plus up to
// 10% jitter so that waiting clients do not return together. Without them
// the wait grows exponentially from min with ±20% jitter. Every wait is
// capped at max: go-retryablehttp's default backoff does not cap
// Retry-After.
func (c *Client) wait(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if resp.StatusCode == http.StatusUnauthorized {
			return 0
		}
		now := c.now()
		d, ok := parseWait(resp.Header.Get("Retry-After"), now)
		if !ok && resp.StatusCode == http.StatusTooManyRequests {
			d, ok = parseWait(resp.Header.Get("X-Ratelimit-Reset"), now)
		}
		if ok && d > 0 {
			d += time.Duration(rand.Float64() * 0.1 * float64(d))
			return capWait(d, max)
		}
	}
	d := float64(min) * math.Pow(2, float64(attempt))
	d *= 0.8 + 0.4*rand.Float64()
	return capWait(time.Duration(math.Min(d, float64(max))), max)
}

func capWait(d, max time.Duration) time.Duration {
	if d > max {
		return max
	}
	return d
}

// prepareAttempt readies an authenticated request for its first attempt:
// it waits for the pacer and sets a valid token.
func (c *Client) prepareAttempt(ctx context.Context, req *http.Request, st *call) error {
	if st.req.noAuth {
		return nil
	}
	maxWait := max(0, c.cfg.RetryWaitMax-st.waited)
	st.waited = 0
	if !st.req.unpaced {
		if err := c.pacer.wait(ctx, maxWait); err != nil {
			return err
		}
	}
	if st.reauth {
		c.invalidateToken(st.token)
		st.reauth = false
	}
	tok, err := c.accessToken(ctx)
	if err != nil {
		return err
	}
	tok.uses.Add(1)
	st.token = tok
	req.Header.Set("Authorization", "Bearer "+tok.value)
	return nil
}

// prepareRetry runs before every retry: after a 401 the token is replaced;
// a long backoff may also have outlived the token, so it is always taken
// fresh from the cache.
func (c *Client) prepareRetry(req *http.Request) error {
	st := callOf(req.Context())
	// The retry copies the request shallowly: give it its own headers.
	req.Header = req.Header.Clone()
	return c.prepareAttempt(req.Context(), req, st)
}

func (c *Client) beforeAttempt(_ retryablehttp.Logger, req *http.Request, attempt int) {
	st := callOf(req.Context())
	st.attempts = attempt + 1
	st.attemptStart = c.now()
}

// afterAttempt feeds every answer's rate-limit headers to the pacer.
func (c *Client) afterAttempt(_ retryablehttp.Logger, resp *http.Response) {
	if resp.Request != nil {
		if r := callOf(resp.Request.Context()).req; r.noAuth || r.unpaced {
			return
		}
	}
	c.pacer.observe(resp.StatusCode, resp.Header)
}

// parseWait reads a wait from a header: an integer number of seconds, an
// integer above 10000 taken as a Unix time, an HTTP date or an ISO date.
func parseWait(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n > 10000 {
			return nonNegative(time.Unix(int64(n), 0).Sub(now)), true
		}
		return time.Duration(math.Max(n, 0) * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return nonNegative(t.Sub(now)), true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return nonNegative(t.Sub(now)), true
	}
	return 0, false
}

func nonNegative(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}
