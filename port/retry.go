package port

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// checkRetry decides whether an attempt is repeated: transport errors and
// 408, 429, 502, 503, 504. 500 is not retried (as in Ocean): Port answers it
// for requests that will fail again.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, context.Cause(ctx)
	}
	if v, _ := ctx.Value(noRetryKey).(bool); v {
		return false, err
	}
	if err != nil {
		return true, err
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true, nil
	}
	return false, nil
}

// backoff waits as Port asks (Retry-After, then x-ratelimit-reset; seconds,
// epoch seconds or an HTTP date), capped at max; otherwise exponentially from
// min with 10% jitter.
func (c *Client) backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		for _, h := range []string{"Retry-After", "X-Ratelimit-Reset"} {
			if d, ok := parseWait(resp.Header.Get(h), c.now()); ok {
				if d > max {
					d = max
				}
				return d
			}
		}
	}
	d := float64(min) * math.Pow(2, float64(attempt))
	if d > float64(max) {
		d = float64(max)
	}
	jitter := d * 0.1 * (rand.Float64()*2 - 1)
	return time.Duration(d + jitter)
}

// parseWait reads a wait from a header: an integer number of seconds, an
// integer above 10000 taken as a Unix time, or an HTTP date.
func parseWait(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n > 10000 {
			d := time.Unix(int64(n), 0).Sub(now)
			if d < 0 {
				d = 0
			}
			return d, true
		}
		if n < 0 {
			n = 0
		}
		return time.Duration(n * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}
