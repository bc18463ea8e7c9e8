package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/goccy/go-yaml"

	"oceand/port/emulator"
)

// These tests configure oceand the way an Ocean `custom` user does: every
// setting is an OCEAN__INTEGRATION__CONFIG__* string (as Ocean's docs and
// Helm chart set them), and the mapping is the integration's config stored
// in Port, written as Ocean users write it (snake_case selector keys,
// Ocean's jq idioms). The third-party API is an httptest server.

const bbPortID, bbPortSecret = "bb-client-id", "bb-client-secret-value"

// bbPort is an in-process emulator holding the integration "bb" with the
// given mapping (YAML, as a user pastes it into Port's UI) and a blueprint
// for each blueprint the tests use.
type bbPort struct {
	*portAPI
}

func newBBPort(t *testing.T, mappingYAML string) *bbPort {
	t.Helper()
	emu := emulator.New(emulator.Config{ClientID: bbPortID, ClientSecret: bbPortSecret})
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	p := &bbPort{&portAPI{t: t, url: srv.URL, id: bbPortID, secret: bbPortSecret}}
	for _, bp := range []string{"item", "team", "member"} {
		relations := map[string]any{}
		if bp == "member" {
			relations["team"] = map[string]any{"title": "Team", "target": "team", "many": false, "required": false}
		}
		p.do(http.MethodPost, "/v1/blueprints", map[string]any{"identifier": bp, "title": bp,
			"schema": map[string]any{"properties": map[string]any{}}, "relations": relations})
	}
	var config map[string]any
	if err := yaml.Unmarshal([]byte(mappingYAML), &config); err != nil {
		t.Fatalf("mapping: %v", err)
	}
	p.do(http.MethodPost, "/v1/integration", map[string]any{"installationId": "bb", "config": config})
	return p
}

// entities returns blueprint's entities by identifier.
func (p *bbPort) entities(blueprint string) map[string]map[string]any {
	p.t.Helper()
	out := p.do(http.MethodGet, "/v1/blueprints/"+blueprint+"/entities", nil)
	list, _ := out["entities"].([]any)
	got := map[string]map[string]any{}
	for _, e := range list {
		m := e.(map[string]any)
		got[m["identifier"].(string)] = m
	}
	return got
}

func (p *bbPort) ids(blueprint string) []string {
	var ids []string
	for id := range p.entities(blueprint) {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// bbEnv is what an Ocean custom user sets, plus oceand's state directory.
func bbEnv(t *testing.T, p *bbPort, apiURL string, extra ...string) []string {
	return append([]string{
		"OCEAN__PORT__CLIENT_ID=" + bbPortID,
		"OCEAN__PORT__CLIENT_SECRET=" + bbPortSecret,
		"OCEAN__PORT__BASE_URL=" + p.url,
		"OCEAN__INTEGRATION__TYPE=custom",
		"OCEAN__INTEGRATION__IDENTIFIER=bb",
		"OCEAN__EVENT_LISTENER__TYPE=ONCE",
		"OCEAN__LOG_LEVEL=DEBUG",
		"OCEAN__LOG_FORMAT=json",
		"OCEAN__STATE_DIR=" + t.TempDir(),
		"OCEAN__INTEGRATION__CONFIG__BASE_URL=" + apiURL,
	}, extra...)
}

// bbRun runs `oceand run` once and returns its exit code and logs.
func bbRun(t *testing.T, env []string) (int, string) {
	t.Helper()
	code, out, errOut := runCLI(t, env, "run")
	return code, out + errOut
}

// itemMapping is a mapping of one kind to blueprint item.
func itemMapping(kind, selector string) string {
	query := "      query: 'true'\n"
	if strings.Contains(selector, "query:") {
		query = ""
	}
	return `
deleteDependentEntities: true
createMissingRelatedEntities: true
resources:
  - kind: ` + kind + `
    selector:
` + query + selector + `
    port:
      entity:
        mappings:
          identifier: .id | tostring
          title: .name
          blueprint: '"item"'
          properties:
            name: .name
`
}

// jsonAPI answers each path (with its query string, as requested) from
// pages; anything else is a 404 the test reports.
func jsonAPI(t *testing.T, pages map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.RequestURI()]
		if !ok {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.RequestURI())
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func assertIDs(t *testing.T, p *bbPort, blueprint string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := p.ids(blueprint); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s entities %v, want %v", blueprint, got, want)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestBlackboxPagination runs every paginationType against APIs shaped as
// Ocean's docs show them, with Ocean's default field names.
func TestBlackboxPagination(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   []string
		kind  string
		sel   string
		pages map[string]string
		want  []string
	}{
		{
			name:  "cursor next_cursor has_more",
			env:   []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=cursor", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2"},
			kind:  "/users",
			sel:   "      data_path: .data",
			pages: map[string]string{"/users?limit=2": `{"data":[{"id":1},{"id":2}],"next_cursor":"c2","has_more":true}`, "/users?cursor=c2&limit=2": `{"data":[{"id":3}],"next_cursor":null,"has_more":false}`},
			want:  []string{"1", "2", "3"},
		},
		{
			name:  "cursor field, no has_more",
			env:   []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=cursor", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2"},
			kind:  "users",
			sel:   "      data_path: .items",
			pages: map[string]string{"/users?limit=2": `{"items":[{"id":1},{"id":2}],"cursor":"c2"}`, "/users?cursor=c2&limit=2": `{"items":[{"id":3}],"cursor":""}`},
			want:  []string{"1", "2", "3"},
		},
		{
			name:  "cursor meta.after_cursor meta.has_more",
			env:   []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=cursor", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2"},
			kind:  "/users",
			sel:   "      data_path: .data",
			pages: map[string]string{"/users?limit=2": `{"data":[{"id":1},{"id":2}],"meta":{"after_cursor":"xyz","has_more":true}}`, "/users?cursor=xyz&limit=2": `{"data":[{"id":3}],"meta":{"after_cursor":null,"has_more":false}}`},
			want:  []string{"1", "2", "3"},
		},
		{
			name:  "cursor links.next hasMore",
			env:   []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=cursor", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2"},
			kind:  "/users",
			sel:   "      data_path: .data",
			pages: map[string]string{"/users?limit=2": `{"data":[{"id":1},{"id":2}],"links":{"next":"n2"},"hasMore":true}`, "/users?cursor=n2&limit=2": `{"data":[{"id":3}],"links":{"next":null},"hasMore":false}`},
			want:  []string{"1", "2", "3"},
		},
		{
			name: "cursor HubSpot paging.next.after",
			env: []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=cursor", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2",
				"OCEAN__INTEGRATION__CONFIG__PAGINATION_PARAM=after", "OCEAN__INTEGRATION__CONFIG__SIZE_PARAM=limit",
				"OCEAN__INTEGRATION__CONFIG__CURSOR_PATH=paging.next.after", "OCEAN__INTEGRATION__CONFIG__HAS_MORE_PATH=paging.next"},
			kind:  "/crm/v3/objects/contacts",
			sel:   "      data_path: .results",
			pages: map[string]string{"/crm/v3/objects/contacts?limit=2": `{"results":[{"id":"1"},{"id":"2"}],"paging":{"next":{"after":"2","link":"x"}}}`, "/crm/v3/objects/contacts?after=2&limit=2": `{"results":[{"id":"3"}]}`},
			want:  []string{"1", "2", "3"},
		},
		{
			name:  "cursor numeric next_cursor",
			env:   []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=cursor", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2", "OCEAN__INTEGRATION__CONFIG__PAGINATION_PARAM=since"},
			kind:  "/events",
			sel:   "      data_path: .data",
			pages: map[string]string{"/events?limit=2": `{"data":[{"id":1},{"id":2}],"next_cursor":1234567890123,"has_more":true}`, "/events?limit=2&since=1234567890123": `{"data":[{"id":3}],"has_more":false}`},
			want:  []string{"1", "2", "3"},
		},
		{
			name:  "page next_page",
			env:   []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=page", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2"},
			kind:  "/users",
			sel:   "      data_path: .users",
			pages: map[string]string{"/users?page=1&size=2": `{"users":[{"id":1},{"id":2}],"next_page":2}`, "/users?page=2&size=2": `{"users":[{"id":3}],"next_page":null}`},
			want:  []string{"1", "2", "3"},
		},
		{
			name:  "page next url",
			env:   []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=page", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2"},
			kind:  "/users",
			sel:   "      data_path: .users",
			pages: map[string]string{"/users?page=1&size=2": `{"users":[{"id":1},{"id":2}],"next":"https://x/users?page=2"}`, "/users?page=2&size=2": `{"users":[{"id":3}],"next":null}`},
			want:  []string{"1", "2", "3"},
		},
		{
			name: "page start 0, has_more_path, custom params",
			env: []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=page", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2", "OCEAN__INTEGRATION__CONFIG__START_PAGE=0",
				"OCEAN__INTEGRATION__CONFIG__PAGINATION_PARAM=p", "OCEAN__INTEGRATION__CONFIG__SIZE_PARAM=per_page", "OCEAN__INTEGRATION__CONFIG__HAS_MORE_PATH=pagination.more"},
			kind:  "/v1/things",
			sel:   "      data_path: .data",
			pages: map[string]string{"/v1/things?p=0&per_page=2": `{"data":[{"id":1},{"id":2}],"pagination":{"more":true}}`, "/v1/things?p=1&per_page=2": `{"data":[{"id":3}],"pagination":{"more":false}}`},
			want:  []string{"1", "2", "3"},
		},
		{
			name:  "page bare list",
			env:   []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=page", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2"},
			kind:  "/users",
			pages: map[string]string{"/users?page=1&size=2": `[{"id":1},{"id":2}]`, "/users?page=2&size=2": `[{"id":3}]`},
			want:  []string{"1", "2", "3"},
		},
		{
			name:  "page last_page_path",
			env:   []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=page", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2", "OCEAN__INTEGRATION__CONFIG__LAST_PAGE_PATH=last", "OCEAN__INTEGRATION__CONFIG__START_PAGE=0"},
			kind:  "/users",
			sel:   "      data_path: .content",
			pages: map[string]string{"/users?page=0&size=2": `{"content":[{"id":1},{"id":2}],"last":false}`, "/users?page=1&size=2": `{"content":[{"id":3}],"last":true}`},
			want:  []string{"1", "2", "3"},
		},
		{
			name:  "offset has_more",
			env:   []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=offset", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2"},
			kind:  "/users",
			sel:   "      data_path: .data",
			pages: map[string]string{"/users?limit=2&offset=0": `{"data":[{"id":1},{"id":2}],"has_more":true}`, "/users?limit=2&offset=2": `{"data":[{"id":3}],"has_more":false}`},
			want:  []string{"1", "2", "3"},
		},
		{
			name:  "offset wrapped without has_more ends on the empty page",
			env:   []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=offset", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2"},
			kind:  "/users",
			sel:   "      data_path: .data",
			pages: map[string]string{"/users?limit=2&offset=0": `{"data":[{"id":1},{"id":2}]}`, "/users?limit=2&offset=2": `{"data":[{"id":3}]}`, "/users?limit=2&offset=4": `{"data":[]}`},
			want:  []string{"1", "2", "3"},
		},
		{
			name:  "offset bare list",
			env:   []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=offset", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2"},
			kind:  "/users",
			pages: map[string]string{"/users?limit=2&offset=0": `[{"id":1},{"id":2}]`, "/users?limit=2&offset=2": `[]`},
			want:  []string{"1", "2"},
		},
		{
			name:  "next_link odata relative",
			env:   []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=next_link"},
			kind:  "/v1.0/users",
			sel:   "      data_path: .value",
			pages: map[string]string{"/v1.0/users": `{"value":[{"id":1},{"id":2}],"@odata.nextLink":"/v1.0/users?$skiptoken=abc"}`, "/v1.0/users?$skiptoken=abc": `{"value":[{"id":3}]}`},
			want:  []string{"1", "2", "3"},
		},
		{
			name:  "next_link links.next path",
			env:   []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=next_link", "OCEAN__INTEGRATION__CONFIG__NEXT_LINK_PATH=links.next"},
			kind:  "/users",
			sel:   "      data_path: .data\n      query_params:\n        active: \"true\"",
			pages: map[string]string{"/users?active=true": `{"data":[{"id":1}],"links":{"next":"/users?active=true&page=2"}}`, "/users?active=true&page=2": `{"data":[{"id":2}],"links":{"next":null}}`},
			want:  []string{"1", "2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := jsonAPI(t, tt.pages)
			p := newBBPort(t, itemMapping(tt.kind, tt.sel))
			code, logs := bbRun(t, bbEnv(t, p, api.URL, tt.env...))
			if code != exitOK {
				t.Fatalf("exit %d\n%s", code, logs)
			}
			assertIDs(t, p, "item", tt.want...)
		})
	}
}

// authAPI serves /users when the request carries what check accepts, and
// the token endpoint /oauth/token with tokenAnswer.
func authAPI(t *testing.T, check func(r *http.Request) bool, tokenCheck func(r *http.Request) bool, tokenAnswer string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v2/oauth/token":
			if tokenCheck == nil || !tokenCheck(r) {
				t.Errorf("bad token request %s %s %v", r.Method, r.URL, r.Header)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.Write([]byte(tokenAnswer))
		case "/api/v2/users":
			if !check(r) {
				t.Errorf("unauthenticated request %s %v", r.URL, r.Header)
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"error":"unauthorized"}`))
				return
			}
			w.Write([]byte(`{"users":[{"id":1,"name":"a"},{"id":2,"name":"b"}]}`))
		default:
			t.Errorf("unexpected request %s", r.URL)
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func formValue(r *http.Request, k string) string {
	if err := r.ParseForm(); err != nil {
		return ""
	}
	return r.PostForm.Get(k)
}

func jsonBody(r *http.Request) map[string]any {
	var m map[string]any
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		return nil
	}
	return m
}

// TestBlackboxAuth runs every authType configured by env variables, with
// baseUrl carrying a path and trailing whitespace, and a kind with and
// without a leading slash; no secret or token may appear in DEBUG logs.
func TestBlackboxAuth(t *testing.T) {
	t.Parallel()
	const token = "tok-abcdef123456"
	tests := []struct {
		name       string
		env        []string
		check      func(r *http.Request) bool
		tokenCheck func(r *http.Request) bool
		answer     string
		secrets    []string
	}{
		{"none", []string{"OCEAN__INTEGRATION__CONFIG__AUTH_TYPE=none"}, func(r *http.Request) bool { return r.Header.Get("Authorization") == "" }, nil, "", nil},
		{"bearer", []string{"OCEAN__INTEGRATION__CONFIG__AUTH_TYPE=bearer_token", "OCEAN__INTEGRATION__CONFIG__API_TOKEN=bearer-secret-1"},
			func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer bearer-secret-1" }, nil, "", []string{"bearer-secret-1"}},
		{"basic", []string{"OCEAN__INTEGRATION__CONFIG__AUTH_TYPE=basic", "OCEAN__INTEGRATION__CONFIG__USERNAME=bob", "OCEAN__INTEGRATION__CONFIG__PASSWORD=basic-pass-1"},
			func(r *http.Request) bool { u, p, ok := r.BasicAuth(); return ok && u == "bob" && p == "basic-pass-1" }, nil, "", []string{"basic-pass-1", "Ym9iOmJhc2ljLXBhc3MtMQ=="}},
		{"api_key default header", []string{"OCEAN__INTEGRATION__CONFIG__AUTH_TYPE=api_key", "OCEAN__INTEGRATION__CONFIG__API_KEY=key-secret-1"},
			func(r *http.Request) bool { return r.Header.Get("X-API-Key") == "key-secret-1" }, nil, "", []string{"key-secret-1"}},
		{"api_key own header", []string{"OCEAN__INTEGRATION__CONFIG__AUTH_TYPE=api_key", "OCEAN__INTEGRATION__CONFIG__API_KEY=key-secret-1", "OCEAN__INTEGRATION__CONFIG__API_KEY_HEADER=Authorization"},
			func(r *http.Request) bool { return r.Header.Get("Authorization") == "key-secret-1" }, nil, "", []string{"key-secret-1"}},
		{"custom body access_token", []string{"OCEAN__INTEGRATION__CONFIG__AUTH_TYPE=custom",
			`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST={"endpoint":"/oauth/token","method":"POST","body":{"client_id":"my-client","client_secret":"client-secret-1","grant_type":"client_credentials"},"reauthenticateIntervalSeconds":3600}`,
			`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST_TEMPLATE={"headers":{"Authorization":"Bearer {{.access_token}}"}}`},
			func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+token },
			func(r *http.Request) bool {
				b := jsonBody(r)
				return r.Method == http.MethodPost && r.Header.Get("Content-Type") == "application/json" && b["client_secret"] == "client-secret-1"
			},
			`{"access_token":"` + token + `","expires_in":3600,"token_type":"Bearer"}`, []string{"client-secret-1", token}},
		{"custom bodyForm nested data.token", []string{"OCEAN__INTEGRATION__CONFIG__AUTH_TYPE=custom",
			`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST={"endpoint":"oauth/token","bodyForm":"grant_type=password&username=bob&password=form-pass-1"}`,
			`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST_TEMPLATE={"headers":{"X-Session":"{{.data.token}}"},"queryParams":{"sig":"{{.data.sig}}"}}`},
			func(r *http.Request) bool {
				return r.Header.Get("X-Session") == token && r.URL.Query().Get("sig") == "sig-98765"
			},
			func(r *http.Request) bool {
				return r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" && formValue(r, "password") == "form-pass-1"
			},
			`{"data":{"token":"` + token + `","sig":"sig-98765"}}`, []string{"form-pass-1", token, "sig-98765"}},
		{"custom absolute endpoint GET with queryParams", []string{"OCEAN__INTEGRATION__CONFIG__AUTH_TYPE=custom",
			`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST={"endpoint":"BASE/api/v2/oauth/token","method":"GET","queryParams":{"key":"query-secret-1"},"headers":{"X-Client":"hdr-secret-1"}}`,
			`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST_TEMPLATE={"headers":{"Authorization":"Token {{.access_token}}"}}`},
			func(r *http.Request) bool { return r.Header.Get("Authorization") == "Token "+token },
			func(r *http.Request) bool {
				return r.Method == http.MethodGet && r.URL.Query().Get("key") == "query-secret-1" && r.Header.Get("X-Client") == "hdr-secret-1"
			},
			`{"access_token":"` + token + `"}`, []string{"query-secret-1", "hdr-secret-1", token}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := authAPI(t, tt.check, tt.tokenCheck, tt.answer)
			p := newBBPort(t, itemMapping("users", "      data_path: .users"))
			env := bbEnv(t, p, api.URL+"/api/v2 \n")
			for _, e := range tt.env {
				env = append(env, strings.ReplaceAll(e, "BASE", api.URL))
			}
			code, logs := bbRun(t, env)
			if code != exitOK {
				t.Fatalf("exit %d\n%s", code, logs)
			}
			assertIDs(t, p, "item", "1", "2")
			for _, s := range tt.secrets {
				if strings.Contains(logs, s) {
					t.Errorf("DEBUG logs show %q:\n%s", s, logs)
				}
			}
			state := stateFiles(t, env)
			for _, s := range tt.secrets {
				if strings.Contains(state, s) {
					t.Errorf("the state directory holds %q", s)
				}
			}
		})
	}
}

// TestBlackboxResources covers selector keys as Ocean users write them.
func TestBlackboxResources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     []string
		kind    string
		sel     string
		handler http.HandlerFunc
		want    []string
	}{
		{
			name: "kind with a query string and query_params",
			kind: "/search?state=open",
			sel:  "      data_path: .items\n      query_params:\n        per_page: \"50\"",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/search" || r.URL.Query().Get("state") != "open" || r.URL.Query().Get("per_page") != "50" {
					http.Error(w, "bad query "+r.URL.RawQuery, http.StatusBadRequest)
					return
				}
				w.Write([]byte(`{"items":[{"id":7,"name":"x"}]}`))
			},
			want: []string{"7"},
		},
		{
			name: "query_params numbers and booleans unquoted, headers with a number",
			kind: "/users",
			sel:  "      data_path: .users\n      query_params:\n        per_page: 100\n        active: true\n        ratio: 0.5\n      headers:\n        X-Version: 2",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if q := r.URL.Query(); q.Get("per_page") != "100" || q.Get("active") != "true" || q.Get("ratio") != "0.5" || r.Header.Get("X-Version") != "2" {
					http.Error(w, "bad query "+r.URL.RawQuery, http.StatusBadRequest)
					return
				}
				w.Write([]byte(`{"users":[{"id":7,"name":"x"}]}`))
			},
			want: []string{"7"},
		},
		{
			name: "single object, data_path .",
			kind: "/me",
			sel:  "      data_path: .",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`{"id":"me","name":"Me"}`))
			},
			want: []string{"me"},
		},
		{
			name: "single object, no data_path",
			kind: "/me",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`{"id":"me","name":"Me"}`))
			},
			want: []string{"me"},
		},
		{
			name: "POST search with a body",
			kind: "/rest/api/3/search",
			sel:  "      method: POST\n      data_path: .issues\n      body:\n        jql: project = OPS\n        fields: [summary]\n      headers:\n        Accept: application/json",
			handler: func(w http.ResponseWriter, r *http.Request) {
				b := jsonBody(r)
				if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || b["jql"] != "project = OPS" {
					http.Error(w, "bad search", http.StatusBadRequest)
					return
				}
				w.Write([]byte(`{"issues":[{"id":"10001","name":"i"}]}`))
			},
			want: []string{"10001"},
		},
		{
			name: "jq idiom: data_path with select",
			kind: "/users",
			sel:  "      data_path: '.users | map(select(.active))'",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`{"users":[{"id":1,"active":true},{"id":2,"active":false}]}`))
			},
			want: []string{"1"},
		},
		{
			name: "gzip asked for in CUSTOM_HEADERS",
			env:  []string{`OCEAN__INTEGRATION__CONFIG__CUSTOM_HEADERS={"Accept-Encoding":"gzip","X-Org":"acme"}`},
			kind: "/users",
			sel:  "      data_path: .users",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Org") != "acme" {
					http.Error(w, "no X-Org", http.StatusBadRequest)
					return
				}
				writeGzip(w, r, `{"users":[{"id":1},{"id":2}]}`)
			},
			want: []string{"1", "2"},
		},
		{
			name: "gzip by the transport",
			kind: "/users",
			sel:  "      data_path: .users",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeGzip(w, r, `{"users":[{"id":1},{"id":2}]}`)
			},
			want: []string{"1", "2"},
		},
		{
			name: "redirect to another path keeps the auth",
			env:  []string{"OCEAN__INTEGRATION__CONFIG__AUTH_TYPE=bearer_token", "OCEAN__INTEGRATION__CONFIG__API_TOKEN=redirect-token-1"},
			kind: "/old/users",
			sel:  "      data_path: .users",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer redirect-token-1" {
					http.Error(w, "no auth", http.StatusUnauthorized)
					return
				}
				switch r.URL.Path {
				case "/old/users":
					http.Redirect(w, r, "/v2/users?"+r.URL.RawQuery, http.StatusMovedPermanently)
				case "/v2/users":
					w.Write([]byte(`{"users":[{"id":1}]}`))
				}
			},
			want: []string{"1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := httptest.NewServer(tt.handler)
			t.Cleanup(api.Close)
			p := newBBPort(t, itemMapping(tt.kind, tt.sel))
			code, logs := bbRun(t, bbEnv(t, p, api.URL, tt.env...))
			if code != exitOK {
				t.Fatalf("exit %d\n%s", code, logs)
			}
			assertIDs(t, p, "item", tt.want...)
		})
	}
}

func writeGzip(w http.ResponseWriter, r *http.Request, body string) {
	if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Write([]byte(body))
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Set("Content-Type", "application/json")
	zw := gzip.NewWriter(w)
	zw.Write([]byte(body))
	zw.Close()
}

// TestBlackboxFailuresDeleteNothing: an answer that is not the data fails
// the kind with a clear error, and the entities synced before stay.
func TestBlackboxFailuresDeleteNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     []string
		sel     string
		handler func(w http.ResponseWriter, r *http.Request)
		wantErr []string
	}{
		{
			name: "200 with an error envelope",
			sel:  "      data_path: .members",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`{"ok":false,"error":"invalid_auth"}`))
			},
			wantErr: []string{".members", "/users"},
		},
		{
			name: "200 with an HTML page",
			sel:  "      data_path: .users",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Write([]byte(`<!DOCTYPE html><html><body>Please log in</body></html>`))
			},
			wantErr: []string{"GET", "/users", "JSON"},
		},
		{
			name: "404 HTML",
			sel:  "      data_path: .users",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`<html>Not Found</html>`))
			},
			wantErr: []string{"GET", "/users", "404", "Not Found"},
		},
		{
			name: "500 on page 2",
			env:  []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=page", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=1"},
			sel:  "      data_path: .users",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("page") == "1" {
					w.Write([]byte(`{"users":[{"id":1}],"next_page":2}`))
					return
				}
				w.WriteHeader(http.StatusNotImplemented)
				w.Write([]byte(`{"error":"broken"}`))
			},
			wantErr: []string{"page=2", "501"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			good := true
			var mu sync.Mutex
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				ok := good
				mu.Unlock()
				if ok && r.URL.Query().Get("page") <= "1" {
					w.Write([]byte(`{"users":[{"id":1},{"id":2}],"members":[{"id":1},{"id":2}]}`))
					return
				}
				if ok {
					w.Write([]byte(`{"users":[]}`))
					return
				}
				tt.handler(w, r)
			}))
			t.Cleanup(api.Close)
			p := newBBPort(t, itemMapping("/users", tt.sel))
			env := bbEnv(t, p, api.URL, tt.env...)
			if code, logs := bbRun(t, env); code != exitOK {
				t.Fatalf("first run: exit %d\n%s", code, logs)
			}
			assertIDs(t, p, "item", "1", "2")
			mu.Lock()
			good = false
			mu.Unlock()
			code, logs := bbRun(t, env)
			if code != exitFailure {
				t.Errorf("exit %d, want %d\n%s", code, exitFailure, logs)
			}
			assertIDs(t, p, "item", "1", "2")
			for _, w := range tt.wantErr {
				if !strings.Contains(logs, w) {
					t.Errorf("the error does not say %q:\n%s", w, logs)
				}
			}
		})
	}
}

// TestBlackboxPathParameters: Ocean's dynamic endpoints, a relation made of
// __team_id, and the endpoint cache for /teams used as a kind and as the
// discovery endpoint.
func TestBlackboxPathParameters(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := map[string]int{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.RequestURI()]++
		mu.Unlock()
		switch r.URL.Path {
		case "/api/v1/teams":
			w.Write([]byte(`{"teams":[{"id":"t1","name":"One","status":"active"},{"id":"r&d 100%","name":"RD","status":"active"},{"id":"old","name":"Old","status":"archived"}]}`))
		case "/api/v1/teams/t1/members":
			w.Write([]byte(`{"members":[{"id":"m1","name":"Ann"}]}`))
		case "/api/v1/teams/r&d 100%/members":
			w.Write([]byte(`{"members":[{"id":"m2","name":"Bob"}]}`))
		default:
			t.Errorf("unexpected request %s", r.URL.RequestURI())
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(api.Close)
	p := newBBPort(t, `
resources:
  - kind: /api/v1/teams
    selector:
      query: 'true'
      data_path: .teams
    port:
      entity:
        mappings:
          identifier: .id | gsub("[^A-Za-z0-9]"; "_")
          title: .name
          blueprint: '"team"'
  - kind: /api/v1/teams/{team_id}/members
    selector:
      query: 'true'
      data_path: .members
      path_parameters:
        team_id:
          endpoint: /api/v1/teams
          data_path: .teams
          field: .id
          filter: .status == "active"
    port:
      entity:
        mappings:
          identifier: .id
          title: .name
          blueprint: '"member"'
          properties:
            team: .__team_id
          relations:
            team: .__team_id | gsub("[^A-Za-z0-9]"; "_")
`)
	env := bbEnv(t, p, api.URL+"/")
	code, logs := bbRun(t, env)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, logs)
	}
	if _, out, _ := runCLI(t, env, "jobs", "show", "1"); !strings.Contains(out, "FAILED\n") || strings.Contains(out, "422") {
		t.Errorf("entities failed:\n%s", out)
	}
	assertIDs(t, p, "team", "t1", "r_d_100_", "old")
	members := p.entities("member")
	if len(members) != 2 || members["m1"]["properties"].(map[string]any)["team"] != "t1" || members["m2"]["properties"].(map[string]any)["team"] != "r&d 100%" {
		t.Errorf("members %v", members)
	}
	if rel, _ := members["m2"]["relations"].(map[string]any); rel["team"] != "r_d_100_" {
		t.Errorf("m2 relations %v, want team r_d_100_", members["m2"]["relations"])
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["/api/v1/teams"] != 1 {
		t.Errorf("/api/v1/teams requested %d times, want once (the endpoint cache): %v", calls["/api/v1/teams"], calls)
	}
}

// TestBlackboxTimeout: TIMEOUT="1" gives up on a request that hangs, and
// the retry gets the answer.
func TestBlackboxTimeout(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			<-r.Context().Done() // hangs until oceand gives up
			return
		}
		w.Write([]byte(`[{"id":1}]`))
	}))
	t.Cleanup(api.Close)
	p := newBBPort(t, itemMapping("/slow", ""))
	code, logs := bbRun(t, bbEnv(t, p, api.URL, "OCEAN__INTEGRATION__CONFIG__TIMEOUT=1"))
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, logs)
	}
	assertIDs(t, p, "item", "1")
	if !strings.Contains(logs, "timeout") {
		t.Errorf("the timed-out attempt is not logged:\n%s", logs)
	}
}

// TestBlackboxMoreShapes: more of what Ocean users configure.
func TestBlackboxMoreShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     []string
		base    string // appended to the API's URL for BASE_URL
		kind    string
		sel     string
		handler func(w http.ResponseWriter, r *http.Request, url string)
		want    []string
		secret  string
	}{
		{
			name: "header_link GitHub absolute links",
			env:  []string{"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=header_link"},
			kind: "/orgs/acme/repos",
			sel:  "      query_params:\n        per_page: \"2\"",
			handler: func(w http.ResponseWriter, r *http.Request, url string) {
				if r.URL.Query().Get("page") == "" {
					w.Header().Set("Link", `<`+url+`/orgs/acme/repos?per_page=2&page=2>; rel="next", <`+url+`/orgs/acme/repos?per_page=2&page=2>; rel="last"`)
					w.Write([]byte(`[{"id":1},{"id":2}]`))
					return
				}
				w.Header().Set("Link", `<`+url+`/orgs/acme/repos?per_page=2&page=1>; rel="prev"`)
				w.Write([]byte(`[{"id":3}]`))
			},
			want: []string{"1", "2", "3"},
		},
		{
			name:   "api key in baseUrl's query string (Canny)",
			base:   "/api/v1?apiKey=canny-key-123456",
			kind:   "posts/list",
			sel:    "      method: POST\n      data_path: .posts\n      body:\n        limit: 10",
			secret: "canny-key-123456",
			handler: func(w http.ResponseWriter, r *http.Request, url string) {
				if r.URL.Path != "/api/v1/posts/list" || r.URL.Query().Get("apiKey") != "canny-key-123456" || r.Method != http.MethodPost {
					http.Error(w, "bad request "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
					return
				}
				w.Write([]byte(`{"posts":[{"id":"p1"}]}`))
			},
			want: []string{"p1"},
		},
		{
			name: "selector query filters, VERIFY_SSL False, ${VAR} in CUSTOM_HEADERS",
			env: []string{"OCEAN__INTEGRATION__CONFIG__VERIFY_SSL=False",
				// The source reads ${VAR} from the process's environment.
				`OCEAN__INTEGRATION__CONFIG__CUSTOM_HEADERS={"X-Org":"org-${HOME}"}`, "OCEAN__INTEGRATION__CONFIG__MAX_CONCURRENT_REQUESTS=10"},
			kind: "/users/",
			sel:  "      query: .active == true\n      data_path: .data.users",
			handler: func(w http.ResponseWriter, r *http.Request, url string) {
				if r.Header.Get("X-Org") != "org-"+os.Getenv("HOME") {
					http.Error(w, "no org", http.StatusBadRequest)
					return
				}
				w.Write([]byte(`{"data":{"users":[{"id":1,"active":true},{"id":2,"active":false}]}}`))
			},
			want: []string{"1"},
		},
		{
			name: "kind is a full URL",
			kind: "URL/other/items",
			handler: func(w http.ResponseWriter, r *http.Request, url string) {
				w.Write([]byte(`[{"id":"o1"}]`))
			},
			want: []string{"o1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var api *httptest.Server
			api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tt.handler(w, r, api.URL) }))
			t.Cleanup(api.Close)
			p := newBBPort(t, itemMapping(strings.ReplaceAll(tt.kind, "URL", api.URL), tt.sel))
			code, logs := bbRun(t, bbEnv(t, p, api.URL+tt.base, tt.env...))
			if code != exitOK {
				t.Fatalf("exit %d\n%s", code, logs)
			}
			assertIDs(t, p, "item", tt.want...)
			if tt.secret != "" && strings.Contains(logs, tt.secret) {
				t.Errorf("the logs show %q:\n%s", tt.secret, logs)
			}
		})
	}
}

// stateFiles returns the contents of every file of env's state directory.
func stateFiles(t *testing.T, env []string) string {
	t.Helper()
	var dir string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "OCEAN__STATE_DIR="); ok {
			dir = v
		}
	}
	var all strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSocket != 0 {
			return err
		}
		b, err := os.ReadFile(path)
		all.Write(b)
		return err
	})
	if err != nil || all.Len() == 0 {
		t.Fatalf("state directory %s: %v, %d bytes", dir, err, all.Len())
	}
	return all.String()
}

// TestBlackboxSourceTestFromPort: an Ocean user's mapping lives in Port;
// `source test --from-port` uses it, and writes nothing there.
func TestBlackboxSourceTestFromPort(t *testing.T) {
	t.Parallel()
	api := jsonAPI(t, map[string]string{"/users": `{"users":[{"id":1,"name":"a"},{"id":2,"name":"b"}]}`})
	p := newBBPort(t, itemMapping("users", "      data_path: .users"))
	env := bbEnv(t, p, api.URL, "OCEAN__INTEGRATION__CONFIG__AUTH_TYPE=bearer_token", "OCEAN__INTEGRATION__CONFIG__API_TOKEN=from-port-token-1")
	before := mustJSON(p.do(http.MethodGet, "/v1/integration/bb", nil))

	code, out, errOut := runCLI(t, env, "source", "test")
	if code != exitUsage || !strings.Contains(errOut, "--from-port") {
		t.Errorf("without a mapping: exit %d, want %d and a hint at --from-port\n%s%s", code, exitUsage, out, errOut)
	}
	code, out, errOut = runCLI(t, env, "source", "test", "--from-port", "--json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var got struct {
		Resources []sourceTrial `json:"resources"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got.Resources) != 1 || got.Resources[0].Kind != "users" || got.Resources[0].Trial.Totals.Entities != 2 {
		t.Errorf("resources %+v, want kind users making 2 entities", got.Resources)
	}
	if strings.Contains(out+errOut, "from-port-token-1") || strings.Contains(out+errOut, bbPortSecret) {
		t.Errorf("a secret is printed:\n%s\n%s", out, errOut)
	}
	if after := mustJSON(p.do(http.MethodGet, "/v1/integration/bb", nil)); after != before {
		t.Errorf("source test changed the integration in Port:\n%s\n%s", before, after)
	}
	if n := len(p.entities("item")); n != 0 {
		t.Errorf("source test wrote %d entities to Port", n)
	}
	code, _, errOut = runCLI(t, env, "source", "test", "--from-port", "--mapping", "x.yml")
	if code != exitUsage {
		t.Errorf("--from-port with --mapping: exit %d, want %d\n%s", code, exitUsage, errOut)
	}
}

// TestBlackboxLargeIntegerIDs: 64-bit ids (snowflakes) keep every digit,
// as they do in Ocean (Python integers).
func TestBlackboxLargeIntegerIDs(t *testing.T) {
	t.Parallel()
	api := jsonAPI(t, map[string]string{
		"/users":                         `{"users":[{"id":1234567890123456789,"name":"a"},{"id":1234567890123456788,"name":"b"}]}`,
		"/orgs":                          `[{"id":9007199254740993}]`,
		"/orgs/9007199254740993/members": `[{"id":9007199254740995}]`,
	})
	for _, sel := range []string{"      data_path: .users", "      data_path: '.users | map(.)'"} {
		p := newBBPort(t, itemMapping("users", sel))
		code, logs := bbRun(t, bbEnv(t, p, api.URL))
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, logs)
		}
		assertIDs(t, p, "item", "1234567890123456789", "1234567890123456788")
	}
	p := newBBPort(t, `
resources:
  - kind: /orgs/{org}/members
    selector:
      query: 'true'
      path_parameters:
        org:
          endpoint: /orgs
          field: .id
    port:
      entity:
        mappings:
          identifier: (.id | tostring) + "-" + .__org
          blueprint: '"item"'
`)
	if code, logs := bbRun(t, bbEnv(t, p, api.URL)); code != exitOK {
		t.Fatalf("exit %d\n%s", code, logs)
	}
	assertIDs(t, p, "item", "9007199254740995-9007199254740993")
}

func TestBlackboxSourceTestSettingsError(t *testing.T) {
	t.Parallel()
	p := newBBPort(t, itemMapping("users", ""))
	env := bbEnv(t, p, "http://127.0.0.1:1", "OCEAN__INTEGRATION__CONFIG__AUTH_TYPE=custom",
		`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST={"endpoint":"/oauth/token"}`)
	code, out, errOut := runCLI(t, env, "source", "test", "--from-port")
	if code != exitUsage || !strings.Contains(errOut, "customAuthRequestTemplate") || strings.Count(errOut, "integration.config:") != 1 {
		t.Errorf("exit %d, want %d naming customAuthRequestTemplate once under integration.config\n%s%s", code, exitUsage, out, errOut)
	}
}

// TestBlackboxSecretsInErrorBodies: an API that echoes the credentials in
// its error body; the kind's error (logs, job record) masks them.
func TestBlackboxSecretsInErrorBodies(t *testing.T) {
	t.Parallel()
	const token = "tok-echoed-7777777"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/token":
			w.Write([]byte(`{"access_token":"` + token + `","refresh_token":"refresh-echo-88888"}`))
		default:
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"bad request","you_sent":"` + r.Header.Get("Authorization") + `","key":"` + r.URL.Query().Get("api_key") + `"}`))
		}
	}))
	t.Cleanup(api.Close)
	p := newBBPort(t, itemMapping("/users", ""))
	env := bbEnv(t, p, api.URL, "OCEAN__INTEGRATION__CONFIG__AUTH_TYPE=custom",
		`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST={"endpoint":"/oauth/token","body":{"client_secret":"client-echo-999999"}}`,
		`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST_TEMPLATE={"headers":{"Authorization":"Bearer {{.access_token}}"},"queryParams":{"api_key":"{{.refresh_token}}"}}`)
	code, logs := bbRun(t, env)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s", code, exitFailure, logs)
	}
	_, job, _ := runCLI(t, env, "jobs", "show", "1", "--json")
	if !strings.Contains(job, "400") || !strings.Contains(logs, "you_sent") {
		t.Errorf("the error does not show the status and the body's start:\n%s\n%s", logs, job)
	}
	for _, s := range []string{token, "refresh-echo-88888", "client-echo-999999"} {
		if strings.Contains(logs+job, s) || strings.Contains(stateFiles(t, env), s) {
			t.Errorf("%q appears in the logs, the job or the state:\n%s\n%s", s, logs, job)
		}
	}
}

// TestBlackboxSameEndpointTwoKinds: two resources of one endpoint (a team
// and an item blueprint made of the same answer) request it once.
func TestBlackboxSameEndpointTwoKinds(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.Write([]byte(`{"data":[{"id":1,"name":"a"},{"id":2,"name":"b"}],"has_more":false}`))
	}))
	t.Cleanup(api.Close)
	p := newBBPort(t, `
resources:
  - kind: /teams
    selector:
      query: 'true'
      data_path: .data
    port:
      entity:
        mappings:
          identifier: .id | tostring
          blueprint: '"team"'
  - kind: /teams
    selector:
      query: .id > 1
      data_path: .data
    port:
      entity:
        mappings:
          identifier: .id | tostring
          blueprint: '"item"'
`)
	code, logs := bbRun(t, bbEnv(t, p, api.URL, "OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=cursor"))
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, logs)
	}
	assertIDs(t, p, "team", "1", "2")
	assertIDs(t, p, "item", "2")
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("/teams requested %d times, want once", calls)
	}
}

// TestBlackboxVerifySSLFalse: a self-signed API with VERIFY_SSL="false"
// is fetched, with one warning; with the default it fails, naming TLS.
func TestBlackboxVerifySSLFalse(t *testing.T) {
	t.Parallel()
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`[{"id":1}]`))
	}))
	t.Cleanup(api.Close)
	p := newBBPort(t, itemMapping("/items", ""))
	code, logs := bbRun(t, bbEnv(t, p, api.URL))
	if code != exitFailure || !strings.Contains(logs, "certificate") {
		t.Errorf("self-signed with verification: exit %d, want %d naming the certificate\n%s", code, exitFailure, logs)
	}
	code, logs = bbRun(t, bbEnv(t, p, api.URL, "OCEAN__INTEGRATION__CONFIG__VERIFY_SSL=false"))
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, logs)
	}
	assertIDs(t, p, "item", "1")
	if n := strings.Count(logs, "verifySsl is false"); n != 1 {
		t.Errorf("%d lines about verifySsl, want one warning:\n%s", n, logs)
	}
}

// TestBlackboxOneRequestAtATime: MAX_CONCURRENT_REQUESTS="1" with nested
// path parameters still finishes (a discovery page must not hold the only
// slot while the endpoints it found wait for one).
func TestBlackboxOneRequestAtATime(t *testing.T) {
	t.Parallel()
	api := jsonAPI(t, map[string]string{
		"/orgs":                     `[{"id":"o1"},{"id":"o2"}]`,
		"/orgs/o1/teams":            `[{"id":"t1"},{"id":"t2"}]`,
		"/orgs/o2/teams":            `[{"id":"t3"}]`,
		"/orgs/o1/teams/t1/members": `[{"id":"m1"}]`,
		"/orgs/o1/teams/t2/members": `[{"id":"m2"}]`,
		"/orgs/o2/teams/t3/members": `[{"id":"m3"}]`,
	})
	p := newBBPort(t, `
resources:
  - kind: /orgs/{org}/teams/{team}/members
    selector:
      query: 'true'
      path_parameters:
        org:
          endpoint: /orgs
          field: .id
        team:
          endpoint: /orgs/{org}/teams
          field: .id
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: '"item"'
`)
	code, logs := bbRun(t, bbEnv(t, p, api.URL, "OCEAN__INTEGRATION__CONFIG__MAX_CONCURRENT_REQUESTS=1", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=1"))
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, logs)
	}
	assertIDs(t, p, "item", "m1", "m2", "m3")

	// The same with pages of one record: every discovery has a page 2.
	paged := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		all := map[string][]string{"/orgs": {"o1", "o2"}, "/orgs/o1/teams": {"t1", "t2"}, "/orgs/o2/teams": {"t3"},
			"/orgs/o1/teams/t1/members": {"m1"}, "/orgs/o1/teams/t2/members": {"m2"}, "/orgs/o2/teams/t3/members": {"m3"}}[r.URL.Path]
		page := 0
		fmt.Sscan(r.URL.Query().Get("page"), &page)
		out := []map[string]string{}
		if page >= 1 && page <= len(all) {
			out = append(out, map[string]string{"id": all[page-1]})
		}
		w.Write([]byte(mustJSON(out)))
	}))
	t.Cleanup(paged.Close)
	code, logs = bbRun(t, bbEnv(t, p, paged.URL, "OCEAN__INTEGRATION__CONFIG__MAX_CONCURRENT_REQUESTS=1", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=1",
		"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=page"))
	if code != exitOK {
		t.Fatalf("paged: exit %d\n%s", code, logs)
	}
	assertIDs(t, p, "item", "m1", "m2", "m3")
}

// TestBlackboxRemovedItemDeleted: an item gone from the API is deleted
// on the next resync, for a kind with a query string and placeholders.
func TestBlackboxRemovedItemDeleted(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	members := `[{"id":"m1"},{"id":"m2"}]`
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/teams":
			w.Write([]byte(`[{"id":"t1"}]`))
		case "/teams/t1/members":
			w.Write([]byte(members))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(api.Close)
	p := newBBPort(t, `
resources:
  - kind: /teams/{team}/members?state=active
    selector:
      query: 'true'
      path_parameters:
        team:
          endpoint: /teams
          field: .id
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: '"item"'
`)
	env := bbEnv(t, p, api.URL)
	if code, logs := bbRun(t, env); code != exitOK {
		t.Fatalf("exit %d\n%s", code, logs)
	}
	assertIDs(t, p, "item", "m1", "m2")
	mu.Lock()
	members = `[{"id":"m1"}]`
	mu.Unlock()
	if code, logs := bbRun(t, env); code != exitOK {
		t.Fatalf("second run: exit %d\n%s", code, logs)
	}
	assertIDs(t, p, "item", "m1")
}
