package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

type recordedLogs struct {
	mu   sync.Mutex
	msgs []string
}

func (h *recordedLogs) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordedLogs) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *recordedLogs) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordedLogs) WithGroup(string) slog.Handler      { return h }

type scriptedTransport struct{ fail bool }

func (s *scriptedTransport) RoundTrip(*http.Request) (*http.Response, error) {
	if s.fail {
		return nil, errors.New("connection refused")
	}
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

func TestPortWatchLogsAnOutageOnceAMinute(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	logs := &recordedLogs{}
	tr := &scriptedTransport{fail: true}
	w := &portWatch{next: tr, now: func() time.Time { return now }, logger: slog.New(logs)}
	attempt := func() {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://port.test/v1/integration/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := w.RoundTrip(req)
		if err == nil {
			if cerr := resp.Body.Close(); cerr != nil {
				t.Fatal(cerr)
			}
		}
	}
	// Failed attempts every 20s for 2m10s: logged at 0s, 60s and 120s.
	for range 7 {
		attempt()
		now = now.Add(20 * time.Second)
	}
	st := w.Status()
	if st.Reachable || st.FailedAttempts != 7 || st.FailingSince == nil || !strings.Contains(st.LastError, "connection refused") {
		t.Errorf("status during the outage = %+v", st)
	}
	if err := w.healthy(); err == nil || !strings.Contains(err.Error(), "Port unreachable since 2026-05-01T12:00:00Z (7 failed attempts)") {
		t.Errorf("healthy = %v", err)
	}
	tr.fail = false
	attempt()
	if w.healthy() != nil || !w.Status().Reachable {
		t.Errorf("not reachable after an answer: %+v", w.Status())
	}
	want := []string{"cannot reach Port; retrying", "Port is still unreachable; retrying", "Port is still unreachable; retrying", "Port is reachable again"}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.msgs) != len(want) {
		t.Fatalf("logged %q, want %q", logs.msgs, want)
	}
	for i := range want {
		if !strings.HasPrefix(logs.msgs[i], want[i]) {
			t.Errorf("log %d = %q, want %q", i, logs.msgs[i], want[i])
		}
	}
}
