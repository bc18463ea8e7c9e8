package custom

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestRetries500ThenSuccess(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) <= 2 {
				http.Error(w, "boom", http.StatusInternalServerError)
				return
			}
			fmt.Fprint(w, `[1,2]`)
		}))
		defer api.Close()
		c, _ := api.client(t, nil)
		defer c.CloseIdleConnections()
		handled := 0
		u, _ := c.Resolve("/items")
		err := c.Do(context.Background(), Request{URL: u.String()}, func(r *Response) error {
			handled++
			b, err := io.ReadAll(r.Body)
			if string(b) != "[1,2]" || r.Status != 200 {
				t.Errorf("answer %d %q", r.Status, b)
			}
			return err
		})
		if err != nil || calls.Load() != 3 || handled != 1 {
			t.Errorf("err %v, %d calls, %d handled; want nil, 3, 1", err, calls.Load(), handled)
		}
	})
}

func TestFailureAfterRetriesNamesEverythingButSecrets(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
			// The body echoes the key, then goes on for long.
			fmt.Fprintf(w, `{"error":"backend down","request":{"api_key":%q}}%s`, r.URL.Query().Get("api_key"), strings.Repeat("x", 5000))
		}))
		defer api.Close()
		c, env := api.client(t, map[string]any{"authType": "api_key", "apiKey": "key-secret-1234", "apiKeyQueryParam": "api_key"})
		defer c.CloseIdleConnections()
		start := time.Now()
		_, err := fetchBody(context.Background(), c, "/teams?active=true")
		var he *HTTPError
		if !errors.As(err, &he) {
			t.Fatalf("err = %v, want *HTTPError", err)
		}
		if he.Method != "GET" || he.Status != 500 || he.Attempts != MaxAttempts || int(calls.Load()) != MaxAttempts {
			t.Errorf("error %+v after %d calls", he, calls.Load())
		}
		if he.URL != "http://api.test:80/teams?active=true&api_key=[REDACTED]" {
			t.Errorf("URL = %s", he.URL)
		}
		if !strings.HasPrefix(he.Snippet, `{"error":"backend down","request":{"api_key":"[REDACTED]"}}xxx`) || len(he.Snippet) > snippetLen {
			t.Errorf("snippet (%d bytes) = %s", len(he.Snippet), he.Snippet)
		}
		msg := err.Error()
		for _, want := range []string{"GET http://api.test:80/teams?active=true&api_key=[REDACTED]", "500 Internal Server Error", "backend down", "(after 10 attempts)"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error lacks %q: %s", want, msg)
			}
		}
		assertNoSecrets(t, "error", msg, "key-secret-1234")
		assertNoSecrets(t, "logs", env.Logs(), "key-secret-1234", "backend down")
		// 9 waits: exponential from 0.5 s, capped at 60 s, each cut by up to
		// half (jitter): between 92 s and 184 s.
		if waited := time.Since(start); waited < 90*time.Second || waited > 4*time.Minute {
			t.Errorf("retries took %s", waited)
		}
	})
}

func TestPOSTRetriedOnlyWhenSafe(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			if string(b) != `{"q":1}` || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("body %q, type %q", b, r.Header.Get("Content-Type"))
			}
			if calls.Add(1) <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, "{}")
		}))
		defer api.Close()
		c, _ := api.client(t, nil)
		defer c.CloseIdleConnections()
		u, _ := c.Resolve("/search")
		req := Request{Method: "POST", URL: u.String(), Body: []byte(`{"q":1}`)}
		nop := func(*Response) error { return nil }
		var he *HTTPError
		if err := c.Do(context.Background(), req, nop); !errors.As(err, &he) || he.Status != 503 || calls.Load() != 1 {
			t.Errorf("POST: err %v after %d calls, want a 503 after 1", err, calls.Load())
		}
		req.RetryPOST = true
		if err := c.Do(context.Background(), req, nop); err != nil || calls.Load() != 3 {
			t.Errorf("POST with RetryPOST: err %v after %d calls, want nil after 3", err, calls.Load())
		}
	})
}

func TestNotRetried(t *testing.T) {
	t.Parallel()
	for _, status := range []int{400, 403, 404, 422, 501} {
		var calls atomic.Int32
		api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(status)
		}))
		c, _ := api.client(t, nil)
		_, err := fetchBody(t.Context(), c, "/x")
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != status || calls.Load() != 1 {
			t.Errorf("%d: err %v after %d calls", status, err, calls.Load())
		}
		api.Close()
	}
}

func TestBodyReadErrorRetried(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			if calls.Add(1) == 1 {
				io.WriteString(w, `[{"id":1},`)
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler) // the connection drops mid-body
			}
			io.WriteString(w, `[{"id":1}]`+strings.Repeat(" ", 990))
		}))
		defer api.Close()
		c, _ := api.client(t, nil)
		defer c.CloseIdleConnections()
		body, err := fetchBody(context.Background(), c, "/items")
		if err != nil || calls.Load() != 2 || strings.TrimSpace(body) != `[{"id":1}]` {
			t.Errorf("err %v after %d calls, body %q", err, calls.Load(), body)
		}
	})
}

func TestHandlerErrorReturnedAsIs(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		fmt.Fprint(w, "not json")
	}))
	defer api.Close()
	c, _ := api.client(t, nil)
	u, _ := c.Resolve("/items")
	errDecode := errors.New("not JSON")
	err := c.Do(t.Context(), Request{URL: u.String()}, func(*Response) error { return errDecode })
	if err != errDecode || calls.Load() != 1 {
		t.Errorf("err %v after %d calls, want the handler's error after 1", err, calls.Load())
	}
}

func TestTooManyRequestsPausesTheHost(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		arrivals := map[string][]time.Time{}
		api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			arrivals[r.URL.Path] = append(arrivals[r.URL.Path], time.Now())
			first := r.URL.Path == "/a" && len(arrivals["/a"]) == 1
			mu.Unlock()
			if first {
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			fmt.Fprint(w, "{}")
		}))
		defer api.Close()
		c, _ := api.client(t, nil)
		defer c.CloseIdleConnections()
		start := time.Now()
		done := make(chan error, 2)
		go func() { _, err := fetchBody(context.Background(), c, "/a"); done <- err }()
		synctest.Wait() // /a got its 429 and waits
		go func() { _, err := fetchBody(context.Background(), c, "/b"); done <- err }()
		synctest.Wait()
		mu.Lock()
		if len(arrivals["/b"]) != 0 {
			t.Error("/b was sent while the host was paused")
		}
		mu.Unlock()
		for range 2 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if got := arrivals["/b"][0].Sub(start); got < 30*time.Second {
			t.Errorf("/b sent %s after the 429, want 30s", got)
		}
		if got := arrivals["/a"][1].Sub(start); got != 30*time.Second {
			t.Errorf("/a retried after %s, want Retry-After's 30s", got)
		}
	})
}

func TestRetryAfterCapped(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		header map[string]string
		want   time.Duration
	}{
		{map[string]string{"Retry-After": "12"}, 12 * time.Second},
		{map[string]string{"Retry-After": "86400"}, MaxRetryAfter},
		{map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second},
		{map[string]string{"X-RateLimit-Reset": fmt.Sprint(now.Add(40 * time.Second).Unix())}, 40 * time.Second},
		{map[string]string{"X-RateLimit-Reset": "7"}, 7 * time.Second},
		{map[string]string{"X-RateLimit-Reset": fmt.Sprint(now.Add(time.Hour).Unix())}, MaxRetryAfter},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.header {
			h.Set(k, v)
		}
		got, ok := serverWait(h, now)
		if !ok || got != tt.want {
			t.Errorf("%v: %s, %v; want %s", tt.header, got, ok, tt.want)
		}
	}
	for attempt := range 20 {
		d := expBackoff(RetryWaitMin, RetryWaitMax, attempt)
		if d < RetryWaitMin/2 || d > RetryWaitMax {
			t.Errorf("attempt %d: backoff %s", attempt, d)
		}
	}
}

func TestMaxConcurrentRequests(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var inFlight, peak atomic.Int32
		api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := inFlight.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Second)
			inFlight.Add(-1)
			fmt.Fprint(w, "{}")
		}))
		defer api.Close()
		c, _ := api.client(t, map[string]any{"maxConcurrentRequests": "3"})
		defer c.CloseIdleConnections()
		var handlers, handlersPeak atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				u, _ := c.Resolve("/x")
				err := c.Do(context.Background(), Request{URL: u.String()}, func(r *Response) error {
					n := handlers.Add(1)
					if n > handlersPeak.Load() {
						handlersPeak.Store(n)
					}
					time.Sleep(time.Second) // a slow consumer holds its slot
					handlers.Add(-1)
					_, err := io.Copy(io.Discard, r.Body)
					return err
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if peak.Load() != 3 {
			t.Errorf("%d requests in flight at most on the server, want 3", peak.Load())
		}
		if handlersPeak.Load() > 3 {
			t.Errorf("%d handlers at once", handlersPeak.Load())
		}
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var arrivals []time.Time
		api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			arrivals = append(arrivals, time.Now())
			mu.Unlock()
			fmt.Fprint(w, "{}")
		}))
		defer api.Close()
		c, _ := api.client(t, map[string]any{"rateLimit": "4", "rateLimitBurst": 1})
		defer c.CloseIdleConnections()
		start := time.Now()
		var wg sync.WaitGroup
		for range 9 {
			wg.Go(func() {
				if _, err := fetchBody(context.Background(), c, "/x"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := time.Since(start); got != 2*time.Second {
			t.Errorf("9 requests at 4/s took %s, want 2s", got)
		}
		for i := 1; i < len(arrivals); i++ {
			if d := arrivals[i].Sub(arrivals[i-1]); d < 250*time.Millisecond {
				t.Errorf("requests %d and %d %s apart", i-1, i, d)
			}
		}
	})
}

func TestLowRateLimitBudgetSlowsDown(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var arrivals []time.Time
		api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			arrivals = append(arrivals, time.Now())
			mu.Unlock()
			// 5 of 100 left, reset in 10 s: one request every 2 s.
			w.Header().Set("X-RateLimit-Limit", "100")
			w.Header().Set("X-RateLimit-Remaining", "5")
			w.Header().Set("X-RateLimit-Reset", "10")
			fmt.Fprint(w, "{}")
		}))
		defer api.Close()
		c, _ := api.client(t, nil)
		defer c.CloseIdleConnections()
		for range 3 {
			if _, err := fetchBody(context.Background(), c, "/x"); err != nil {
				t.Fatal(err)
			}
		}
		for i := 1; i < len(arrivals); i++ {
			if d := arrivals[i].Sub(arrivals[i-1]); d < 2*time.Second {
				t.Errorf("requests %d and %d %s apart, want 2s", i-1, i, d)
			}
		}
	})
}

func TestTimeoutRetriedThenReported(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				select { // longer than timeout
				case <-time.After(10 * time.Second):
				case <-r.Context().Done():
				}
			}
			fmt.Fprint(w, "{}")
		}))
		defer api.Close()
		c, _ := api.client(t, map[string]any{"timeout": 2})
		defer c.CloseIdleConnections()
		if _, err := fetchBody(context.Background(), c, "/x"); err != nil || calls.Load() != 2 {
			t.Errorf("err %v after %d calls", err, calls.Load())
		}
		synctest.Wait()
	})
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		defer api.Close()
		c, _ := api.client(t, nil)
		defer c.CloseIdleConnections()
		cause := errors.New("superseded")
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(3*time.Second, func() { cancel(cause) })
		_, err := fetchBody(ctx, c, "/x")
		if !errors.Is(err, cause) {
			t.Errorf("err = %v, want the cancel cause", err)
		}
	})
}

func TestCACertFileAndVerifySsl(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{}") }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted handshake below
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	cert := srv.Certificate()
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	newClient := func(config map[string]any) (*Client, *testEnv) {
		cfg := map[string]any{"baseUrl": srv.URL}
		for k, v := range config {
			cfg[k] = v
		}
		s, err := ParseSettings(cfg)
		if err != nil {
			t.Fatal(err)
		}
		env := newTestEnv()
		c, err := NewClient(s, env.Env())
		if err != nil {
			t.Fatal(err)
		}
		return c, env
	}
	// Untrusted: an error at once, not retried.
	c, _ := newClient(nil)
	_, err := fetchBody(t.Context(), c, "/x")
	var unknown x509.UnknownAuthorityError
	var he *HTTPError
	if !errors.As(err, &unknown) || !errors.As(err, &he) || he.Attempts != 1 {
		t.Errorf("untrusted: err %v", err)
	}
	c, _ = newClient(map[string]any{"caCertFile": caFile})
	if _, err := fetchBody(t.Context(), c, "/x"); err != nil {
		t.Errorf("with caCertFile: %v", err)
	}
	c, env := newClient(map[string]any{"verifySsl": false})
	if _, err := fetchBody(t.Context(), c, "/x"); err != nil {
		t.Errorf("verifySsl false: %v", err)
	}
	if n := strings.Count(env.Logs(), "verifySsl is false"); n != 1 {
		t.Errorf("%d warnings about verifySsl:\n%s", n, env.Logs())
	}
	s, _ := ParseSettings(map[string]any{"baseUrl": srv.URL, "caCertFile": filepath.Join(t.TempDir(), "none.pem")})
	if _, err := NewClient(s, newTestEnv().Env()); err == nil || !strings.HasPrefix(err.Error(), "caCertFile: ") {
		t.Errorf("missing caCertFile: %v", err)
	}
}

// The proxy comes from HTTP_PROXY, HTTPS_PROXY and NO_PROXY. net/http reads
// them once per process, so the test runs in a process of its own.
func TestProxyFromEnvironment(t *testing.T) {
	if os.Getenv("CUSTOM_PROXY_TEST_CHILD") == "" {
		t.Parallel()
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestProxyFromEnvironment$", "-test.count=1")
		cmd.Env = append(os.Environ(), "CUSTOM_PROXY_TEST_CHILD=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return
	}
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		if r.URL.Host != "api.internal.example" {
			t.Errorf("proxied %s", r.URL)
		}
		fmt.Fprint(w, "{}")
	}))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("NO_PROXY", "")
	s, err := ParseSettings(map[string]any{"baseUrl": "http://api.internal.example"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(s, newTestEnv().Env())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fetchBody(t.Context(), c, "/x"); err != nil || proxied.Load() != 1 {
		t.Errorf("err %v, %d proxied", err, proxied.Load())
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base, ref, want string
	}{
		{"https://x.io", "/users", "https://x.io/users"},
		{"https://x.io", "users", "https://x.io/users"},
		{"https://x.io/api/v2", "/users", "https://x.io/api/v2/users"},
		{"https://x.io/api/v2", "users?active=true&q=a%20b", "https://x.io/api/v2/users?active=true&q=a%20b"},
		{"https://x.io/api/v2", "/api/v2/users?page=2", "https://x.io/api/v2/users?page=2"},
		{"https://x.io/api/v2", "https://other.io/next?c=1", "https://other.io/next?c=1"},
		{"https://x.io/api", "//cdn.x.io/a", "https://cdn.x.io/a"},
		{"https://x.io/api?apiKey=k", "/posts/list", "https://x.io/api/posts/list?apiKey=k"},
		{"https://x.io", "/teams/a%2Fb/members", "https://x.io/teams/a%2Fb/members"},
	}
	for _, tt := range tests {
		s, err := ParseSettings(map[string]any{"baseUrl": tt.base})
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewClient(s, newTestEnv().Env())
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Resolve(tt.ref)
		if err != nil || got.String() != tt.want {
			t.Errorf("Resolve(%q) on %s = %v, %v; want %s", tt.ref, tt.base, got, err, tt.want)
		}
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ts := newTokenServer()
		ts.expires = 3600
		var fail atomic.Bool
		mux := http.NewServeMux()
		mux.Handle("/oauth/token", ts)
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if fail.Load() {
				// An API that echoes what it got in its error.
				w.WriteHeader(http.StatusBadGateway)
				fmt.Fprintf(w, "auth=%s url=%s", r.Header.Get("Authorization"), r.URL)
				return
			}
			fmt.Fprint(w, "{}")
		})
		api := newMemAPI(mux)
		defer api.Close()
		configs := []map[string]any{
			{"authType": "bearer_token", "apiToken": "bearer-secret-1"},
			{"authType": "basic", "username": "me", "password": "basic-pass-2"},
			{"authType": "api_key", "apiKey": "header-key-3"},
			{"authType": "api_key", "apiKey": "query-key-4", "apiKeyQueryParam": "key"},
			{"authType": "oauth2", "tokenUrl": api.URL + "/oauth/token", "clientId": "id", "clientSecret": "client-secret-5"},
			{"customHeaders": map[string]any{"X-Token": "header-token-6"}},
		}
		secrets := []string{"bearer-secret-1", "basic-pass-2", "bWU6YmFzaWMtcGFzcy0y", "header-key-3", "query-key-4", "client-secret-5", "issued-token-1", "header-token-6"}
		for _, cfg := range configs {
			c, env := api.client(t, cfg)
			fail.Store(false)
			if _, err := fetchBody(context.Background(), c, "/ok"); err != nil {
				t.Fatal(err)
			}
			fail.Store(true)
			_, err := fetchBody(context.Background(), c, "/fails")
			if err == nil {
				t.Fatal("no error from a 502")
			}
			assertNoSecrets(t, fmt.Sprintf("error with %v", cfg["authType"]), err.Error(), secrets...)
			logs := env.Logs()
			if !strings.Contains(logs, "level=DEBUG") {
				t.Errorf("no DEBUG logs: %s", logs)
			}
			assertNoSecrets(t, fmt.Sprintf("DEBUG logs with %v", cfg["authType"]), logs, secrets...)
			c.CloseIdleConnections()
		}
	})
}

func TestForbiddenRateLimitRetriedAfterReset(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var arrivals []time.Time
		api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrivals = append(arrivals, time.Now())
			if len(arrivals) == 1 {
				// GitHub's primary rate limit: a 403 with the budget spent.
				w.Header().Set("X-RateLimit-Remaining", "0")
				w.Header().Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Add(20*time.Second).Unix()))
				w.WriteHeader(http.StatusForbidden)
				return
			}
			fmt.Fprint(w, "{}")
		}))
		defer api.Close()
		c, env := api.client(t, nil)
		defer c.CloseIdleConnections()
		if _, err := fetchBody(context.Background(), c, "/x"); err != nil || len(arrivals) != 2 {
			t.Fatalf("err %v after %d calls", err, len(arrivals))
		}
		if d := arrivals[1].Sub(arrivals[0]); d < 19*time.Second || d > 21*time.Second {
			t.Errorf("retried after %s, want the reset's 20s", d)
		}
		if !strings.Contains(env.Logs(), "rate limited by the API") {
			t.Errorf("the pause is not logged:\n%s", env.Logs())
		}
	})
}

func TestAuthQueryParameterNotCarriedOver(t *testing.T) {
	t.Parallel()
	var queries []string
	api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		fmt.Fprint(w, "{}")
	}))
	defer api.Close()
	c, _ := api.client(t, map[string]any{"authType": "api_key", "apiKey": "key-1234", "apiKeyQueryParam": "api_key"})
	u, err := c.Resolve("/items?b=2&a=1")
	if err != nil {
		t.Fatal(err)
	}
	var next *url.URL
	err = c.Do(t.Context(), Request{URL: u.String()}, func(r *Response) error {
		next = r.URL
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if next.RawQuery != "b=2&a=1" {
		t.Errorf("Response.URL = %s, want it without the key", next)
	}
	// A next link that echoes the key does not send it twice.
	if err := c.Do(t.Context(), Request{URL: u.String() + "&api_key=key-1234&page=2"}, func(*Response) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if queries[0] != "b=2&a=1&api_key=key-1234" || queries[1] != "b=2&a=1&page=2&api_key=key-1234" {
		t.Errorf("queries sent: %q", queries)
	}
}

func TestBodyReadErrorThenErrorStatusIsAnError(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				w.Header().Set("Content-Length", "100")
				io.WriteString(w, `[{"id":1},`)
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}
			http.Error(w, "down", http.StatusBadGateway)
		}))
		defer api.Close()
		c, _ := api.client(t, nil)
		defer c.CloseIdleConnections()
		_, err := fetchBody(context.Background(), c, "/items")
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != http.StatusBadGateway || int(calls.Load()) != MaxAttempts {
			t.Errorf("err %v after %d calls, want a 502 after %d", err, calls.Load(), MaxAttempts)
		}
	})
}

func TestBodyReadErrorsExhaustRetries(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, `[{"id":1},`)
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}))
		defer api.Close()
		c, _ := api.client(t, map[string]any{"authType": "api_key", "apiKey": "key-5678", "apiKeyQueryParam": "token"})
		defer c.CloseIdleConnections()
		_, err := fetchBody(context.Background(), c, "/items")
		var bre *BodyReadError
		want := "reading the answer of http://api.test:80/items?token=[REDACTED]: unexpected EOF (after 10 attempts)"
		if !errors.As(err, &bre) || err.Error() != want || int(calls.Load()) != MaxAttempts {
			t.Errorf("err %v after %d calls\nwant %s", err, calls.Load(), want)
		}
	})
}

func TestTransportErrorAfterRetries(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		api := newMemAPI(http.NotFoundHandler())
		c, _ := api.client(t, nil)
		api.Close() // nothing listens any more
		_, err := fetchBody(context.Background(), c, "/items")
		var he *HTTPError
		want := "GET http://api.test:80/items: connection refused (after 10 attempts)"
		if !errors.As(err, &he) || he.Status != 0 || err.Error() != want {
			t.Errorf("err %v\nwant %s", err, want)
		}
	})
}
