package emulator

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config configures a Server.
type Config struct {
	// ClientID and ClientSecret are the only credentials accepted.
	ClientID     string
	ClientSecret string
	// TokenTTL is the lifetime of an access token. Port's is 3 hours.
	TokenTTL time.Duration
	// TokenUses, when set, makes every token die after that many
	// authenticated requests (the next one gets 401): tokens revoked
	// under load, for tests of the client's refresh.
	TokenUses int
	// OrgID names the organization. Default "org_emulator".
	OrgID string
	// RateLimit limits requests as Port does; the zero value is unlimited.
	RateLimit RateLimit
	// UndeclaredProperties says what an entity write does with properties
	// its blueprint does not declare. Default UndeclaredKeep (see doc.go).
	UndeclaredProperties UndeclaredPolicy
	// WebhookClient delivers resync requests to WEBHOOK changelog
	// destinations. Default: a client with a 10 s timeout.
	WebhookClient *http.Client
	Now           func() time.Time
	Logger        *slog.Logger
}

// UndeclaredPolicy is what an entity write does with a property that the
// blueprint does not declare.
type UndeclaredPolicy int

const (
	// UndeclaredKeep accepts and stores it (the default; see doc.go for why).
	UndeclaredKeep UndeclaredPolicy = iota
	// UndeclaredDrop accepts the entity and discards the property.
	UndeclaredDrop
	// UndeclaredReject fails the entity with 422 blueprint_schema_mismatch.
	UndeclaredReject
)

// Server is the emulated Port API. Its methods are safe for concurrent use.
type Server struct {
	cfg     Config
	now     func() time.Time
	logger  *slog.Logger
	mux     *http.ServeMux
	limiter *limiter

	// ctx ends when the server is closed: it stops webhook deliveries and
	// requests held by faults.
	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup

	mu           sync.Mutex
	tokens       map[string]time.Time
	tokenUses    map[string]int
	integrations map[string]map[string]any
	requests     map[string]*resyncRequest
	blueprints   map[string]map[string]any
	entities     map[string]map[string]*entity
	// keys is every entity as blueprint NUL identifier, sorted, for the
	// datasource listing; keysStale says the set of entities changed
	// since it was built (a write that only updates keeps it).
	keys       []string
	keysStale  bool
	migrations map[string]map[string]any
	counters   map[string]int
	total      int
	faults     []*faultState
	visible    map[string]*visibility

	httpServer *http.Server
	url        string
}

type resyncRequest struct {
	ID        string    `json:"id"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// entity is one stored entity with the bookkeeping Port keeps.
type entity struct {
	Blueprint   string          `json:"blueprint"`
	Identifier  string          `json:"identifier"`
	Title       any             `json:"title,omitempty"`
	Icon        any             `json:"icon,omitempty"`
	Team        any             `json:"team,omitempty"` // []any once written
	Properties  map[string]any  `json:"properties"`
	Relations   map[string]any  `json:"relations"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	CreatedBy   string          `json:"createdBy,omitempty"`
	UpdatedBy   string          `json:"updatedBy,omitempty"`
	Datasources map[string]bool `json:"datasources"`
}

func (e *entity) view() map[string]any {
	out := map[string]any{
		"identifier": e.Identifier,
		"blueprint":  e.Blueprint,
		"properties": cloneMap(e.Properties),
		"relations":  cloneMap(e.Relations),
		"createdAt":  formatTime(e.CreatedAt),
		"updatedAt":  formatTime(e.UpdatedAt),
		"createdBy":  orDefault(e.CreatedBy, "emulator"),
		"updatedBy":  orDefault(e.UpdatedBy, "emulator"),
		"team":       []any{},
	}
	if e.Title != nil {
		out["title"] = e.Title
	}
	if e.Icon != nil {
		out["icon"] = e.Icon
	}
	switch t := e.Team.(type) {
	case []any:
		out["team"] = append([]any{}, t...)
	case string:
		out["team"] = []any{t}
	}
	return out
}

// New returns a Server that is not yet listening; use Start or Handler.
func New(cfg Config) *Server {
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = 3 * time.Hour
	}
	if cfg.OrgID == "" {
		cfg.OrgID = "org_emulator"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WebhookClient == nil {
		cfg.WebhookClient = &http.Client{Timeout: 10 * time.Second}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:          cfg,
		now:          cfg.Now,
		logger:       cfg.Logger,
		limiter:      newLimiter(cfg.RateLimit),
		ctx:          ctx,
		cancel:       cancel,
		tokens:       map[string]time.Time{},
		tokenUses:    map[string]int{},
		integrations: map[string]map[string]any{},
		requests:     map[string]*resyncRequest{},
		blueprints:   map[string]map[string]any{},
		entities:     map[string]map[string]*entity{},
		migrations:   map[string]map[string]any{},
		counters:     map[string]int{},
		visible:      map[string]*visibility{},
	}
	s.mux = s.routes()
	return s
}

// Handler serves the API; use it with httptest or your own server.
func (s *Server) Handler() http.Handler { return s }

// ServeHTTP counts the request, applies injected faults, the rate limit,
// the body limit and auth, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	s.mu.Lock()
	s.total++
	if pattern != "" {
		s.counters[pattern]++
	}
	f := s.takeFaultLocked(pattern)
	s.mu.Unlock()
	s.logger.Debug("request", "method", r.Method, "path", r.URL.Path, "route", pattern, "user_agent", r.UserAgent())
	if f != nil {
		fw, done := s.applyFault(w, r, f, pattern)
		if done {
			return
		}
		if tw, ok := fw.(*truncatingWriter); ok {
			defer tw.finish()
		}
		w = fw
	}
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		s.mux.ServeHTTP(w, r)
		return
	}
	authed := !publicRoute(r) && s.authorized(r)
	if !s.limiter.allow(w, r, pattern, authed, s.now()) {
		return
	}
	if r.ContentLength > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "bad_request", "request body is larger than 1 MiB")
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	}
	if !publicRoute(r) && !authed {
		writeError(w, http.StatusUnauthorized, "unauthorized", "missing, unknown or expired access token")
		return
	}
	s.mux.ServeHTTP(w, r)
}

const maxBody = 1 << 20

func publicRoute(r *http.Request) bool {
	return r.URL.Path == "/v1/auth/access_token"
}

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	if !ok || !s.now().Before(exp) {
		return false
	}
	if s.cfg.TokenUses > 0 {
		s.tokenUses[tok]++
		if s.tokenUses[tok] > s.cfg.TokenUses {
			delete(s.tokens, tok)
			delete(s.tokenUses, tok)
			return false
		}
	}
	return true
}

// ExpireTokens makes every token issued so far invalid at once, as if it
// had reached its 3 hours: the next request with it gets 401.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireTokensLocked()
}

func (s *Server) expireTokensLocked() {
	for t := range s.tokens {
		delete(s.tokens, t)
	}
	clear(s.tokenUses)
}

// Start listens on addr (e.g. 127.0.0.1:0) and serves until Close. It
// returns the base URL clients use (without /v1).
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("emulator listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.httpServer = srv
	s.url = "http://" + ln.Addr().String()
	url := s.url
	s.mu.Unlock()
	s.bg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("emulator stopped serving", "err", err)
		}
	})
	return url, nil
}

// URL is the base URL after Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close stops the HTTP server started by Start at once, dropping open
// connections (an emulator has no clients worth draining), releases
// requests held by faults and waits for webhook deliveries to end. It may be
// called more than once.
func (s *Server) Close() error {
	s.cancel()
	s.mu.Lock()
	srv := s.httpServer
	s.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	s.bg.Wait()
	return err
}

// Requests returns the number of requests served per route pattern, e.g.
// "POST /v1/blueprints/{bp}/entities/bulk".
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counters))
	for k, v := range s.counters {
		out[k] = v
	}
	return out
}

// TotalRequests is the number of requests served, whatever their route.
func (s *Server) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ResetCounters zeroes the request counters.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters = map[string]int{}
	s.total = 0
}

// EntityCount returns the number of entities of a blueprint.
func (s *Server) EntityCount(blueprint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entities[blueprint])
}

// Entity returns a stored entity as Port would show it, or nil.
func (s *Server) Entity(blueprint, identifier string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entities[blueprint][identifier]
	if e == nil {
		return nil
	}
	return e.view()
}

// Identifiers returns the identifiers of a blueprint's entities, sorted.
func (s *Server) Identifiers(blueprint string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.entities[blueprint])
}

// EntityDatasources returns the User-Agents that wrote an entity.
func (s *Server) EntityDatasources(blueprint, identifier string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entities[blueprint][identifier]
	if e == nil {
		return nil
	}
	return sortedKeys(e.Datasources)
}

// DeleteEntity removes an entity as a user would in Port's UI.
func (s *Server) DeleteEntity(blueprint, identifier string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entities[blueprint][identifier]; !ok {
		return false
	}
	delete(s.entities[blueprint], identifier)
	s.keysStale = true
	return true
}

// Blueprints returns the identifiers of all blueprints, sorted.
func (s *Server) Blueprints() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.blueprints)
}

// Integration returns a copy of an integration record, or nil.
func (s *Server) Integration(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.integrations[id] == nil {
		return nil
	}
	return s.integrationView(id)
}

func newID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newToken returns a JWT-shaped token (Ocean decodes its payload).
func newToken(clientID string, exp time.Time) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	payload, _ := json.Marshal(map[string]any{"sub": clientID, "isMachine": true, "exp": exp.Unix(), "jti": newID("")})
	return header + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString([]byte(newID("sig")))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"ok": false, "error": code, "message": message})
}

func writeNotFound(w http.ResponseWriter, what, id string) {
	writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("%s %q was not found", what, id))
}

// decodeBody reads a JSON body into v, answering 413 or 422 itself.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "bad_request", "request body is larger than 1 MiB")
			return false
		}
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", "body does not match the route's schema: "+err.Error())
		return false
	}
	if m, ok := v.(*map[string]any); ok {
		if *m == nil {
			writeError(w, http.StatusUnprocessableEntity, "invalid_request", "body must be a JSON object")
			return false
		}
		normalize(*m)
	}
	return true
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func boolQuery(r *http.Request, name string) bool {
	return r.URL.Query().Get(name) == "true"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// baseURL is the URL clients reach this server at: the one Start listened
// on, or the request's Host when served through Handler.
func (s *Server) baseURL(r *http.Request) string {
	if s.url != "" {
		return s.url
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// lockIntegration takes s.mu and returns the record of integration id; when
// there is none it releases the lock and answers 404. The caller unlocks.
func (s *Server) lockIntegration(w http.ResponseWriter, id string) (map[string]any, bool) {
	s.mu.Lock()
	rec := s.integrations[id]
	if rec == nil {
		s.mu.Unlock()
		writeNotFound(w, "integration", id)
		return nil, false
	}
	return rec, true
}

// lockBlueprint takes s.mu when blueprint bp exists; otherwise it answers
// 404 and returns false without the lock. The caller unlocks.
func (s *Server) lockBlueprint(w http.ResponseWriter, bp string) bool {
	s.mu.Lock()
	if s.blueprints[bp] == nil {
		s.mu.Unlock()
		writeNotFound(w, "blueprint", bp)
		return false
	}
	return true
}
