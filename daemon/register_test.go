package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"oceand/buildinfo"
	"oceand/config"
	"oceand/daemon"
	"oceand/port/emulator"
)

// portCall is one request the daemon sent to Port.
type portCall struct {
	method, path string
	body         map[string]any
}

// recordingPort is the emulator behind a handler that records requests and
// can fail chosen ones.
type recordingPort struct {
	emu *emulator.Server
	url string

	mu    sync.Mutex
	calls []portCall
	fail  map[string]int // "METHOD path" -> status to answer instead
}

func newRecordingPort(t *testing.T) *recordingPort {
	t.Helper()
	p := &recordingPort{emu: emulator.New(emulator.Config{ClientID: "reg-id", ClientSecret: "reg-secret"}), fail: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
		call := portCall{method: r.Method, path: r.URL.Path}
		if len(data) > 0 {
			if err := json.Unmarshal(data, &call.body); err != nil {
				call.body = map[string]any{"unreadable": err.Error()}
			}
		}
		p.mu.Lock()
		p.calls = append(p.calls, call)
		status := p.fail[r.Method+" "+r.URL.Path]
		p.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			if _, err := w.Write([]byte(`{"ok":false,"error":"internal_error","message":"injected"}`)); err != nil {
				t.Errorf("answer an injected failure: %v", err)
			}
			return
		}
		p.emu.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// take returns the calls recorded since the last take that match prefix.
func (p *recordingPort) take(prefix string) []portCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []portCall
	for _, c := range p.calls {
		if strings.HasPrefix(c.method+" "+c.path, prefix) {
			out = append(out, c)
		}
	}
	p.calls = nil
	return out
}

func (p *recordingPort) start(t *testing.T, stateDir string, extra map[string]string) error {
	t.Helper()
	flags := map[string]string{
		"port.base_url":          p.url,
		"port.client_id":         "reg-id",
		"port.client_secret":     "reg-secret",
		"integration.type":       "fake",
		"integration.identifier": "reg-test",
		"integration.config":     `{"entity_amount": 3, "single_department_run": true}`,
		"event_listener.type":    config.ListenerOnce,
		"state_dir":              stateDir,
	}
	for k, v := range extra {
		flags[k] = v
	}
	s, err := config.Load(config.LoadOptions{Dir: t.TempDir(), Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(s, daemon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Run(context.Background())
}

var defaultBlueprints = []string{"fake-department", "fake-office", "fake-person", "fake-project", "fake-team"}

func TestRegistrationCreatesThenPatchesOnlyDrift(t *testing.T) {
	t.Parallel()
	p := newRecordingPort(t)
	state := t.TempDir()
	if err := p.start(t, state, nil); err != nil {
		t.Fatal(err)
	}
	calls := p.take("")
	var create *portCall
	for i, c := range calls {
		if c.method == http.MethodPost && c.path == "/v1/integration" {
			create = &calls[i]
		}
	}
	if create == nil {
		t.Fatal("the integration was not created")
	}
	for key, want := range map[string]any{
		"installationId": "reg-test", "installationAppType": "fake", "version": buildinfo.Version,
		"actionsProcessingEnabled": false, "incrementalSyncEnabled": false, "createPortResourcesOrigin": "Default",
	} {
		if create.body[key] != want {
			t.Errorf("create body %s = %v, want %v", key, create.body[key], want)
		}
	}
	if cd, ok := create.body["changelogDestination"].(map[string]any); !ok || len(cd) != 0 {
		t.Errorf("changelogDestination = %v, want {} for ONCE", create.body["changelogDestination"])
	}
	cfg, _ := create.body["config"].(map[string]any)
	if res, _ := cfg["resources"].([]any); len(res) != 5 || cfg["entityDeletionThreshold"] != 0.9 {
		t.Errorf("create config = %v, want the default mapping", cfg)
	}
	rec := p.emu.Integration("reg-test")
	if rec["arePortResourcesInitialized"] != true {
		t.Errorf("arePortResourcesInitialized = %v", rec["arePortResourcesInitialized"])
	}
	if got := p.emu.Blueprints(); strings.Join(got, ",") != strings.Join(defaultBlueprints, ",") {
		t.Errorf("blueprints = %v", got)
	}

	// Nothing drifted: no create, no patch.
	if err := p.start(t, state, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range p.take("POST /v1/integration") {
		if c.path == "/v1/integration" {
			t.Errorf("second start created the integration again: %v", c)
		}
	}
	for _, c := range p.take("") {
		if c.method == http.MethodPatch && c.path == "/v1/integration/reg-test" || c.method == http.MethodPost && c.path == "/v1/blueprints" {
			t.Errorf("second start sent %s %s %v", c.method, c.path, c.body)
		}
	}

	// Someone changed the version and the changelog destination in Port:
	// only those are patched back.
	portRequest(t, p, http.MethodPatch, "/v1/integration/reg-test", map[string]any{"version": "0.0.1", "changelogDestination": map[string]any{"type": "KAFKA"}})
	p.take("")
	if err := p.start(t, state, nil); err != nil {
		t.Fatal(err)
	}
	var patches []portCall
	for _, c := range p.take("PATCH /v1/integration/reg-test") {
		if c.path == "/v1/integration/reg-test" {
			patches = append(patches, c)
		}
	}
	if len(patches) != 1 {
		t.Fatalf("patches = %v, want one", patches)
	}
	got := make([]string, 0, len(patches[0].body))
	for k := range patches[0].body {
		got = append(got, k)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "changelogDestination,version" || patches[0].body["version"] != buildinfo.Version {
		t.Errorf("drift patch = %v, want changelogDestination and version only", patches[0].body)
	}
}

// portRequest calls Port as a user of Port would.
func portRequest(t *testing.T, p *recordingPort, method, path string, body any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(mustJSON(t, body))
	}
	req, err := http.NewRequest(method, p.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token(t, p))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
	}
}

func token(t *testing.T, p *recordingPort) string {
	t.Helper()
	resp, err := http.Post(p.url+"/v1/auth/access_token", "application/json", strings.NewReader(`{"clientId":"reg-id","clientSecret":"reg-secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.AccessToken
}

func TestInitializationIsAllOrNothing(t *testing.T) {
	t.Parallel()
	t.Run("an existing default blueprint", func(t *testing.T) {
		t.Parallel()
		p := newRecordingPort(t)
		portRequest(t, p, http.MethodPost, "/v1/blueprints", map[string]any{"identifier": "fake-team", "title": "Mine", "schema": map[string]any{"properties": map[string]any{}}})
		// Start-up itself must not create any of the others (the resync
		// may fail: its blueprints are missing).
		if err := p.start(t, t.TempDir(), nil); err != nil && !daemon.IsJobFailure(err) {
			t.Fatalf("start = %v, want start-up itself to succeed", err)
		}
		if got := p.emu.Blueprints(); len(got) != 1 || got[0] != "fake-team" {
			t.Errorf("blueprints = %v, want only the user's fake-team", got)
		}
		if rec := p.emu.Integration("reg-test"); rec["arePortResourcesInitialized"] != true {
			t.Errorf("arePortResourcesInitialized = %v, want true (nothing to install)", rec["arePortResourcesInitialized"])
		}
	})
	t.Run("a failure rolls back", func(t *testing.T) {
		t.Parallel()
		p := newRecordingPort(t)
		p.fail["PATCH /v1/blueprints/fake-project"] = http.StatusInternalServerError
		err := p.start(t, t.TempDir(), nil)
		if err == nil || daemon.IsJobFailure(err) || !strings.Contains(err.Error(), "rolled back") {
			t.Fatalf("start = %v, want a start-up failure saying it rolled back", err)
		}
		if got := p.emu.Blueprints(); len(got) != 0 {
			t.Errorf("blueprints left after the failure: %v", got)
		}
		if rec := p.emu.Integration("reg-test"); rec["arePortResourcesInitialized"] == true {
			t.Error("a failed installation was marked initialized")
		}
		// The next start installs everything.
		delete(p.fail, "PATCH /v1/blueprints/fake-project")
		if err := p.start(t, t.TempDir(), nil); err != nil {
			t.Fatal(err)
		}
		if got := p.emu.Blueprints(); len(got) != 5 {
			t.Errorf("blueprints after retry = %v", got)
		}
	})
	t.Run("already initialized", func(t *testing.T) {
		t.Parallel()
		p := newRecordingPort(t)
		state := t.TempDir()
		if err := p.start(t, state, nil); err != nil {
			t.Fatal(err)
		}
		// A user removes a default blueprint; the integration is
		// initialized, so start-up does not bring it back.
		for _, id := range p.emu.Identifiers("fake-project") {
			p.emu.DeleteEntity("fake-project", id)
		}
		portRequest(t, p, http.MethodDelete, "/v1/blueprints/fake-project", nil)
		p.take("")
		if err := p.start(t, state, nil); err != nil && !daemon.IsJobFailure(err) {
			t.Fatalf("start = %v, want start-up itself to succeed", err)
		}
		for _, c := range p.take("POST /v1/blueprints") {
			if c.path == "/v1/blueprints" {
				t.Errorf("an initialized integration created blueprint %v", c.body["identifier"])
			}
		}
		if got := p.emu.Blueprints(); len(got) != 4 {
			t.Errorf("blueprints = %v", got)
		}
	})
}
