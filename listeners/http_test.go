package listeners_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"oceand/listeners"
)

func startHTTP(t *testing.T, h *listeners.HTTPServer) string {
	t.Helper()
	h.Addr = "127.0.0.1:0"
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Stop)
	return h.URL()
}

func TestWebhookQueuesAndAnswersAtOnce(t *testing.T) {
	t.Parallel()
	q := newMemQueue()
	url := startHTTP(t, &listeners.HTTPServer{Queue: q, Secret: "s3cret-value"})

	tests := []struct {
		name   string
		path   string
		header string
		status int
	}{
		{"no secret", "/resync", "", http.StatusUnauthorized},
		{"wrong secret", "/resync?secret=nope", "", http.StatusUnauthorized},
		{"secret in query", "/resync?secret=s3cret-value", "", http.StatusAccepted},
		{"secret in header", "/resync", "s3cret-value", http.StatusAccepted},
	}
	accepted := 0
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodPost, url+tt.path, strings.NewReader("{}"))
		if tt.header != "" {
			req.Header.Set("X-Oceand-Secret", tt.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			OK    bool   `json:"ok"`
			JobID uint64 `json:"jobId"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
		if tt.status == http.StatusAccepted {
			accepted++
			if !body.OK || body.JobID != uint64(accepted) {
				t.Errorf("%s: body %+v", tt.name, body)
			}
		}
	}
	if q.count() != 2 || q.last().Kind != listeners.TriggerWebhook {
		t.Errorf("triggers = %+v", q.triggers)
	}
}

func TestHealthRoutes(t *testing.T) {
	t.Parallel()
	var reached atomic.Bool
	url := startHTTP(t, &listeners.HTTPServer{Ready: func() error {
		if !reached.Load() {
			return errors.New("Port not reached yet")
		}
		return nil
	}})
	get := func(path string) int {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get("/health/live"); s != http.StatusOK {
		t.Errorf("live = %d", s)
	}
	if s := get("/health/ready"); s != http.StatusServiceUnavailable {
		t.Errorf("ready before Port was reached = %d", s)
	}
	reached.Store(true)
	if s := get("/health/ready"); s != http.StatusOK {
		t.Errorf("ready = %d", s)
	}
	// Without a queue there is no resync route.
	resp, err := http.Post(url+"/resync", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /resync without webhook listener = %d", resp.StatusCode)
	}
}
