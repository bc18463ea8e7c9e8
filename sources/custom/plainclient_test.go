package custom

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"oceand/sources"
)

// plainClient is a minimal real HTTP implementation of doer (net/http, no
// retries, no auth) standing in for the HTTP half's Client.
type plainClient struct {
	base *url.URL
	hc   *http.Client
}

func (c *plainClient) Resolve(ref string) (*url.URL, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, err
	}
	if u.IsAbs() {
		return u, nil
	}
	return url.Parse(strings.TrimSuffix(c.base.String(), "/") + "/" + strings.TrimLeft(ref, "/"))
}

func (c *plainClient) Do(ctx context.Context, r Request, handle func(*Response) error) error {
	u, err := url.Parse(r.URL)
	if err != nil {
		return err
	}
	if len(r.Query) > 0 {
		q := u.Query()
		for k, vs := range r.Query {
			for _, v := range vs {
				q.Add(k, v)
			}
		}
		u.RawQuery = q.Encode()
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), body)
	if err != nil {
		return err
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.Method, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		head, err := io.ReadAll(io.LimitReader(resp.Body, 64))
		if err != nil {
			return fmt.Errorf("%s %s: status %d: %w", r.Method, u, resp.StatusCode, err)
		}
		return fmt.Errorf("%s %s: status %d: %s", r.Method, u, resp.StatusCode, head)
	}
	return handle(&Response{Status: resp.StatusCode, Header: resp.Header, URL: resp.Request.URL, Body: resp.Body})
}

// api is an httptest server whose routes answer by path (and query); it
// counts the requests it gets.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	hits   map[string]int
	routes map[string]http.HandlerFunc
	log    []string
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	a := &fakeAPI{t: t, hits: map[string]int{}, routes: map[string]http.HandlerFunc{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.hits[r.URL.EscapedPath()]++
		a.log = append(a.log, r.Method+" "+r.URL.RequestURI())
		h, ok := a.routes[r.URL.EscapedPath()]
		a.mu.Unlock()
		if !ok {
			http.Error(w, "no route "+r.URL.EscapedPath(), http.StatusNotFound)
			return
		}
		h(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// route answers path with h.
func (a *fakeAPI) route(path string, h http.HandlerFunc) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.routes[path] = h
}

// json answers path with v.
func (a *fakeAPI) json(path string, v any) {
	a.route(path, func(w http.ResponseWriter, r *http.Request) { answerJSON(w, v) })
}

// pages answers path with pages[query value of param], for a paginated
// endpoint; a missing page is a 404.
func (a *fakeAPI) pages(path, param string, pages map[string]any) {
	a.route(path, func(w http.ResponseWriter, r *http.Request) {
		p, ok := pages[r.URL.Query().Get(param)]
		if !ok {
			http.Error(w, "no page "+r.URL.RawQuery, http.StatusNotFound)
			return
		}
		answerJSON(w, p)
	})
}

func (a *fakeAPI) hitCount(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits[path]
}

func (a *fakeAPI) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.log...)
}

func answerJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if raw, ok := v.(json.RawMessage); ok {
		w.Write(raw) // the client may have gone: nothing to do about it
		return
	}
	if err := json.NewEncoder(w).Encode(v); err != nil {
		panic(err)
	}
}

// settings returns settings for a, with its URL as baseUrl.
func (a *fakeAPI) settings(pagination string) Settings {
	u, err := url.Parse(a.srv.URL)
	if err != nil {
		a.t.Fatal(err)
	}
	return Settings{BaseURL: u, PaginationType: pagination, PageSize: 2, StartPage: 1, MaxConcurrentRequests: 4}
}

func (a *fakeAPI) client() *plainClient {
	u, _ := url.Parse(a.srv.URL)
	return &plainClient{base: u, hc: a.srv.Client()}
}

func (a *fakeAPI) source(s Settings) *Source {
	return newSource(s, a.client(), sources.Env{StateDir: a.t.TempDir()})
}

// fetch runs Fetch and returns the items and the batches' sizes.
func fetchKind(t *testing.T, src *Source, kind string, sel map[string]any) ([]map[string]any, []int, error) {
	t.Helper()
	var items []map[string]any
	var batches []int
	if sel == nil {
		sel = map[string]any{}
	}
	err := src.Fetch(context.Background(), sources.Resource{Kind: kind, Selector: sel}, func(b []map[string]any) error {
		items = append(items, b...)
		batches = append(batches, len(b))
		return nil
	})
	return items, batches, err
}

// ids lists the "id" of items, as text.
func itemIDs(items []map[string]any) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, fmt.Sprint(it["id"]))
	}
	return out
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// fixture reads testdata/apis/<name> at the top of the repository.
func apiFixture(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "apis", name))
	if err != nil {
		t.Fatal(err)
	}
	return json.RawMessage(b)
}

// idObjects builds items {"id": n} for n in ids.
func idObjects(ids ...int) []any {
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		out = append(out, map[string]any{"id": id})
	}
	return out
}
