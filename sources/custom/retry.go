package custom

import (
	"context"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Retry policy: how many times a request is sent at most, the backoff
// between attempts, and the longest wait a server may ask for.
const (
	MaxAttempts  = 10
	RetryWaitMin = 500 * time.Millisecond
	RetryWaitMax = 60 * time.Second
	// MaxRetryAfter caps Retry-After and X-RateLimit-Reset.
	MaxRetryAfter = 5 * time.Minute
)

// retryableMethods are retried on 408, 429, 5xx and transport errors; POST
// only when the request says it is safe (Request.RetryPOST).
var retryableMethods = map[string]bool{http.MethodGet: true, http.MethodHead: true, http.MethodPut: true, http.MethodDelete: true, http.MethodOptions: true}

// attemptInfo travels in a request's context: whether it may be retried,
// and how many times it was sent.
type attemptInfo struct {
	retryable bool
	attempts  int
}

type attemptKey struct{}

func withAttempts(ctx context.Context, retryable bool) (context.Context, *attemptInfo) {
	info := &attemptInfo{retryable: retryable}
	return context.WithValue(ctx, attemptKey{}, info), info
}

func attemptsOf(ctx context.Context) *attemptInfo {
	info, _ := ctx.Value(attemptKey{}).(*attemptInfo)
	return info
}

// checkRetry is the client's retryablehttp.CheckRetry.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, context.Cause(ctx)
	}
	info := attemptsOf(ctx)
	if info == nil || !info.retryable {
		return false, nil
	}
	if err != nil {
		var bre *BodyReadError
		if errors.As(err, &bre) {
			return true, nil
		}
		if resp != nil {
			return false, nil // the handler's own error: returned as is
		}
		return retryableTransportError(err), nil
	}
	return retryableStatus(resp.StatusCode) || rateLimited(resp), nil
}

// rateLimited reports an answer that says "too many requests": a 429, or a
// 403 with Retry-After or X-RateLimit-Remaining 0 (GitHub's way).
func rateLimited(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true
	case http.StatusForbidden:
		return resp.Header.Get("Retry-After") != "" || strings.TrimSpace(resp.Header.Get("X-RateLimit-Remaining")) == "0"
	}
	return false
}

func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests ||
		(code >= 500 && code != http.StatusNotImplemented && code != http.StatusHTTPVersionNotSupported)
}

// retryableTransportError is false for errors that another attempt cannot
// fix: a bad URL, too many redirects, an untrusted certificate.
func retryableTransportError(err error) bool {
	var ue *url.Error
	if errors.As(err, &ue) {
		msg := ue.Err.Error()
		if strings.Contains(msg, "stopped after") && strings.Contains(msg, "redirects") ||
			strings.Contains(msg, "unsupported protocol scheme") || strings.Contains(msg, "invalid header") {
			return false
		}
	}
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	return !errors.As(err, &unknownAuthority) && !errors.As(err, &hostname) && !errors.As(err, &invalid)
}

// backoff is the client's retryablehttp.Backoff: the wait the server asks
// for (Retry-After, X-RateLimit-Reset) on a 429, a rate-limit 403 or a 503, capped at
// MaxRetryAfter; otherwise exponential from min to max with jitter.
func backoff(now func() time.Time) func(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	return func(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
		if resp != nil && (rateLimited(resp) || resp.StatusCode == http.StatusServiceUnavailable) {
			if d, ok := serverWait(resp.Header, now()); ok {
				return d
			}
		}
		return expBackoff(minWait, maxWait, attempt)
	}
}

func expBackoff(minWait, maxWait time.Duration, attempt int) time.Duration {
	d := maxWait
	if attempt < 30 {
		d = min(minWait<<attempt, maxWait)
	}
	// Jitter in [d/2, d): retries of many requests do not arrive together.
	half := d / 2
	return half + rand.N(half+1)
}

// serverWait is how long the server asks us to wait: Retry-After (seconds
// or an HTTP date), else X-RateLimit-Reset (epoch seconds or seconds from
// now); capped at MaxRetryAfter.
func serverWait(h http.Header, now time.Time) (time.Duration, bool) {
	if d, ok := retryAfter(h.Get("Retry-After"), now); ok {
		return min(d, MaxRetryAfter), true
	}
	if reset, ok := rateLimitReset(h, now); ok {
		return min(max(reset.Sub(now), 0), MaxRetryAfter), true
	}
	return 0, false
}

func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 {
			return 0, true
		}
		return time.Duration(min(n, MaxRetryAfter.Seconds()) * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// rateLimitReset reads X-RateLimit-Reset: seconds from now, or, when it is
// over a year of seconds, epoch seconds (over 1e12: epoch milliseconds).
func rateLimitReset(h http.Header, now time.Time) (time.Time, bool) {
	v := strings.TrimSpace(h.Get("X-RateLimit-Reset"))
	if v == "" {
		return time.Time{}, false
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 {
		return time.Time{}, false
	}
	switch {
	case n > 1e12: // epoch milliseconds
		return time.UnixMilli(int64(n)), true
	case n > 365*24*60*60: // epoch seconds
		return time.Unix(int64(n), 0), true
	}
	return now.Add(time.Duration(n * float64(time.Second))), true
}
