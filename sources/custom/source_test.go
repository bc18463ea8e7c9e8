package custom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"oceand/mapping"
	"oceand/sources"
)

func TestFailureOnPage3FailsTheKindAfterPages1And2(t *testing.T) {
	t.Parallel()
	a := newFakeAPI(t)
	a.route("/items", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("page") {
		case "1":
			answerJSON(w, map[string]any{"data": idObjects(1, 2), "has_more": true})
		case "2":
			answerJSON(w, map[string]any{"data": idObjects(3, 4), "has_more": true})
		default:
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	})
	items, _, err := fetchKind(t, a.source(a.settings(PaginationPage)), "/items", map[string]any{"data_path": ".data"})
	if err == nil {
		t.Fatal("Fetch succeeded although page 3 failed")
	}
	for _, want := range []string{"kind /items", "GET ", "/items?page=3&size=2", "status 500"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name %q", err, want)
		}
	}
	if got := itemIDs(items); !reflect.DeepEqual(got, []string{"1", "2", "3", "4"}) {
		t.Errorf("items before the failure = %v, want pages 1-2", got)
	}
}

func TestUndecodableBodyFailsTheKind(t *testing.T) {
	t.Parallel()
	a := newFakeAPI(t)
	a.route("/items", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>login</html>"))
	})
	_, _, err := fetchKind(t, a.source(a.settings(PaginationNone)), "/items", nil)
	if err == nil || !strings.Contains(err.Error(), "not valid JSON") || !strings.Contains(err.Error(), "GET ") {
		t.Fatalf("err = %v, want an undecodable-body error naming the request", err)
	}
	if strings.Contains(err.Error(), "login") {
		t.Errorf("err = %v repeats the body", err)
	}
}

func TestNestedPathParametersEscapingAndFilter(t *testing.T) {
	t.Parallel()
	a := newFakeAPI(t)
	a.json("/teams", apiFixture(t, "teams-members/teams.json"))
	// Team "r&d 100%" has a space, a % and a & in its id.
	for _, team := range []string{"1", "2", "r&d%20100%25"} {
		a.json("/teams/"+team+"/repos", map[string]any{"repos": []any{map[string]any{"name": "web"}, map[string]any{"name": "api v2"}}})
		for _, repo := range []string{"web", "api%20v2"} {
			a.json("/teams/"+team+"/repos/"+repo+"/issues", map[string]any{"issues": idObjects(7)})
		}
	}
	sel := map[string]any{
		"data_path": ".issues",
		"path_parameters": map[string]any{
			"team_id": map[string]any{"endpoint": "/teams", "data_path": ".teams", "field": ".id", "filter": `.status == "active"`},
			"repo":    map[string]any{"endpoint": "/teams/{team_id}/repos", "data_path": ".repos", "field": ".name"},
		},
	}
	items, _, err := fetchKind(t, a.source(a.settings(PaginationNone)), "/teams/{team_id}/repos/{repo}/issues", sel)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, fmt.Sprintf("%v|%v|%v", it["__team_id"], it["__repo"], it["id"]))
	}
	want := []string{"1|api v2|7", "1|web|7", "2|api v2|7", "2|web|7", "r&d 100%|api v2|7", "r&d 100%|web|7"}
	if !reflect.DeepEqual(sortedCopy(got), want) {
		t.Errorf("items = %v, want %v (archived team filtered, null id dropped, 2.0 sent as 2)", sortedCopy(got), want)
	}
	if n := a.hitCount("/teams/r&d%20100%25/repos/api%20v2/issues"); n != 1 {
		t.Errorf("escaped path requested %d times, want 1; requests: %v", n, a.requests())
	}
	if n := a.hitCount("/teams"); n != 1 {
		t.Errorf("/teams requested %d times, want 1", n)
	}
}

func TestCartesianOfTwoParametersAndQueryInKind(t *testing.T) {
	t.Parallel()
	a := newFakeAPI(t)
	a.json("/orgs", []any{map[string]any{"login": "acme"}, map[string]any{"login": "umbrella"}})
	a.json("/envs", map[string]any{"envs": []any{map[string]any{"n": 1}, map[string]any{"n": 2}}})
	a.route("/orgs/acme/envs/1/deploys", answerQuery)
	a.route("/orgs/acme/envs/2/deploys", answerQuery)
	a.route("/orgs/umbrella/envs/1/deploys", answerQuery)
	a.route("/orgs/umbrella/envs/2/deploys", answerQuery)
	sel := map[string]any{
		"query_params": map[string]any{"limit": 10.0},
		"path_parameters": map[string]any{
			"org": map[string]any{"endpoint": "/orgs", "field": ".login"},
			"env": map[string]any{"endpoint": "/envs", "data_path": ".envs", "field": ".n"},
		},
	}
	items, _, err := fetchKind(t, a.source(a.settings(PaginationNone)), "/orgs/{org}/envs/{env}/deploys?state=open&org={org}", sel)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, fmt.Sprintf("%v/%v %v", it["__org"], it["__env"], it["query"]))
	}
	want := []string{
		"acme/1 limit=10&org=acme&state=open", "acme/2 limit=10&org=acme&state=open",
		"umbrella/1 limit=10&org=umbrella&state=open", "umbrella/2 limit=10&org=umbrella&state=open",
	}
	if !reflect.DeepEqual(sortedCopy(got), want) {
		t.Errorf("items = %v, want %v", sortedCopy(got), want)
	}
	if n := a.hitCount("/envs"); n != 1 {
		t.Errorf("/envs (no placeholders) requested %d times for the product, want 1", n)
	}
}

// answerQuery answers one item holding the query string the server saw.
func answerQuery(w http.ResponseWriter, r *http.Request) {
	answerJSON(w, map[string]any{"id": r.URL.Path, "query": r.URL.Query().Encode()})
}

func TestSelectorErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		kind string
		sel  map[string]any
		err  string
	}{
		{"/teams/{team_id}/members", nil, "kind /teams/{team_id}/members has placeholder {team_id} but selector.path_parameters has no \"team_id\" entry"},
		{"/a/{x}", map[string]any{"path_parameters": map[string]any{"x": map[string]any{"endpoint": "/b/{y}", "field": ".id"}, "y": map[string]any{"endpoint": "/c/{x}", "field": ".id"}}}, "{x} depends on itself (x -> y -> x)"},
		{"/a/{x}", map[string]any{"path_parameters": map[string]any{"x": map[string]any{"endpoint": "/b", "field": ".id", "feild": ".x"}}}, "selector.path_parameters.x.feild: unknown key"},
		{"/a/{x}", map[string]any{"path_parameters": map[string]any{"x": map[string]any{"field": ".id"}}}, "selector.path_parameters.x.endpoint: required"},
		{"/a/{x}", map[string]any{"path_parameters": map[string]any{"x": map[string]any{"endpoint": "/b"}}}, "selector.path_parameters.x.field: required"},
		{"/a", map[string]any{"method": "FETCH"}, "selector.method: \"FETCH\" is not one of"},
		{"/a", map[string]any{"data_path": ".a |"}, "selector.data_path"},
		{"/a", map[string]any{"query_params": map[string]any{"q": map[string]any{}}}, "selector.query_params.q: an object is not a string"},
	}
	src := newSource(Settings{}, &plainClient{}, sources.Env{})
	for _, tc := range cases {
		err := src.Fetch(context.Background(), sources.Resource{Kind: tc.kind, Selector: tc.sel}, func([]map[string]any) error { return nil })
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s %v: err = %v, want %q", tc.kind, tc.sel, err, tc.err)
		}
	}
}

func TestDiscoveryFailureFailsTheKind(t *testing.T) {
	t.Parallel()
	a := newFakeAPI(t)
	a.route("/teams", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusBadGateway)
	})
	sel := map[string]any{"path_parameters": map[string]any{"id": map[string]any{"endpoint": "/teams", "field": ".id"}}}
	_, _, err := fetchKind(t, a.source(a.settings(PaginationNone)), "/teams/{id}", sel)
	if err == nil || !strings.Contains(err.Error(), "discovery of {id}") || !strings.Contains(err.Error(), "status 502") {
		t.Fatalf("err = %v, want a failed discovery", err)
	}
	a.json("/teams", []any{map[string]any{"id": map[string]any{"x": 1}}})
	_, _, err = fetchKind(t, a.source(a.settings(PaginationNone)), "/teams/{id}", sel)
	if err == nil || !strings.Contains(err.Error(), "field .id: an object is not a string") {
		t.Fatalf("err = %v, want the field's error", err)
	}
}

func TestRequestMethodHeadersAndBody(t *testing.T) {
	t.Parallel()
	a := newFakeAPI(t)
	var got []string
	a.route("/search", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s %s", r.Method, r.Header.Get("X-Team"), r.Header.Get("X-Global"), r.Header.Get("Content-Type"), b))
		answerJSON(w, idObjects(1))
	})
	s := a.settings(PaginationNone)
	s.CustomHeaders = map[string]string{"X-Team": "global", "X-Global": "g"}
	src := a.source(s)
	if _, _, err := fetchKind(t, src, "/search", map[string]any{"method": "post", "headers": map[string]any{"X-Team": "platform"}, "body": map[string]any{"q": "a"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fetchKind(t, src, "/search", map[string]any{"body": map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	want := []string{`POST platform g application/json {"q":"a"}`, `GET global g  `}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("requests = %q, want %q", got, want)
	}
}

// TestEndpointCache: /teams is a kind of two resources and the discovery
// endpoint of a third: it is requested once per resync, spooled under
// stateDir/custom-cache, and the spool is gone after EndResync.
func TestEndpointCache(t *testing.T) {
	t.Parallel()
	a := newFakeAPI(t)
	a.route("/teams", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("cursor") {
		case "":
			answerJSON(w, map[string]any{"teams": idObjects(1, 2), "next_cursor": "b"})
		default:
			answerJSON(w, map[string]any{"teams": idObjects(3)})
		}
	})
	for _, id := range []string{"1", "2", "3"} {
		a.json("/teams/"+id+"/members", map[string]any{"teams": []any{map[string]any{"id": "m" + id}}})
	}
	state := t.TempDir()
	stale := filepath.Join(state, cacheDirName, "stale.pages")
	if err := os.MkdirAll(filepath.Dir(stale), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := newSource(a.settings(PaginationCursor), a.client(), sources.Env{StateDir: state})
	teams := map[string]any{"data_path": ".teams"}
	members := map[string]any{"data_path": ".teams", "path_parameters": map[string]any{
		"id": map[string]any{"endpoint": "/teams", "data_path": ".teams", "field": ".id"},
	}}
	resources := []sources.Resource{
		{Kind: "/teams", Index: 0, Selector: teams},
		{Kind: "/teams", Index: 1, Selector: teams},
		{Kind: "/teams/{id}/members", Index: 2, Selector: members},
	}
	for resync := 1; resync <= 2; resync++ {
		if err := src.BeginResync(context.Background(), resources); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale spool file of a crashed run still there: %v", err)
		}
		var all [][]string
		for _, r := range resources {
			items, _, err := fetchKind(t, src, r.Kind, r.Selector)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, sortedCopy(itemIDs(items)))
		}
		want := [][]string{{"1", "2", "3"}, {"1", "2", "3"}, {"m1", "m2", "m3"}}
		if !reflect.DeepEqual(all, want) {
			t.Errorf("resync %d: items = %v, want %v", resync, all, want)
		}
		if n := a.hitCount("/teams"); n != 2*resync {
			t.Errorf("resync %d: /teams requested %d times in all, want 2 per resync (2 pages)", resync, n)
		}
		info, err := os.Stat(filepath.Join(state, cacheDirName))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o700 {
			t.Errorf("cache dir mode %v, want 0700", info.Mode().Perm())
		}
		files, err := filepath.Glob(filepath.Join(state, cacheDirName, "*.pages"))
		if err != nil || len(files) != 1 {
			t.Errorf("spool files = %v, %v; want one", files, err)
		}
		if err := src.EndResync(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(state, cacheDirName)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cache dir still there after EndResync: %v", err)
		}
	}
	// Outside a resync nothing is cached.
	if _, _, err := fetchKind(t, src, "/teams", teams); err != nil {
		t.Fatal(err)
	}
	if n := a.hitCount("/teams"); n != 6 {
		t.Errorf("/teams requested %d times, want 6", n)
	}
}

// TestEndpointCacheFailureIsNotCached: a failed fetch of a cached endpoint
// is not replayed as complete: the next use requests it again.
func TestEndpointCacheFailureIsNotCached(t *testing.T) {
	t.Parallel()
	a := newFakeAPI(t)
	var calls atomic.Int32
	a.route("/teams", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "2" && calls.Add(1) == 1 {
			http.Error(w, "flaky", http.StatusServiceUnavailable)
			return
		}
		if r.URL.Query().Get("page") == "2" {
			answerJSON(w, idObjects(3))
			return
		}
		answerJSON(w, idObjects(1, 2))
	})
	src := a.source(a.settings(PaginationPage))
	resources := []sources.Resource{{Kind: "/teams"}, {Kind: "/teams", Index: 1}}
	if err := src.BeginResync(context.Background(), resources); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := src.EndResync(); err != nil {
			t.Error(err)
		}
	}()
	if _, _, err := fetchKind(t, src, "/teams", nil); err == nil || !strings.Contains(err.Error(), "status 503") {
		t.Fatalf("first use: err = %v, want the 503", err)
	}
	items, _, err := fetchKind(t, src, "/teams", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := itemIDs(items); !reflect.DeepEqual(got, []string{"1", "2", "3"}) {
		t.Errorf("second use: items = %v, want all three", got)
	}
}

// TestEmitIsSerialisedAndErrorsStopTheFetch: endpoints are fetched
// concurrently but emit is never called from two goroutines at once, and
// an emit error ends Fetch with that error.
func TestEmitIsSerialisedAndErrorsStopTheFetch(t *testing.T) {
	t.Parallel()
	a := newFakeAPI(t)
	var vals []any
	for i := range 20 {
		vals = append(vals, map[string]any{"id": i})
		a.json(fmt.Sprintf("/x/%d", i), idObjects(i))
	}
	a.json("/ids", vals)
	sel := map[string]any{"path_parameters": map[string]any{"id": map[string]any{"endpoint": "/ids", "field": ".id"}}}
	s := a.settings(PaginationNone)
	s.PageSize = 100
	src := a.source(s)
	// Plain, unsynchronised state: go test -race reports emits from two
	// goroutines that are not serialised.
	var got []string
	err := src.Fetch(context.Background(), sources.Resource{Kind: "/x/{id}", Selector: sel}, func(items []map[string]any) error {
		got = append(got, itemIDs(items)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 {
		t.Errorf("items %d, want 20", len(got))
	}
	stop := errors.New("pipeline gone")
	err = src.Fetch(context.Background(), sources.Resource{Kind: "/x/{id}", Selector: sel}, func([]map[string]any) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("err = %v, want the emit error", err)
	}
}

func TestCancelledContextStopsTheFetch(t *testing.T) {
	t.Parallel()
	a := newFakeAPI(t)
	a.route("/items", func(w http.ResponseWriter, r *http.Request) {
		answerJSON(w, map[string]any{"items": []any{map[string]any{"id": r.URL.Query().Get("offset")}}, "has_more": true})
	})
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("superseded")
	pages := 0
	err := a.source(a.settings(PaginationOffset)).Fetch(ctx, sources.Resource{Kind: "/items", Selector: map[string]any{"data_path": ".items"}}, func([]map[string]any) error {
		pages++
		if pages == 3 {
			cancel(cause)
		}
		return nil
	})
	if !errors.Is(err, cause) {
		t.Errorf("err = %v, want the cancellation cause", err)
	}
	if pages != 3 {
		t.Errorf("%d pages emitted, want 3", pages)
	}
}

func TestDefinition(t *testing.T) {
	t.Parallel()
	d := Definition()
	if d.Type != "custom" || d.New == nil {
		t.Fatalf("definition = %+v", d)
	}
	var bps []any
	if err := json.Unmarshal(d.Defaults.Blueprints, &bps); err != nil {
		t.Fatalf("blueprints.json: %v", err)
	}
	cfg, err := mapping.ParseYAML(d.Defaults.PortAppConfig)
	if err != nil {
		t.Fatalf("port-app-config.yml: %v", err)
	}
	if len(cfg.Resources) != 0 {
		t.Errorf("default mapping has %d resources; Ocean's custom ships none", len(cfg.Resources))
	}
}

func TestDisplayURLHidesCredentials(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"https://api.example/items?api_key=s3cr3t&state=open": "https://api.example/items?api_key=REDACTED&state=open",
		"https://u:pw@api.example/a%20b?X-Amz-Signature=abc":  "https://api.example/a%20b?X-Amz-Signature=REDACTED",
		"https://api.example/items?page=2":                    "https://api.example/items?page=2",
	}
	for in, want := range cases {
		if got := displayURL(in); got != want {
			t.Errorf("displayURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFetchEmitsBatchesOfAtMostPageSize(t *testing.T) {
	t.Parallel()
	a := newFakeAPI(t)
	a.json("/items", map[string]any{"total": 5, "items": idObjects(1, 2, 3, 4, 5)})
	items, batches, err := fetchKind(t, a.source(a.settings(PaginationNone)), "/items", map[string]any{"data_path": ".items"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(batches, []int{2, 2, 1}) || len(items) != 5 {
		t.Errorf("batches = %v (%d items), want [2 2 1] for pageSize 2", batches, len(items))
	}
}

// retryingClient answers every request with body, but the first attempt
// breaks off after cut bytes; it retries when the handler returns the read
// error, as the HTTP half's Client does.
type retryingClient struct {
	plainClient
	body     string
	cut      int
	attempts atomic.Int32
}

var errConnReset = errors.New("connection reset by peer")

func (c *retryingClient) Do(ctx context.Context, r Request, handle func(*Response) error) error {
	for attempt := 1; ; attempt++ {
		c.attempts.Add(1)
		var body io.Reader = strings.NewReader(c.body)
		if attempt == 1 {
			body = io.MultiReader(strings.NewReader(c.body[:c.cut]), &brokenReader{err: errConnReset})
		}
		err := handle(&Response{Status: 200, Header: http.Header{}, Body: body})
		if errors.Is(err, errConnReset) && attempt < 3 {
			continue
		}
		return err
	}
}

// TestReadErrorRetry: a body that breaks off before any item was handed on
// is read again (and the spool rewound: the replay decodes); one that
// breaks off after items were handed on fails the kind instead of handing
// them on twice.
func TestReadErrorRetry(t *testing.T) {
	t.Parallel()
	body := `{"items": [{"id": 1}, {"id": 2}, {"id": 3}]}`
	newClient := func(cut int) *retryingClient {
		c := &retryingClient{body: body, cut: cut}
		c.base = parseTestURL(t, "http://api.example")
		return c
	}
	sel := map[string]any{"data_path": ".items"}

	// Cached: the first use fills the spool, a retry included.
	c := newClient(strings.Index(body, `{"id": 3}`))
	src := newSource(Settings{BaseURL: c.base, PageSize: 1}, c, sources.Env{StateDir: t.TempDir()})
	res := []sources.Resource{{Kind: "/items", Selector: sel}, {Kind: "/items", Index: 1, Selector: sel}}
	if err := src.BeginResync(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		items, _, err := fetchKind(t, src, r.Kind, r.Selector)
		if err != nil {
			t.Fatal(err)
		}
		if got := itemIDs(items); !reflect.DeepEqual(got, []string{"1", "2", "3"}) {
			t.Errorf("cached: items = %v", got)
		}
	}
	if n := c.attempts.Load(); n != 2 {
		t.Errorf("cached: %d attempts, want 2 (one retry, the second use from the spool)", n)
	}
	if err := src.EndResync(); err != nil {
		t.Fatal(err)
	}

	// Not cached, items already handed on: no retry.
	c = newClient(strings.Index(body, `{"id": 3}`))
	src = newSource(Settings{BaseURL: c.base, PageSize: 1}, c, sources.Env{})
	items, _, err := fetchKind(t, src, "/items", sel)
	if err == nil || !strings.Contains(err.Error(), "reading the answer failed after 2 items were handed on") {
		t.Errorf("err = %v, want a failure without retry", err)
	}
	if got := itemIDs(items); !reflect.DeepEqual(got, []string{"1", "2"}) || c.attempts.Load() != 1 {
		t.Errorf("items = %v after %d attempts, want [1 2] after 1", got, c.attempts.Load())
	}

	// Not cached, nothing handed on yet: retried.
	c = newClient(5)
	src = newSource(Settings{BaseURL: c.base, PageSize: 1}, c, sources.Env{})
	items, _, err = fetchKind(t, src, "/items", sel)
	if err != nil || !reflect.DeepEqual(itemIDs(items), []string{"1", "2", "3"}) || c.attempts.Load() != 2 {
		t.Errorf("items = %v, err %v after %d attempts; want all three after 2", itemIDs(items), err, c.attempts.Load())
	}
}

func parseTestURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
