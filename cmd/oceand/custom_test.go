package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"oceand/port/emulator"
	"oceand/store"
)

// itemsAPI is a third-party REST API for the custom source: POST /auth
// hands out a fresh token for a client secret, GET /items serves the items
// in pages (?page=&size=) under "items" with "has_more", and only to the
// newest token. failPage answers that page 500.
type itemsAPI struct {
	*httptest.Server
	mu       sync.Mutex
	items    []map[string]any
	failPage int
	tokens   int
	// echo makes every item served carry the request's Authorization
	// header, the client secret and Port's client secret, as APIs that echo
	// a request do.
	echo bool
}

const itemsAPISecret = "items-api-client-secret"

func newItemsAPI(t *testing.T, n int) *itemsAPI {
	t.Helper()
	a := &itemsAPI{}
	for i := range n {
		a.items = append(a.items, map[string]any{"id": fmt.Sprintf("item-%03d", i), "name": fmt.Sprintf("Item %d", i), "size": i})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ClientSecret string `json:"client_secret"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.ClientSecret != itemsAPISecret {
			http.Error(w, `{"error":"bad credentials"}`, http.StatusUnauthorized)
			return
		}
		a.mu.Lock()
		a.tokens++
		tok := a.token()
		a.mu.Unlock()
		fmt.Fprintf(w, `{"access_token":%q,"expires_in":3600}`, tok)
	})
	mux.HandleFunc("GET /items", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+a.token() {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		if page == a.failPage {
			// Retry-After: 0 keeps the ten attempts of the client quick.
			w.Header().Set("Retry-After", "0")
			http.Error(w, `{"error":"overloaded"}`, http.StatusServiceUnavailable)
			return
		}
		lo, hi := min((page-1)*size, len(a.items)), min(page*size, len(a.items))
		items := a.items[lo:hi]
		if a.echo {
			items = nil
			for _, it := range a.items[lo:hi] {
				items = append(items, map[string]any{"id": it["id"], "name": it["name"], "size": it["size"],
					"request": map[string]any{"authorization": r.Header.Get("Authorization"), "note": "sent with " + itemsAPISecret, "port": "custom-port-secret"}})
			}
		}
		b, _ := json.Marshal(map[string]any{"items": items, "has_more": hi < len(a.items)})
		w.Write(b)
	})
	a.Server = httptest.NewServer(mux)
	t.Cleanup(a.Close)
	return a
}

// token is the newest token handed out; the caller holds mu.
func (a *itemsAPI) token() string { return fmt.Sprintf("items-api-token-%d-b5f1c0", a.tokens) }

func (a *itemsAPI) set(f func(a *itemsAPI)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a)
}

// customRun is one ONCE run of a custom integration against api and a Port
// emulator holding the item blueprint and a mapping of /items.
type customRun struct {
	t        *testing.T
	api      *itemsAPI
	emu      *emulator.Server
	env      []string
	stateDir string
	portURL  string
	logs     strings.Builder // of every run
}

func newCustomRun(t *testing.T, api *itemsAPI) *customRun {
	t.Helper()
	const id, secret = "custom-id", "custom-port-secret"
	emu := emulator.New(emulator.Config{ClientID: id, ClientSecret: secret})
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	p := &portAPI{t: t, url: srv.URL, id: id, secret: secret}
	p.do(http.MethodPost, "/v1/blueprints", map[string]any{"identifier": "item", "title": "Item",
		"schema": map[string]any{"properties": map[string]any{"size": map[string]any{"type": "number"}}}})
	p.do(http.MethodPost, "/v1/integration", map[string]any{"installationId": "custom-items", "config": map[string]any{
		"entityDeletionThreshold": 1,
		"resources": []any{map[string]any{
			"kind":     "/items",
			"selector": map[string]any{"query": "true", "data_path": ".items"},
			"port": map[string]any{"entity": map[string]any{"mappings": map[string]any{
				"identifier": ".id", "title": ".name", "blueprint": `"item"`,
				"properties": map[string]any{"size": ".size"},
			}}},
		}},
	}})
	stateDir := t.TempDir()
	return &customRun{t: t, api: api, emu: emu, stateDir: stateDir, portURL: srv.URL, env: []string{
		"OCEAN__PORT__BASE_URL=" + srv.URL,
		"OCEAN__PORT__CLIENT_ID=" + id,
		"OCEAN__PORT__CLIENT_SECRET=" + secret,
		"OCEAN__INTEGRATION__TYPE=custom",
		"OCEAN__INTEGRATION__IDENTIFIER=custom-items",
		"OCEAN__EVENT_LISTENER__TYPE=ONCE",
		"OCEAN__STATE_DIR=" + stateDir,
		"OCEAN__LOG_LEVEL=DEBUG",
		"OCEAN__LOG_FORMAT=json",
		"OCEAN__INTEGRATION__CONFIG__BASE_URL=" + api.URL + "/",
		"OCEAN__INTEGRATION__CONFIG__AUTH_TYPE=custom",
		`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST={"endpoint": "/auth", "method": "POST", "body": {"client_id": "oceand", "client_secret": "` + itemsAPISecret + `"}}`,
		`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST_TEMPLATE={"headers": {"Authorization": "Bearer {{.access_token}}"}}`,
		"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=page",
		"OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=10",
		"OCEAN__INTEGRATION__CONFIG__HAS_MORE_PATH=has_more",
	}}
}

// run runs `oceand run` once and returns its exit code and logs.
func (c *customRun) run() (int, string) {
	c.t.Helper()
	code, out, errOut := runCLI(c.t, c.env, "run")
	c.logs.WriteString(out + errOut)
	return code, out + errOut
}

func (c *customRun) lastJob() *store.Job {
	c.t.Helper()
	st, err := store.Open(filepath.Join(c.stateDir, "oceand.db"), store.Options{ReadOnly: true})
	if err != nil {
		c.t.Fatal(err)
	}
	defer st.Close()
	jobs, err := st.ListJobs(store.ListOptions{Limit: 1})
	if err != nil || len(jobs) == 0 {
		c.t.Fatalf("no job: %v", err)
	}
	return jobs[0]
}

func TestCustomSourceThroughTheDaemon(t *testing.T) {
	t.Parallel()
	api := newItemsAPI(t, 35)
	c := newCustomRun(t, api)

	if code, logs := c.run(); code != exitOK {
		t.Fatalf("first run: exit %d\n%s", code, logs)
	}
	if n := len(c.emu.Identifiers("item")); n != 35 {
		t.Fatalf("Port holds %d items after the first resync, want 35", n)
	}

	// Page 3 fails: the job fails and nothing is deleted, though items 30+
	// were not seen.
	api.set(func(a *itemsAPI) { a.failPage = 3 })
	code, logs := c.run()
	if code != exitFailure {
		t.Fatalf("run with page 3 failing: exit %d, want %d\n%s", code, exitFailure, logs)
	}
	j := c.lastJob()
	if j.State != store.JobFailed || !strings.Contains(j.Error, "/items") {
		t.Errorf("job %s: %q; want failed naming the URL", j.State, j.Error)
	}
	if n := len(c.emu.Identifiers("item")); n != 35 {
		t.Errorf("Port holds %d items after a failed fetch, want all 35", n)
	}

	// An item removed from the API is deleted from Port next time.
	api.set(func(a *itemsAPI) { a.failPage = 0; a.items = append(a.items[:7], a.items[8:]...) })
	if code, logs := c.run(); code != exitOK {
		t.Fatalf("run after a removal: exit %d\n%s", code, logs)
	}
	ids := c.emu.Identifiers("item")
	if len(ids) != 34 || strings.Contains(strings.Join(ids, ","), "item-007") {
		t.Errorf("Port holds %d items (%v), want 34 without item-007", len(ids), ids)
	}

	// Neither the client secret nor any token handed out appears in the
	// DEBUG logs, the CLI's output or the state file.
	_, show, _ := runCLI(t, c.env, "jobs", "show", "1", "--json")
	logs = c.logs.String()
	db, err := os.ReadFile(filepath.Join(c.stateDir, "oceand.db"))
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	api.set(func(a *itemsAPI) {
		for i := 1; i <= a.tokens; i++ {
			tokens = append(tokens, fmt.Sprintf("items-api-token-%d-b5f1c0", i))
		}
	})
	for _, s := range append(tokens, itemsAPISecret) {
		for what, text := range map[string]string{"logs": logs, "jobs show": show, "state file": string(db)} {
			if strings.Contains(text, s) {
				t.Errorf("%q appears in the %s", s, what)
			}
		}
	}
	if len(tokens) == 0 {
		t.Error("the API handed out no token")
	}
}

// TestCustomSourceTokensNeverReachPortsUI: the custom source's API echoes
// the token it was sent (obtained at run time from customAuthRequest) and
// the client secret in every item; the raw data examples and the log
// records shipped to Port hold neither, only the mask.
func TestCustomSourceTokensNeverReachPortsUI(t *testing.T) {
	t.Parallel()
	api := newItemsAPI(t, 12)
	api.echo = true
	c := newCustomRun(t, api)
	if code, logs := c.run(); code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, logs)
	}
	var examples struct {
		Kinds map[string]struct {
			Examples []map[string]any `json:"examples"`
		} `json:"kinds"`
	}
	var shipped struct {
		Logs []map[string]any `json:"logs"`
	}
	for what, out := range map[string]any{"examples": &examples, "logs": &shipped} {
		resp, err := http.Get(c.portURL + "/_emulator/integrations/custom-items/" + what)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(out)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("admin %s: %v", what, err)
		}
	}
	items := examples.Kinds["/items"].Examples
	if len(items) != 5 {
		t.Fatalf("%d examples of /items; want 5: %v", len(items), examples)
	}
	req, _ := items[0]["request"].(map[string]any)
	auth, _ := req["authorization"].(string)
	if !strings.Contains(auth, "[REDACTED]") || req["note"] != "sent with [REDACTED]" || items[0]["id"] != "item-000" {
		t.Errorf("example %v; want the token and the secret masked, the rest as fetched", items[0])
	}
	if len(shipped.Logs) == 0 {
		t.Error("no log record reached Port")
	}
	var tokens []string
	api.set(func(a *itemsAPI) {
		for i := 1; i <= a.tokens; i++ {
			tokens = append(tokens, fmt.Sprintf("items-api-token-%d-b5f1c0", i))
		}
	})
	if len(tokens) == 0 {
		t.Fatal("the API handed out no token")
	}
	ex, _ := json.Marshal(examples)
	logs, _ := json.Marshal(shipped)
	for _, s := range append(tokens, itemsAPISecret, "custom-port-secret") {
		for what, text := range map[string]string{"examples": string(ex), "shipped logs": string(logs)} {
			if strings.Contains(text, s) {
				t.Errorf("%q reached Port in the %s", s, what)
			}
		}
	}
	// The entities Port holds were mapped from the items as fetched.
	if n := len(c.emu.Identifiers("item")); n != 12 {
		t.Errorf("Port holds %d items; want 12", n)
	}
}

// TestCustomEndToEnd runs the built binary as a user would: `oceand run`
// (ONCE, integration.type custom) against a REST API and the emulator, then
// `oceand source test` against the same API.
func TestCustomEndToEnd(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	api := newItemsAPI(t, 25)
	c := newCustomRun(t, api)

	run := exec.Command(bin, "run")
	run.Env = c.env
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("oceand run: %v\n%s", err, out)
	}
	if n := len(c.emu.Identifiers("item")); n != 25 {
		t.Fatalf("Port holds %d items, want 25\n%s", n, out)
	}

	mappingFile := filepath.Join(t.TempDir(), "mapping.yml")
	if err := os.WriteFile(mappingFile, []byte(`resources:
  - kind: /items
    selector:
      query: 'true'
      data_path: .items
    port:
      entity:
        mappings:
          identifier: .id
          title: .name
          blueprint: '"item"'
`), 0o600); err != nil {
		t.Fatal(err)
	}
	test := exec.Command(bin, "source", "test", "--mapping", mappingFile, "--pages", "2", "--json")
	test.Env = c.env
	var stdout, stderr strings.Builder
	test.Stdout, test.Stderr = &stdout, &stderr
	if err := test.Run(); err != nil {
		t.Fatalf("oceand source test: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	var got struct {
		Resources []sourceTrial `json:"resources"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &got); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if len(got.Resources) != 1 || got.Resources[0].Pages != 2 || !got.Resources[0].More ||
		len(got.Resources[0].Items) != 20 || got.Resources[0].Trial.Totals.Entities != 20 {
		t.Errorf("source test: %+v, want 2 pages of 10 items making 20 entities, more to come", got.Resources)
	}
	all := string(out) + stdout.String() + stderr.String()
	for _, s := range []string{itemsAPISecret, "items-api-token-"} {
		if strings.Contains(all, s) {
			t.Errorf("%q appears in the output", s)
		}
	}
}
