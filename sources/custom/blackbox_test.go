package custom

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"oceand/sources"
)

// Tests of what an Ocean custom user configured, found by trying oceand
// black-box against REST servers configured as Ocean's users do.

// Ocean's httpx decompresses whatever Accept-Encoding a user put in
// customHeaders; Go's transport only decompresses when it asked itself.
func TestGzipAnswerDecodedWhateverAskedForIt(t *testing.T) {
	t.Parallel()
	const doc = `{"users":[{"id":1}]}`
	api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Write([]byte(doc))
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write([]byte(doc))
		zw.Close()
	}))
	defer api.Close()
	for _, headers := range []map[string]any{
		nil,
		{"Accept-Encoding": "gzip"},
		{"Accept-Encoding": "gzip, deflate, br"},
	} {
		cfg := map[string]any{}
		if headers != nil {
			cfg["customHeaders"] = headers
		}
		c, _ := api.client(t, cfg)
		body, err := fetchBody(context.Background(), c, "/users")
		if err != nil || body != doc {
			t.Errorf("customHeaders %v: body %q, err %v; want %s", headers, body, err, doc)
		}
		c.CloseIdleConnections()
	}
}

// Ocean's examples put "Content-Type: application/json" in
// customAuthRequest's headers and "Accept: application/json" in
// customHeaders: those values are no secret, and masking them hid
// "application/json" in every log line and raw data example.
func TestSecretsSkipContentNegotiationHeaders(t *testing.T) {
	t.Parallel()
	s, err := ParseSettings(map[string]any{
		"base_url":       "https://api.example.com",
		"auth_type":      "custom",
		"custom_headers": `{"Accept":"application/json","User-Agent":"acme-bot/1.0","X-Tenant-Token":"tenant-secret-1"}`,
		"custom_auth_request": map[string]any{
			"endpoint": "/oauth/token",
			"headers":  map[string]any{"Content-Type": "application/json", "X-Client-Key": "client-key-1"},
			"body":     map[string]any{"client_secret": "client-secret-1"},
		},
		"custom_auth_request_template": map[string]any{"headers": map[string]any{"Authorization": "Bearer {{.access_token}}", "accept": "application/vnd.api+json"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Secrets()
	for _, want := range []string{"tenant-secret-1", "client-key-1", "client-secret-1", "Bearer {{.access_token}}"} {
		if !slices.Contains(got, want) {
			t.Errorf("Secrets() lacks %q: %q", want, got)
		}
	}
	for _, not := range []string{"application/json", "acme-bot/1.0", "application/vnd.api+json"} {
		if slices.Contains(got, not) {
			t.Errorf("Secrets() has %q, which is no secret: %q", not, got)
		}
	}
}

// APIs that omit empty arrays (Google's and other protobuf-JSON APIs)
// answer {} for an empty collection: that is no items, not a data_path
// error, or a team without members would fail the kind at every resync.
// An object with other fields but without the items stays an error (an
// error envelope, a wrong data_path).
func TestEmptyObjectAnswerIsNoItems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		answer   string
		dataPath string
		wantErr  bool
	}{
		{"empty object, plain path", `{}`, ".members", false},
		{"empty object, jq program", `{}`, ".members | map(select(.active))", false},
		{"empty object, nested path", `{}`, ".data.members", false},
		{"empty object, data_path .", `{}`, ".", false},
		{"error envelope", `{"ok":false,"error":"invalid_auth"}`, ".members", true},
		{"wrong data_path", `{"users":[{"id":1}]}`, ".members", true},
	}
	const t1 = `{"members":[{"id":"m1","active":true}],"data":{"members":[{"id":"m1","active":true}]}}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newFakeAPI(t)
			a.json("/teams", json.RawMessage(`{"teams":[{"id":"t1"},{"id":"t2"}]}`))
			a.json("/teams/t1/members", json.RawMessage(t1))
			a.json("/teams/t2/members", json.RawMessage(tt.answer))
			items, _, err := fetchKind(t, a.source(a.settings(PaginationNone)), "/teams/{team}/members", map[string]any{
				"data_path":       tt.dataPath,
				"path_parameters": map[string]any{"team": map[string]any{"endpoint": "/teams", "data_path": ".teams", "field": ".id"}},
			})
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "/teams/t2/members") {
					t.Errorf("err = %v, want a data_path error naming /teams/t2/members", err)
				}
				return
			}
			// With data_path ".", t1's whole answer is its one item.
			if err != nil || len(items) != 1 || (tt.dataPath != "." && items[0]["id"] != "m1") {
				t.Errorf("items %v, err %v; want t1's only", items, err)
			}
		})
	}
}

// Ocean reads the selector's snake_case keys only; dataPath (the JSON
// habit) was ignored in silence, so the whole answer became one item and
// the mapping made nothing of it. It is an error naming the key to use.
func TestCamelCaseSelectorKeyIsAnError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key, want string
	}{
		{"dataPath", "selector.dataPath: the selector key is data_path"},
		{"queryParams", "selector.queryParams: the selector key is query_params"},
		{"pathParameters", "selector.pathParameters: the selector key is path_parameters"},
		{"retryPost", "selector.retryPost: the selector key is retry_post"},
	}
	src := newSource(Settings{}, &plainClient{}, sources.Env{})
	for _, tc := range cases {
		err := src.Fetch(context.Background(), sources.Resource{Kind: "/a", Selector: map[string]any{"query": "true", tc.key: ".x"}}, func([]map[string]any) error { return nil })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.key, err, tc.want)
		}
	}
	// Keys of their own (Ocean's selectors allow extra keys) stay allowed.
	a := newFakeAPI(t)
	a.json("/a", json.RawMessage(`[{"id":1}]`))
	if _, _, err := fetchKind(t, a.source(a.settings(PaginationNone)), "/a", map[string]any{"query": "true", "endpoint": "/a", "includeEmptyPropertyValues": true}); err != nil {
		t.Errorf("extra keys: %v", err)
	}
}

// ASP.NET and IIS APIs may start their JSON with a UTF-8 byte order mark,
// which Python's json (Ocean) skips; encoding/json refuses it.
func TestByteOrderMarkSkipped(t *testing.T) {
	t.Parallel()
	api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write([]byte("\xef\xbb\xbf" + `{"value":[{"id":1}]}`))
	}))
	defer api.Close()
	c, _ := api.client(t, nil)
	defer c.CloseIdleConnections()
	src := newSource(api.settings(t, nil), c, sources.Env{StateDir: t.TempDir()})
	var items []map[string]any
	err := src.Fetch(context.Background(), sources.Resource{Kind: "/users", Selector: map[string]any{"data_path": ".value"}}, func(b []map[string]any) error {
		items = append(items, b...)
		return nil
	})
	if err != nil || len(items) != 1 {
		t.Errorf("items %v, err %v; want one item", items, err)
	}
}

// A discovery endpoint may list plain values, as a Docker registry's
// /v2/_catalog does ({"repositories": ["a", "b"]}, field "."): Ocean
// applies field to each record, whatever its type.
func TestDiscoveryOfPlainValues(t *testing.T) {
	t.Parallel()
	a := newFakeAPI(t)
	a.json("/v2/_catalog", json.RawMessage(`{"repositories":["app","lib/core"]}`))
	a.json("/v2/app/tags/list", json.RawMessage(`{"name":"app","tags":["1.0"]}`))
	a.json("/v2/lib%2Fcore/tags/list", json.RawMessage(`{"name":"lib/core","tags":["2.0"]}`))
	items, _, err := fetchKind(t, a.source(a.settings(PaginationNone)), "/v2/{repo}/tags/list", map[string]any{
		"path_parameters": map[string]any{"repo": map[string]any{"endpoint": "/v2/_catalog", "data_path": ".repositories", "field": "."}},
	})
	names := []string{}
	for _, it := range items {
		names = append(names, it["name"].(string)+"="+it["__repo"].(string))
	}
	if err != nil || strings.Join(sortedCopy(names), ",") != "app=app,lib/core=lib/core" {
		t.Errorf("items %v, err %v", names, err)
	}
}

// Pagination tokens (Google's pageToken, OData's $skiptoken) are no
// credentials: masking them hid the very value a "cursor returned twice"
// error is about. Nor is ?author= one.
func TestPaginationTokensAndAuthorNotMasked(t *testing.T) {
	t.Parallel()
	plain := []string{"pageToken", "nextPageToken", "page_token", "$skiptoken", "continuationToken", "author", "author_id", "design"}
	secret := []string{"api_key", "apiKey", "access_token", "token", "sig", "X-Amz-Signature", "sessionid", "key", "client_secret", "password", "auth"}
	r := newRedactor()
	for _, k := range plain {
		u := "https://api.example/items?" + url.QueryEscape(k) + "=abc123"
		if got := displayURL(u); strings.Contains(got, "REDACTED") {
			t.Errorf("displayURL(%q) = %q masks a parameter that is no credential", u, got)
		}
		if got := r.url(parseTestURL(t, u)); strings.Contains(got, "REDACTED") {
			t.Errorf("redactor.url(%q) = %q masks a parameter that is no credential", u, got)
		}
	}
	for _, k := range secret {
		u := "https://api.example/items?" + url.QueryEscape(k) + "=abc123"
		if got := displayURL(u); strings.Contains(got, "abc123") {
			t.Errorf("displayURL(%q) = %q shows a credential", u, got)
		}
		if got := r.url(parseTestURL(t, u)); strings.Contains(got, "abc123") {
			t.Errorf("redactor.url(%q) = %q shows a credential", u, got)
		}
	}
}

// data_path is jq, so users write the pagination paths jq-style too
// (".meta.next_cursor", or JSONPath "$.meta.next_cursor"); read as a
// literal key they found no cursor, and a cursor API stopped after page 1.
func TestPaginationPathsWithLeadingDot(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"meta.next_cursor", ".meta.next_cursor", "$.meta.next_cursor"} {
		a := newFakeAPI(t)
		a.pages("/events", "cursor", map[string]any{
			"":   json.RawMessage(`{"data":[{"id":1},{"id":2}],"meta":{"next_cursor":"c2","more":true}}`),
			"c2": json.RawMessage(`{"data":[{"id":3}],"meta":{"next_cursor":null,"more":false}}`),
		})
		s := a.settings(PaginationCursor)
		s.PaginationParam, s.SizeParam = "cursor", "limit"
		s.CursorPath, s.HasMorePath = path, strings.Replace(path, "next_cursor", "more", 1)
		items, _, err := fetchKind(t, a.source(s), "/events", map[string]any{"data_path": ".data"})
		if err != nil || len(items) != 3 {
			t.Errorf("cursorPath %q: %d items, err %v; want 3", path, len(items), err)
		}
	}
}

// A page that says more follow but has no cursor where cursorPath says
// (a typo) must not end the kind as if complete.
func TestCursorMissingWhileHasMoreIsAnError(t *testing.T) {
	t.Parallel()
	a := newFakeAPI(t)
	a.pages("/events", "cursor", map[string]any{
		"": json.RawMessage(`{"data":[{"id":1},{"id":2}],"meta":{"next":"c2"},"has_more":true}`),
	})
	s := a.settings(PaginationCursor)
	s.CursorPath = "meta.nxt"
	_, _, err := fetchKind(t, a.source(s), "/events", map[string]any{"data_path": ".data"})
	if err == nil || !strings.Contains(err.Error(), "meta.nxt") {
		t.Errorf("err = %v, want an error naming cursorPath meta.nxt", err)
	}
}

func TestNextLinkMissingWhileHasMoreIsAnError(t *testing.T) {
	t.Parallel()
	a := newFakeAPI(t)
	a.json("/items", json.RawMessage(`{"data":[{"id":1}],"links":{"next":"/items?page=2"},"has_more":true}`))
	s := a.settings(PaginationNextLink)
	s.NextLinkPath = "links.nxt"
	_, _, err := fetchKind(t, a.source(s), "/items", map[string]any{"data_path": ".data"})
	if err == nil || !strings.Contains(err.Error(), "nextLinkPath") {
		t.Errorf("err = %v, want an error naming nextLinkPath", err)
	}
}

// Go backends marshal an empty (nil) slice as null: {"members": null,
// "total": 0} is an empty collection, not a wrong data_path, when the
// key is there. An absent key stays an error.
func TestExplicitNullAtDataPathIsNoItems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, answer, dataPath string
		wantErr                bool
	}{
		{"null list", `{"members":null,"total":0}`, ".members", false},
		{"null parent", `{"data":null}`, ".data.members", false},
		{"absent key", `{"total":0}`, ".members", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newFakeAPI(t)
			a.json("/teams", json.RawMessage(`{"teams":[{"id":"t1"},{"id":"t2"}]}`))
			a.json("/teams/t1/members", json.RawMessage(`{"members":[{"id":"m1"}],"data":{"members":[{"id":"m1"}]}}`))
			a.json("/teams/t2/members", json.RawMessage(tt.answer))
			items, _, err := fetchKind(t, a.source(a.settings(PaginationNone)), "/teams/{team}/members", map[string]any{
				"data_path":       tt.dataPath,
				"path_parameters": map[string]any{"team": map[string]any{"endpoint": "/teams", "data_path": ".teams", "field": ".id"}},
			})
			if tt.wantErr {
				if err == nil {
					t.Error("no error for an absent data_path key")
				}
				return
			}
			if err != nil || len(items) != 1 {
				t.Errorf("items %v, err %v; want m1 only", items, err)
			}
		})
	}
}

// Some APIs answer 204 No Content for an empty list (a team without
// members): no items, not an undecodable body failing the kind.
func TestNoContentIsNoItems(t *testing.T) {
	t.Parallel()
	a := newFakeAPI(t)
	a.json("/teams", json.RawMessage(`[{"id":"t1"},{"id":"t2"}]`))
	a.json("/teams/t1/members", json.RawMessage(`[{"id":"m1"}]`))
	a.route("/teams/t2/members", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, pagination := range []string{PaginationNone, PaginationCursor} {
		items, _, err := fetchKind(t, a.source(a.settings(pagination)), "/teams/{team}/members", map[string]any{
			"path_parameters": map[string]any{"team": map[string]any{"endpoint": "/teams", "field": ".id"}},
		})
		if err != nil || len(items) != 1 {
			t.Errorf("%s: items %v, err %v; want m1 only", pagination, items, err)
		}
	}
}
