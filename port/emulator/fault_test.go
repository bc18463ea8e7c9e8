package emulator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"oceand/port/emulator"
)

func TestRateLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Config{RateLimit: emulator.RateLimit{Limit: 3, Period: 10 * time.Second, UnauthenticatedLimit: 3}})
	h.call(200, "POST", "/v1/integration", map[string]any{"installationId": "it"}) // 1 of 3
	windowEnd := h.clock.Now().Truncate(10 * time.Second).Add(10 * time.Second).Unix()
	check := func(what string, resp *http.Response, wantStatus, wantRemaining int) {
		t.Helper()
		resp.Body.Close()
		hd := resp.Header
		if resp.StatusCode != wantStatus || hd.Get("x-ratelimit-limit") != "3" || hd.Get("x-ratelimit-period") != "10" ||
			hd.Get("x-ratelimit-remaining") != strconv.Itoa(wantRemaining) || hd.Get("x-ratelimit-reset") != strconv.FormatInt(windowEnd, 10) {
			t.Errorf("%s: %d %v, want %d with remaining %d, reset %d", what, resp.StatusCode, hd, wantStatus, wantRemaining, windowEnd)
		}
	}
	check("request 2", h.send("GET", "/v1/organization", nil, nil), 200, 1)
	check("exempt PATCH", h.send("PATCH", "/v1/integration/it/resync-state", map[string]any{"status": "running"}, nil), 200, 1)
	check("request 3", h.send("GET", "/v1/integration/it", nil, nil), 200, 0)
	status, body := h.raw("GET", "/v1/organization", nil, nil)
	wantError(t, "request 4", status, body, 429, "rate_limited")
	resp := h.send("GET", "/v1/organization", nil, nil)
	check("request 5", resp, 429, 0)
	if resp.Header.Get("Retry-After") != strconv.FormatInt(windowEnd-h.clock.Now().Unix(), 10) {
		t.Errorf("Retry-After = %q", resp.Header.Get("Retry-After"))
	}
	check("exempt PATCH when spent", h.send("PATCH", "/v1/integration/it", map[string]any{}, nil), 200, 0)

	// Unauthenticated requests have their own bucket; the harness used one.
	for i := range 2 {
		resp := h.send("POST", "/v1/auth/access_token", map[string]any{"clientId": "id", "clientSecret": "secret"}, nil)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("token request %d = %d", i, resp.StatusCode)
		}
	}
	status, body = h.raw("POST", "/v1/auth/access_token", map[string]any{"clientId": "id", "clientSecret": "secret"}, nil)
	wantError(t, "token request over the unauthenticated limit", status, body, 429, "rate_limited")

	h.clock.Add(10 * time.Second)
	windowEnd += 10
	check("next window", h.send("GET", "/v1/organization", nil, nil), 200, 2)

	strict := newHarness(t, emulator.Config{RateLimit: emulator.RateLimit{Limit: 2, Period: time.Minute, LimitIntegrationPatches: true}})
	strict.call(200, "POST", "/v1/integration", map[string]any{"installationId": "it"})
	strict.call(200, "PATCH", "/v1/integration/it", map[string]any{"version": "1"})
	status, body = strict.raw("PATCH", "/v1/integration/it", map[string]any{}, nil)
	wantError(t, "limited PATCH", status, body, 429, "rate_limited")

	off := newHarness(t, emulator.Config{})
	resp = off.send("GET", "/v1/organization", nil, nil)
	resp.Body.Close()
	if resp.Header.Get("x-ratelimit-limit") != "" {
		t.Errorf("rate-limit headers without a limit: %v", resp.Header)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Config{})
	const org = "GET /v1/organization"
	h.emu.InjectFault(emulator.Fault{Route: org, Skip: 1, Times: 2, Status: 503, Header: http.Header{"Retry-After": {"7"}}})
	want := []int{200, 503, 503, 200}
	for i, w := range want {
		resp := h.send("GET", "/v1/organization", nil, nil)
		resp.Body.Close()
		if resp.StatusCode != w || (w == 503 && resp.Header.Get("Retry-After") != "7") {
			t.Errorf("request %d = %d %v, want %d", i, resp.StatusCode, resp.Header, w)
		}
	}
	if got := h.emu.Requests()[org]; got != 4 {
		t.Errorf("requests counted = %d, want 4 (faulted ones included)", got)
	}

	h.emu.InjectFault(emulator.Fault{Times: 1, Status: 500, Code: "boom"})
	status, body := h.raw("GET", "/v1/integration/provision-enabled", nil, nil)
	wantError(t, "any-route fault", status, body, 500, "boom")

	h.emu.InjectFault(emulator.Fault{Route: org, Times: 1, ExpireTokens: true})
	status, body = h.raw("GET", "/v1/organization", nil, nil)
	wantError(t, "expired by a fault", status, body, 401, "unauthorized")

	h.token = ""
	h.emu.InjectFault(emulator.Fault{Route: "POST /v1/auth/access_token", Times: 1, Drop: true})
	req, _ := http.NewRequest("POST", h.srv.URL+"/v1/auth/access_token", bytes.NewReader([]byte(`{"clientId":"id","clientSecret":"secret"}`)))
	if resp, err := h.srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("a dropped request got %d", resp.StatusCode)
	}
	_, tok := h.raw("POST", "/v1/auth/access_token", map[string]any{"clientId": "id", "clientSecret": "secret"}, nil)
	h.token = tok["accessToken"].(string)

	// Truncate: Port wrote the blueprint, the client cannot read the answer.
	h.emu.InjectFault(emulator.Fault{Route: "POST /v1/blueprints", Times: 1, Truncate: true})
	resp := h.send("POST", "/v1/blueprints", map[string]any{"identifier": "svc", "title": "S", "schema": map[string]any{}}, nil)
	_, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || err == nil {
		t.Errorf("truncated answer: status %d, read error %v", resp.StatusCode, err)
	}
	if len(h.emu.Blueprints()) != 1 {
		t.Error("the truncated request was not processed")
	}

	// Arrived + Hold: the test knows the request is in Port and releases it.
	arrived, hold := make(chan string), make(chan struct{})
	h.emu.InjectFault(emulator.Fault{Route: org, Times: 1, Arrived: arrived, Hold: hold})
	done := make(chan int)
	go func() {
		resp := h.send("GET", "/v1/organization", nil, nil)
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	if got := <-arrived; got != org {
		t.Errorf("arrived %q", got)
	}
	select {
	case s := <-done:
		t.Fatalf("held request answered %d", s)
	default:
	}
	close(hold)
	if s := <-done; s != 200 {
		t.Errorf("released request = %d", s)
	}

	h.emu.InjectFault(emulator.Fault{Route: org, Status: 502})
	h.emu.ClearFaults()
	h.call(200, "GET", "/v1/organization", nil)
}

func TestHeldRequestEndsWithClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Config{})
	arrived := make(chan string, 1)
	h.emu.InjectFault(emulator.Fault{Latency: time.Hour, Arrived: arrived})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+"/v1/organization", nil)
	errc := make(chan error)
	go func() {
		_, err := h.srv.Client().Do(req)
		errc <- err
	}()
	<-arrived
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	// Close returns although a request was delayed by an hour.
	h.srv.Close()
	h.emu.Close()
}

func TestTransport(t *testing.T) {
	t.Parallel()
	emu := emulator.New(emulator.Config{ClientID: "id", ClientSecret: "secret"})
	hc := &http.Client{Transport: emu.Transport()}
	post := func() (*http.Response, error) {
		return hc.Post("http://port.test/v1/auth/access_token", "application/json", bytes.NewReader([]byte(`{"clientId":"id","clientSecret":"secret"}`)))
	}
	resp, err := post()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("in-process token: %v %v", resp, err)
	}
	resp.Body.Close()
	emu.InjectFault(emulator.Fault{Times: 1, Drop: true})
	if _, err := post(); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("dropped: err = %v, want ECONNRESET", err)
	}
	emu.InjectFault(emulator.Fault{Times: 1, Truncate: true})
	resp, err = post()
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("truncated: read err = %v, want ECONNRESET", err)
	}
	if emu.Requests()["POST /v1/auth/access_token"] != 3 {
		t.Errorf("requests = %v", emu.Requests())
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Config{})
	h.call(200, "POST", "/v1/integration", map[string]any{"installationId": "it", "config": map[string]any{"resources": []any{}}})
	h.emu.RequestResync("it")
	h.blueprint(map[string]any{"identifier": "svc", "title": "S", "schema": map[string]any{}})
	h.call(201, "POST", "/v1/blueprints/svc/entities?upsert=true", map[string]any{"identifier": "e1", "team": "core", "properties": map[string]any{"n": 1.0}})
	path := t.TempDir() + "/emu.json"
	if err := h.emu.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	other := emulator.New(emulator.Config{ClientID: "id", ClientSecret: "secret"})
	if err := other.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(other.Entity("svc", "e1")) != fmt.Sprint(h.emu.Entity("svc", "e1")) || other.Integration("it") == nil {
		t.Errorf("loaded %v, want %v", other.Entity("svc", "e1"), h.emu.Entity("svc", "e1"))
	}
	if err := other.LoadFile(t.TempDir() + "/missing.json"); err != nil {
		t.Errorf("missing file: %v", err)
	}
}

// A proxy in front of Port can answer 200 with anything: the emulator can
// play it, without serving the request.
func TestRawBodyFaults(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Config{})
	const org = "GET /v1/organization"
	for _, tt := range []struct {
		body  []byte
		ctype string
	}{
		{emulator.EmptyBody, ""},
		{emulator.TextBody, "text/plain"},
		{emulator.HTMLBody, "text/html"},
	} {
		h.emu.InjectFault(emulator.Fault{Route: org, Times: 1, RawBody: tt.body, RawType: tt.ctype})
		resp := h.send("GET", "/v1/organization", nil, nil)
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(data, tt.body) || (tt.ctype != "" && resp.Header.Get("Content-Type") != tt.ctype) {
			t.Errorf("answer = %d %q %q, %v; want 200 %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), data, err, tt.ctype, tt.body)
		}
	}
	if status, _ := h.raw("GET", "/v1/organization", nil, nil); status != 200 {
		t.Errorf("after the faults: %d", status)
	}
}
