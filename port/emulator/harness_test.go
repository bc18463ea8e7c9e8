package emulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"oceand/port/emulator"
)

// clock is a settable clock for the emulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness talks raw HTTP to an emulator, so tests see Port's exact answers.
type harness struct {
	t     *testing.T
	emu   *emulator.Server
	srv   *httptest.Server
	clock *clock
	token string
	ua    string
}

func newHarness(t *testing.T, cfg emulator.Config) *harness {
	t.Helper()
	cfg.ClientID, cfg.ClientSecret = "id", "secret"
	c := newClock()
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	emu := emulator.New(cfg)
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(func() {
		emu.Close() // first: it releases requests held by faults
		srv.Close()
	})
	h := &harness{t: t, emu: emu, srv: srv, clock: c, ua: "port-ocean/test/1.0/it/exporter"}
	status, body := h.raw("POST", "/v1/auth/access_token", map[string]any{"clientId": "id", "clientSecret": "secret"}, nil)
	if status != 200 {
		t.Fatalf("token: %d %v", status, body)
	}
	h.token = body["accessToken"].(string)
	return h
}

// raw sends one request; body is JSON-encoded unless it is a string.
func (h *harness) raw(method, path string, body any, hdr map[string]string) (int, map[string]any) {
	h.t.Helper()
	resp := h.send(method, path, body, hdr)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]any{}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			h.t.Fatalf("%s %s: answer is not a JSON object: %s", method, path, data)
		}
	}
	return resp.StatusCode, out
}

func (h *harness) send(method, path string, body any, hdr map[string]string) *http.Response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", h.ua)
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// call is raw for tests that expect success: any status other than want fails.
func (h *harness) call(want int, method, path string, body any) map[string]any {
	h.t.Helper()
	status, out := h.raw(method, path, body, nil)
	if status != want {
		h.t.Fatalf("%s %s = %d %v, want %d", method, path, status, out, want)
	}
	if out["ok"] != true {
		h.t.Fatalf("%s %s: ok = %v, want true", method, path, out["ok"])
	}
	return out
}

func (h *harness) blueprint(bp map[string]any) {
	h.t.Helper()
	h.call(201, "POST", "/v1/blueprints", bp)
}

// upsert writes one entity with the given query and returns status and answer.
func (h *harness) upsert(bp, query string, e map[string]any) (int, map[string]any) {
	h.t.Helper()
	return h.raw("POST", "/v1/blueprints/"+bp+"/entities?"+query, e, nil)
}

// wantError checks an error answer: exact status and Port error code, ok false.
func wantError(t *testing.T, what string, status int, body map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || body["error"] != wantCode || body["ok"] != false {
		t.Errorf("%s = %d %v, want %d %s", what, status, body, wantStatus, wantCode)
	}
	if msg, _ := body["message"].(string); msg == "" {
		t.Errorf("%s: no message in %v", what, body)
	}
}

// schemaBlueprint declares one property of each kind the tests check.
func schemaBlueprint() map[string]any {
	return map[string]any{
		"identifier": "svc", "title": "Service",
		"schema": map[string]any{
			"properties": map[string]any{
				"name":    map[string]any{"type": "string", "minLength": 2, "maxLength": 5},
				"code":    map[string]any{"type": "string", "pattern": "^[A-Z]+$"},
				"email":   map[string]any{"type": "string", "format": "email"},
				"url":     map[string]any{"type": "string", "format": "url"},
				"when":    map[string]any{"type": "string", "format": "date-time"},
				"ip4":     map[string]any{"type": "string", "format": "ipv4"},
				"ip6":     map[string]any{"type": "string", "format": "ipv6"},
				"tier":    map[string]any{"type": "string", "enum": []any{"gold", "silver"}},
				"age":     map[string]any{"type": "number", "minimum": 0, "maximum": 150},
				"score":   map[string]any{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
				"on":      map[string]any{"type": "boolean"},
				"meta":    map[string]any{"type": "object"},
				"tags":    map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "minItems": 1, "maxItems": 3, "uniqueItems": true},
				"owner":   map[string]any{"type": "string"},
				"lang":    map[string]any{"type": "string", "default": "go"},
				"comment": map[string]any{"type": "string"},
			},
			"required": []any{"owner"},
		},
	}
}

// newHookServer receives webhook resync announcements and sends the
// integration id of each to got.
func newHookServer(t *testing.T, got chan<- string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Context struct {
				IntegrationID string `json:"integrationId"`
			} `json:"context"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		got <- body.Context.IntegrationID
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/resync"
}
