// Package apifixture serves the recorded-shape third-party API fixtures of
// testdata/apis over HTTP, for tests of the custom source and its examples.
//
// A fixture file (testdata/apis/<api>/exchanges.json) lists exchanges: a
// request (method, path, the exact query) and the answer (status, headers,
// JSON body). "{{base}}" in headers and bodies becomes the server's URL, so
// absolute next links point back at it. A request no exchange matches is
// answered 404 with what was asked, and counted as unmatched.
package apifixture

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Exchange is one recorded request and its answer.
type Exchange struct {
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Query  map[string]string `json:"query"`
	// NoAuth marks a request made without the API's credentials (a token
	// request).
	NoAuth  bool              `json:"noAuth"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// Fixture is one API's recorded exchanges.
type Fixture struct {
	API string `json:"api"`
	// Auth is the header every request but NoAuth ones must carry; any
	// other value is answered 401.
	Auth *struct {
		Header string `json:"header"`
		Value  string `json:"value"`
	} `json:"auth"`
	Exchanges []Exchange `json:"exchanges"`
}

// Load reads testdata/apis/<api>/exchanges.json below root (the module's
// top directory).
func Load(root, api string) (*Fixture, error) {
	path := filepath.Join(root, "testdata", "apis", api, "exchanges.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f Fixture
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// Server serves a fixture and records what it was asked.
type Server struct {
	*httptest.Server
	fixture *Fixture

	mu        sync.Mutex
	hits      map[int]int
	unmatched []string
}

// Serve starts a server for the fixture of api, closed when t ends.
func Serve(t testing.TB, root, api string) *Server {
	t.Helper()
	f, err := Load(root, api)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{fixture: f, hits: map[int]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	i, ok := s.match(r)
	if !ok {
		s.mu.Lock()
		s.unmatched = append(s.unmatched, r.Method+" "+r.URL.RequestURI())
		s.mu.Unlock()
		http.Error(w, `{"error":"no recorded exchange for `+r.Method+" "+r.URL.RequestURI()+`"}`, http.StatusNotFound)
		return
	}
	ex := s.fixture.Exchanges[i]
	if a := s.fixture.Auth; a != nil && !ex.NoAuth && r.Header.Get(a.Header) != a.Value {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	s.hits[i]++
	s.mu.Unlock()
	base := []byte(s.URL)
	for k, v := range ex.Headers {
		w.Header().Set(k, string(bytes.ReplaceAll([]byte(v), []byte("{{base}}"), base)))
	}
	w.Header().Set("Content-Type", "application/json")
	status := ex.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	if _, err := w.Write(bytes.ReplaceAll(ex.Body, []byte("{{base}}"), base)); err != nil {
		return // the client went away; it sees a short body
	}
}

// match finds the exchange of r: same method, path and exact query.
func (s *Server) match(r *http.Request) (int, bool) {
	q := map[string]string{}
	for k, v := range r.URL.Query() {
		q[k] = v[len(v)-1]
	}
	for i, ex := range s.fixture.Exchanges {
		want := ex.Query
		if want == nil {
			want = map[string]string{}
		}
		if ex.Method == r.Method && ex.Path == r.URL.Path && maps.Equal(want, q) {
			return i, true
		}
	}
	return 0, false
}

// Unmatched lists the requests no exchange answered.
func (s *Server) Unmatched() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.unmatched...)
}

// Hits is how often the exchange at index i was served.
func (s *Server) Hits(i int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[i]
}
