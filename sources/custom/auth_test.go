package custom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// echoHeaders answers with what identifies the caller: the auth headers
// and query parameters it sent.
func echoHeaders(w http.ResponseWriter, r *http.Request) {
	json.NewEncoder(w).Encode(map[string]string{
		"authorization": r.Header.Get("Authorization"),
		"x-api-key":     r.Header.Get("X-API-Key"),
		"x-custom-key":  r.Header.Get("X-Custom-Key"),
		"api_key":       r.URL.Query().Get("api_key"),
		"user-agent":    r.Header.Get("User-Agent"),
		"x-team":        r.Header.Get("X-Team"),
		"query":         r.URL.RawQuery,
	})
}

func TestStaticAuth(t *testing.T) {
	t.Parallel()
	api := newMemAPI(http.HandlerFunc(echoHeaders))
	defer api.Close()
	tests := []struct {
		name   string
		config map[string]any
		want   map[string]string
	}{
		{"none", map[string]any{}, map[string]string{"authorization": "", "user-agent": UserAgent}},
		{"bearer_token", map[string]any{"authType": "bearer_token", "apiToken": "tok-1234"}, map[string]string{"authorization": "Bearer tok-1234"}},
		{"basic", map[string]any{"authType": "basic", "username": "me", "password": "pass-1234"}, map[string]string{"authorization": "Basic bWU6cGFzcy0xMjM0"}},
		{"api_key header", map[string]any{"authType": "api_key", "apiKey": "key-1234"}, map[string]string{"x-api-key": "key-1234"}},
		{"api_key own header", map[string]any{"authType": "api_key", "apiKey": "key-1234", "apiKeyHeader": "X-Custom-Key"}, map[string]string{"x-custom-key": "key-1234", "x-api-key": ""}},
		{"api_key query parameter", map[string]any{"authType": "api_key", "apiKey": "key-1234", "apiKeyQueryParam": "api_key"}, map[string]string{"api_key": "key-1234", "x-api-key": ""}},
		{"customHeaders, User-Agent overridden", map[string]any{"customHeaders": map[string]any{"X-Team": "blue", "User-Agent": "mine/1"}}, map[string]string{"x-team": "blue", "user-agent": "mine/1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := api.client(t, tt.config)
			body, err := fetchBody(t.Context(), c, "/whoami?active=true")
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]string
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
			if !strings.HasPrefix(got["query"], "active=true") {
				t.Errorf("query = %q, the kind's query string is lost", got["query"])
			}
		})
	}
}

func TestRequestHeadersOverrideCustomHeaders(t *testing.T) {
	t.Parallel()
	api := newMemAPI(http.HandlerFunc(echoHeaders))
	defer api.Close()
	c, _ := api.client(t, map[string]any{"customHeaders": `{"X-Team": "blue"}`})
	u, err := c.Resolve("/x")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	err = c.Do(t.Context(), Request{URL: u.String(), Header: http.Header{"X-Team": {"red"}}}, func(r *Response) error {
		return json.NewDecoder(r.Body).Decode(&got)
	})
	if err != nil || got["x-team"] != "red" {
		t.Errorf("x-team = %q, err %v", got["x-team"], err)
	}
}

// tokenServer issues numbered tokens at /oauth/token and serves /items to
// the holder of a valid one; revoke makes a token invalid.
type tokenServer struct {
	mu      sync.Mutex
	issued  int
	valid   map[string]bool
	authReq []string // bodies of the auth requests
	bodies  []string // bodies of the API requests
	expires int      // expires_in of each token; 0 for none
}

func newTokenServer() *tokenServer { return &tokenServer{valid: map[string]bool{}} }

func (s *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	switch r.URL.Path {
	case "/oauth/token":
		s.authReq = append(s.authReq, r.Method+" "+r.URL.RawQuery+" "+r.Header.Get("Content-Type")+" "+string(body))
		s.issued++
		tok := fmt.Sprintf("issued-token-%d", s.issued)
		s.valid[tok] = true
		answer := map[string]any{"access_token": tok, "token_type": "Bearer"}
		if s.expires > 0 {
			answer["expires_in"] = s.expires
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(answer)
	default:
		s.bodies = append(s.bodies, string(body))
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !s.valid[tok] {
			http.Error(w, `{"error":"invalid token"}`, http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"token":%q}`, tok)
	}
}

func (s *tokenServer) revokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.valid)
}

func (s *tokenServer) issuedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

var customAuthConfig = map[string]any{
	"authType": "custom",
	"customAuthRequest": map[string]any{
		"endpoint": "/oauth/token", "body": map[string]any{"client_id": "me", "client_secret": "client-secret-42"},
		"queryParams": map[string]any{"audience": "api"},
	},
	"customAuthRequestTemplate": map[string]any{
		"headers": map[string]any{"Authorization": "Bearer {{.access_token}}"},
		"body":    map[string]any{"session": "{{.access_token}}"},
	},
}

func TestCustomAuthReauthenticatesOnce(t *testing.T) {
	t.Parallel()
	ts := newTokenServer()
	api := newMemAPI(ts)
	defer api.Close()
	c, env := api.client(t, customAuthConfig)
	if body, err := fetchBody(t.Context(), c, "/items"); err != nil || body != `{"token":"issued-token-1"}` {
		t.Fatalf("first call: %q, %v", body, err)
	}
	if got := ts.authReq[0]; got != `POST audience=api application/json {"client_id":"me","client_secret":"client-secret-42"}` {
		t.Errorf("auth request = %q", got)
	}
	// The token is revoked: a 401, one re-auth, the same request again.
	ts.revokeAll()
	if body, err := fetchBody(t.Context(), c, "/items"); err != nil || body != `{"token":"issued-token-2"}` {
		t.Fatalf("after revocation: %q, %v", body, err)
	}
	if n := ts.issuedCount(); n != 2 {
		t.Errorf("%d auth requests, want 2", n)
	}
	// Tokens obtained go to the daemon's redactor, and never to the logs.
	if secrets := env.Secrets(); !slices.Contains(secrets, "issued-token-1") || !slices.Contains(secrets, "issued-token-2") || !slices.Contains(secrets, "client-secret-42") {
		t.Errorf("secrets registered: %q", secrets)
	}
	assertNoSecrets(t, "logs", env.Logs(), "issued-token-1", "issued-token-2", "client-secret-42")
}

func TestCustomAuthBodyTemplateMerged(t *testing.T) {
	t.Parallel()
	ts := newTokenServer()
	api := newMemAPI(ts)
	defer api.Close()
	c, _ := api.client(t, customAuthConfig)
	u, err := c.Resolve("/search")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Do(t.Context(), Request{Method: "POST", URL: u.String(), Body: []byte(`{"q":"x"}`)}, func(r *Response) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.bodies[0]; got != `{"q":"x","session":"issued-token-1"}` {
		t.Errorf("body = %s", got)
	}
}

func TestCustomAuthAlways401IsBounded(t *testing.T) {
	t.Parallel()
	var auths, calls atomic.Int32
	api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			auths.Add(1)
			fmt.Fprintf(w, `{"access_token":"never-good-%d"}`, auths.Load())
			return
		}
		calls.Add(1)
		http.Error(w, "bad token", http.StatusUnauthorized)
	}))
	defer api.Close()
	c, _ := api.client(t, customAuthConfig)
	_, err := fetchBody(t.Context(), c, "/items")
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
		t.Fatalf("err = %v, want a 401 *HTTPError", err)
	}
	if auths.Load() != 2 || calls.Load() != 2 {
		t.Errorf("%d auth requests and %d calls, want 2 and 2", auths.Load(), calls.Load())
	}
	if strings.Contains(err.Error(), "never-good") {
		t.Errorf("error shows the token: %v", err)
	}
}

func TestCustomAuthMissingTemplateValue(t *testing.T) {
	t.Parallel()
	api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"data":{"jwt":"jwt-value-1"},"expires":10}`)
	}))
	defer api.Close()
	c, _ := api.client(t, customAuthConfig)
	_, err := fetchBody(t.Context(), c, "/items")
	want := "customAuthRequestTemplate.headers.Authorization: {{.access_token}}: no value in the auth answer (its keys: .data, .data.jwt, .expires)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestCustomAuthOneAtATime(t *testing.T) {
	t.Parallel()
	ts := newTokenServer()
	api := newMemAPI(ts)
	defer api.Close()
	c, _ := api.client(t, customAuthConfig)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := fetchBody(t.Context(), c, "/items")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := ts.issuedCount(); n != 1 {
		t.Errorf("%d auth requests for 8 concurrent calls, want 1", n)
	}
}

func TestCustomAuthProactiveRefresh(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ts := newTokenServer()
		api := newMemAPI(ts)
		defer api.Close()
		cfg := map[string]any{}
		for k, v := range customAuthConfig {
			cfg[k] = v
		}
		cfg["customAuthRequest"] = map[string]any{"endpoint": api.URL + "/oauth/token", "method": "GET", "reauthenticateIntervalSeconds": 600}
		c, _ := api.client(t, cfg)
		defer c.CloseIdleConnections()
		for _, step := range []struct {
			wait   time.Duration
			issued int
		}{{0, 1}, {8 * time.Minute, 1}, {time.Minute + time.Second, 2}, {time.Minute, 2}} {
			time.Sleep(step.wait)
			if _, err := fetchBody(t.Context(), c, "/items"); err != nil {
				t.Fatal(err)
			}
			if n := ts.issuedCount(); n != step.issued {
				t.Errorf("after %s more: %d auth requests, want %d", step.wait, n, step.issued)
			}
		}
	})
}

func TestOAuth2TokenExpiry(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ts := newTokenServer()
		ts.expires = 60
		api := newMemAPI(ts)
		defer api.Close()
		c, env := api.client(t, map[string]any{"authType": "oauth2", "tokenUrl": api.URL + "/oauth/token",
			"clientId": "client-1", "clientSecret": "oauth-secret-77", "scopes": "read write"})
		defer c.CloseIdleConnections()
		ctx := context.Background()
		if body, err := fetchBody(ctx, c, "/items"); err != nil || body != `{"token":"issued-token-1"}` {
			t.Fatalf("first call: %q, %v", body, err)
		}
		if body, err := fetchBody(ctx, c, "/items"); err != nil || body != `{"token":"issued-token-1"}` {
			t.Fatalf("second call: %q, %v", body, err)
		}
		time.Sleep(61 * time.Second)
		if body, err := fetchBody(ctx, c, "/items"); err != nil || body != `{"token":"issued-token-2"}` {
			t.Fatalf("after expiry: %q, %v", body, err)
		}
		// A token the API stops accepting early is dropped on the 401.
		ts.revokeAll()
		if body, err := fetchBody(ctx, c, "/items"); err != nil || body != `{"token":"issued-token-3"}` {
			t.Fatalf("after revocation: %q, %v", body, err)
		}
		if !strings.Contains(ts.authReq[0], "grant_type=client_credentials") || !strings.Contains(ts.authReq[0], "scope=read+write") {
			t.Errorf("token request = %q", ts.authReq[0])
		}
		if s := env.Secrets(); !slices.Contains(s, "issued-token-3") || !slices.Contains(s, "oauth-secret-77") {
			t.Errorf("secrets registered: %q", s)
		}
		assertNoSecrets(t, "logs", env.Logs(), "issued-token-1", "issued-token-3", "oauth-secret-77")
	})
}

func TestOAuth2TokenRefusedIsRedacted(t *testing.T) {
	t.Parallel()
	api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"invalid_client","hint":"oauth-secret-77 is wrong"}`, http.StatusUnauthorized)
	}))
	defer api.Close()
	c, _ := api.client(t, map[string]any{"authType": "oauth2", "tokenUrl": api.URL + "/token", "clientId": "client-1", "clientSecret": "oauth-secret-77"})
	_, err := fetchBody(t.Context(), c, "/items")
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized || !strings.Contains(he.Snippet, "invalid_client") {
		t.Fatalf("err = %v", err)
	}
	assertNoSecrets(t, "error", err.Error(), "oauth-secret-77")
}
