package port

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestParseWait(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"garbage", 0, false},
		{"3", 3 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"-4", 0, true},
		{"10000", 10000 * time.Second, true},
		{strconv.FormatInt(t0.Unix()+42, 10), 42 * time.Second, true},
		{strconv.FormatInt(t0.Unix()-42, 10), 0, true},
		{t0.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{t0.Add(2 * time.Minute).Format(time.RFC3339), 2 * time.Minute, true},
		{t0.Add(-time.Minute).Format(time.RFC3339), 0, true},
	}
	for _, tt := range tests {
		got, ok := parseWait(tt.in, t0)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseWait(%q) = %v %v, want %v %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func testClient(t *testing.T) *Client {
	t.Helper()
	c, err := New(Config{BaseURL: "http://port.test", ClientID: "id", ClientSecret: "s", IntegrationType: "fake", IntegrationIdentifier: "it",
		Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func answer(status int, hdr ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	return &http.Response{StatusCode: status, Header: h}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	min, max := 100*time.Millisecond, 10*time.Second
	reset := strconv.FormatInt(t0.Unix()+4, 10)
	tests := []struct {
		name    string
		attempt int
		resp    *http.Response
		lo, hi  time.Duration
	}{
		{"transport error", 0, nil, 80 * time.Millisecond, 120 * time.Millisecond},
		{"third attempt", 2, answer(503), 320 * time.Millisecond, 480 * time.Millisecond},
		{"exponential capped", 20, answer(502), max, max},
		{"401 at once", 3, answer(401), 0, 0},
		{"Retry-After seconds", 0, answer(503, "Retry-After", "2"), 2 * time.Second, 2200 * time.Millisecond},
		{"Retry-After over the cap", 0, answer(429, "Retry-After", "3600"), max, max},
		{"Retry-After as a date", 0, answer(429, "Retry-After", t0.Add(3*time.Second).Format(http.TimeFormat)), 3 * time.Second, 3300 * time.Millisecond},
		{"429 x-ratelimit-reset epoch", 0, answer(429, "X-Ratelimit-Reset", reset), 4 * time.Second, 4400 * time.Millisecond},
		{"429 reset far away", 0, answer(429, "X-Ratelimit-Reset", strconv.FormatInt(t0.Unix()+86400, 10)), max, max},
		{"503 ignores x-ratelimit-reset", 0, answer(503, "X-Ratelimit-Reset", reset), 80 * time.Millisecond, 120 * time.Millisecond},
		{"429 reset passed", 1, answer(429, "X-Ratelimit-Reset", strconv.FormatInt(t0.Unix()-1, 10)), 160 * time.Millisecond, 240 * time.Millisecond},
	}
	for _, tt := range tests {
		for range 20 { // jitter: every draw must stay in bounds
			if got := c.backoff(min, max, tt.attempt, tt.resp); got < tt.lo || got > tt.hi {
				t.Errorf("%s: backoff = %v, want in [%v, %v]", tt.name, got, tt.lo, tt.hi)
				break
			}
		}
	}
}

func TestCheckRetry(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name       string
		unsafe     bool
		status     int
		err        error
		wantSafe   bool
		wantUnsafe bool
	}{
		{"200", false, 200, nil, false, false},
		{"207", false, 207, nil, false, false},
		{"400", false, 400, nil, false, false},
		{"404", false, 404, nil, false, false},
		{"409", false, 409, nil, false, false},
		{"413", false, 413, nil, false, false},
		{"422", false, 422, nil, false, false},
		{"500", false, 500, nil, false, false},
		{"501", false, 501, nil, false, false},
		{"408", false, 408, nil, true, false},
		{"429", false, 429, nil, true, true},
		{"502", false, 502, nil, true, false},
		{"503", false, 503, nil, true, false},
		{"504", false, 504, nil, true, false},
		{"reset", false, 0, reset, true, false},
		{"body read", false, 0, fmt.Errorf("read response: %w", io.ErrUnexpectedEOF), true, false},
		{"refused", false, 0, refused, true, true},
	}
	for _, tt := range tests {
		for _, unsafe := range []bool{false, true} {
			st := &call{req: &request{unsafe: unsafe}}
			ctx := context.WithValue(context.Background(), callKey{}, st)
			var resp *http.Response
			if tt.err == nil {
				resp = answer(tt.status)
			}
			got, _ := c.checkRetry(ctx, resp, tt.err)
			want := tt.wantSafe
			if unsafe {
				want = tt.wantUnsafe
			}
			if got != want {
				t.Errorf("%s (unsafe %v): retry = %v, want %v", tt.name, unsafe, got, want)
			}
		}
	}
	// A 401 is retried once, with a new token.
	st := &call{req: &request{}}
	ctx := context.WithValue(context.Background(), callKey{}, st)
	if ok, _ := c.checkRetry(ctx, answer(401), nil); !ok || !st.reauth {
		t.Error("first 401 not retried with a new token")
	}
	if ok, _ := c.checkRetry(ctx, answer(401), nil); ok {
		t.Error("second 401 retried")
	}
	// The token request itself is not retried on 401 (wrong credentials).
	st = &call{req: &request{noAuth: true}}
	if ok, _ := c.checkRetry(context.WithValue(context.Background(), callKey{}, st), answer(401), nil); ok {
		t.Error("token request retried on 401")
	}
	// A cancelled context stops retries with its cause.
	cause := errors.New("shutting down")
	cctx, cancel := context.WithCancelCause(ctx)
	cancel(cause)
	if ok, err := c.checkRetry(cctx, answer(503), nil); ok || !errors.Is(err, cause) {
		t.Errorf("cancelled: retry %v, err %v", ok, err)
	}
}

func rateHeaders(limit, remaining int, reset time.Time, period int) http.Header {
	h := http.Header{}
	h.Set("X-Ratelimit-Limit", strconv.Itoa(limit))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-Ratelimit-Period", strconv.Itoa(period))
	return h
}

func TestPacer(t *testing.T) {
	t.Parallel()
	now := t0
	p := NewPacer(func() time.Time { return now })
	if d := p.reserve(); d != 0 {
		t.Fatalf("unknown limit: wait %v", d)
	}
	reset := t0.Add(10 * time.Second)
	// Plenty left: no wait.
	p.observe(200, rateHeaders(100, 80, reset, 10))
	if d := p.reserve(); d != 0 {
		t.Errorf("80 of 100 left: wait %v", d)
	}
	// Below half: spread the rest (minus the 2-request margin) over the window.
	p.observe(200, rateHeaders(100, 12, reset, 10))
	if d := p.reserve(); d != 0 {
		t.Errorf("first spread request waits %v", d)
	}
	// 11 left after the first, 2 kept back: 9 requests over 10s.
	if want := 10 * time.Second / 9; p.reserve() != want {
		t.Errorf("second spread request does not wait %v", want)
	}
	// A stale answer from an older window changes nothing; a lower count does.
	p.observe(200, rateHeaders(100, 99, t0, 10))
	p.observe(200, rateHeaders(100, 2, reset, 10))
	// Spent: the next request waits for the next window plus the grace.
	if d := p.reserve(); d != 10*time.Second+50*time.Millisecond {
		t.Errorf("spent window: wait %v, want 10.05s", d)
	}
	// A 429 holds everyone until Retry-After.
	now = reset.Add(time.Minute)
	p.observe(429, http.Header{"Retry-After": {"30"}})
	if d := p.reserve(); d != 30*time.Second {
		t.Errorf("after 429: wait %v, want 30s", d)
	}
	// The wait is capped by the caller and ends with its context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.wait(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("wait with a cancelled context = %v", err)
	}
	if err := p.wait(context.Background(), 0); err != nil {
		t.Errorf("wait capped at 0 = %v", err)
	}
}
