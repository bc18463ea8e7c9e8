package custom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// pacedTransport sends one attempt of a request: it waits for the host's
// limits, bounds the wait for the server with timeout (connecting, the
// answer's headers, then each read of the body), and logs the attempt at
// DEBUG with its redacted URL, never a body.
type pacedTransport struct {
	next    http.RoundTripper
	limits  *hostLimits
	timeout time.Duration
	redact  *redactor
	logger  *slog.Logger
	now     func() time.Time
}

// errNoAnswer is the cause of an attempt cancelled for want of an answer.
var errNoAnswer = errors.New("no answer in time")

func (t *pacedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.limits.wait(req.Context(), req.URL.Host); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	if info := attemptsOf(req.Context()); info != nil {
		info.attempts++
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(t.timeout, func() { cancel(errNoAnswer) })
	start := t.now()
	attempt := req.WithContext(ctx)
	if attempt.Header.Get("Accept-Encoding") != "" {
		// An Accept-Encoding of the user's (customHeaders, a resource's
		// headers) would make net/http hand over the compressed body as
		// is; Ocean's client decompressed it. Without one, net/http asks
		// for gzip itself and decompresses.
		attempt.Header = attempt.Header.Clone()
		attempt.Header.Del("Accept-Encoding")
	}
	resp, err := t.next.RoundTrip(attempt)
	timer.Stop()
	elapsed := t.now().Sub(start)
	if err != nil {
		cause := context.Cause(ctx)
		cancel(nil)
		if errors.Is(cause, errNoAnswer) {
			err = fmt.Errorf("no answer within %s (timeout)", t.timeout)
		}
		t.logger.Debug("http request failed", "method", req.Method, "url", t.redact.url(req.URL), "duration", elapsed, "error", t.redact.string(err.Error()))
		return nil, err
	}
	if paused := t.limits.observe(req.URL.Host, resp); paused > 0 {
		t.logger.Info("rate limited by the API: requests to this host wait", "host", t.redact.string(req.URL.Host), "status", resp.StatusCode, "wait", paused.Round(time.Millisecond))
	}
	t.logger.Debug("http request", "method", req.Method, "url", t.redact.url(req.URL), "status", resp.StatusCode, "duration", elapsed)
	resp.Body = &timedBody{body: resp.Body, timeout: t.timeout, timer: timer, cancel: cancel, ctx: ctx}
	return resp, nil
}

// timedBody cancels its request when one read waits longer than timeout:
// the time a handler spends between reads does not count.
type timedBody struct {
	body    io.ReadCloser
	timeout time.Duration
	timer   *time.Timer
	cancel  context.CancelCauseFunc
	ctx     context.Context
	once    sync.Once
}

func (b *timedBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.timeout)
	n, err := b.body.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF && errors.Is(context.Cause(b.ctx), errNoAnswer) {
		err = fmt.Errorf("no data within %s (timeout): %w", b.timeout, err)
	}
	return n, err
}

func (b *timedBody) Close() error {
	err := b.body.Close()
	b.once.Do(func() {
		b.timer.Stop()
		b.cancel(nil)
	})
	return err
}
