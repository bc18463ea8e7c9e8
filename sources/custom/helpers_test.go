package custom

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"oceand/sources"
)

// memListener is an in-memory network for httptest servers, so that tests
// under testing/synctest (fake time for backoff, Retry-After and token
// expiry) see every goroutine durably blocked: a real socket is not.
type memListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

func newMemListener() *memListener {
	return &memListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr("api.test:80") }

func (l *memListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, errors.New("connection refused")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// memAPI is an httptest server on the in-memory network; Close it before
// a synctest bubble ends.
type memAPI struct {
	*httptest.Server
	l *memListener
}

func newMemAPI(h http.Handler) *memAPI {
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	l := newMemListener()
	srv.Listener = l
	srv.Start()
	return &memAPI{Server: srv, l: l}
}

// settings parses config (camelCase keys) with baseUrl set to the API.
func (a *memAPI) settings(t *testing.T, config map[string]any) Settings {
	t.Helper()
	cfg := map[string]any{"baseUrl": a.URL}
	for k, v := range config {
		cfg[k] = v
	}
	s, err := ParseSettings(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.dial = a.l.dial
	return s
}

// client builds a client for the API and closes its connections at the
// end of the test.
func (a *memAPI) client(t *testing.T, config map[string]any) (*Client, *testEnv) {
	t.Helper()
	env := newTestEnv()
	c, err := NewClient(a.settings(t, config), env.Env())
	if err != nil {
		t.Fatal(err)
	}
	return c, env
}

// testEnv captures what a source gives the daemon: DEBUG logs and the
// secrets it registers.
type testEnv struct {
	mu      sync.Mutex
	logs    bytes.Buffer
	secrets []string
}

func newTestEnv() *testEnv { return &testEnv{} }

func (e *testEnv) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.logs.Write(p)
}

func (e *testEnv) Env() sources.Env {
	return sources.Env{
		Logger: slog.New(slog.NewTextHandler(e, &slog.HandlerOptions{Level: slog.LevelDebug})),
		AddSecrets: func(values ...string) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.secrets = append(e.secrets, values...)
		},
	}
}

func (e *testEnv) Logs() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.logs.String()
}

func (e *testEnv) Secrets() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.secrets...)
}

// get fetches path and returns the body.
func fetchBody(ctx context.Context, c *Client, path string) (string, error) {
	u, err := c.Resolve(path)
	if err != nil {
		return "", err
	}
	var body string
	err = c.Do(ctx, Request{URL: u.String()}, func(r *Response) error {
		b, err := io.ReadAll(r.Body)
		body = string(b)
		return err
	})
	return body, err
}

// mustNotContain fails when text holds any of the secrets.
func assertNoSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s shows secret %q:\n%s", what, s, text)
		}
	}
}
