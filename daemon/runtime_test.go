package daemon_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"oceand/config"
	"oceand/daemon"
	"oceand/port/emulator"
	"oceand/store"
)

// logWatch is a slog handler that lets a test wait for a record.
type logWatch struct {
	mu      sync.Mutex
	records []logRecord
	changed chan struct{}
}

type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func newLogWatch() *logWatch { return &logWatch{changed: make(chan struct{})} }

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *logWatch) WithAttrs(as []slog.Attr) slog.Handler {
	return &logWatchWith{w: w, attrs: as}
}
func (w *logWatch) WithGroup(string) slog.Handler { return w }
func (w *logWatch) Handle(_ context.Context, r slog.Record) error {
	return w.add(r, nil)
}

func (w *logWatch) add(r slog.Record, extra []slog.Attr) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range extra {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	w.mu.Lock()
	w.records = append(w.records, rec)
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
	return nil
}

type logWatchWith struct {
	w     *logWatch
	attrs []slog.Attr
}

func (h *logWatchWith) Enabled(context.Context, slog.Level) bool { return true }
func (h *logWatchWith) WithAttrs(as []slog.Attr) slog.Handler {
	return &logWatchWith{w: h.w, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}
func (h *logWatchWith) WithGroup(string) slog.Handler { return h }
func (h *logWatchWith) Handle(_ context.Context, r slog.Record) error {
	return h.w.add(r, h.attrs)
}

// waitFor returns the first record from index from on whose message starts
// with prefix, and the index after it.
func (w *logWatch) waitFor(t *testing.T, from int, prefix string) (logRecord, int) {
	t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		w.mu.Lock()
		for i := from; i < len(w.records); i++ {
			if strings.HasPrefix(w.records[i].msg, prefix) {
				rec := w.records[i]
				w.mu.Unlock()
				return rec, i + 1
			}
		}
		changed := w.changed
		w.mu.Unlock()
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("no log record %q within 30s", prefix)
		}
	}
}

// startWith runs a daemon with options; it returns once the daemon is ready.
func startWith(t *testing.T, s *config.Settings, opts daemon.Options) *running {
	t.Helper()
	ready := make(chan struct{})
	opts.Ready = ready
	d, err := daemon.New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{client: daemon.NewClient(s.StateDir), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	t.Cleanup(func() {
		r.client.Close()
		r.cancel()
		<-r.done
	})
	r.ready = ready
	return r
}

func getHealth(t *testing.T, base, path string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, body
}

func TestControlSocketUnderADeepStateDir(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Deeper than any unix socket path allows (104 bytes on macOS).
	b.stateDir = filepath.Join(b.stateDir, strings.Repeat("d", 60), strings.Repeat("e", 60))
	r := start(t, b.settingsWith(t, map[string]any{"entity_amount": 5, "single_department_run": true},
		map[string]string{"event_listener.type": config.ListenerPolling, "event_listener.resync_on_start": "false"}))
	path := daemon.SocketPath(b.stateDir)
	if len(path) <= 108 {
		t.Fatalf("socket path is %d bytes: not deep enough to test", len(path))
	}
	st, err := r.client.State(t.Context())
	if err != nil {
		t.Fatalf("state over the socket of a deep stateDir: %v", err)
	}
	if st.Daemon == nil || st.Daemon.PID != os.Getpid() {
		t.Errorf("state.daemon = %+v, want this process", st.Daemon)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket file at its real path: %v, %v", fi, err)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind after stop: %v", err)
	}
}

// rawControl sends body to a control route as is, through the socket.
func rawControl(t *testing.T, stateDir, method, route, body string) (int, string) {
	t.Helper()
	var conn net.Conn
	if err := daemon.ViaShortPath(daemon.SocketPath(stateDir), func(short string) error {
		var err error
		conn, err = net.Dial("unix", short)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil }}}
	defer c.CloseIdleConnections()
	req, err := http.NewRequest(method, "http://oceand"+route, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

func TestControlRefusesABodyWithTrailingGarbage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := start(t, b.settingsWith(t, map[string]any{"entity_amount": 5, "single_department_run": true},
		map[string]string{"event_listener.type": config.ListenerPolling, "event_listener.resync_on_start": "false"}))
	for _, tc := range []struct{ route, body string }{
		{"/v1/resync", `{"dryRun":true} {{{`},
		{"/v1/resync", `{"dryRun":true}{"dryRun":false}`},
		{"/v1/cancel", `{"id":1} x`},
	} {
		code, body := rawControl(t, b.stateDir, http.MethodPost, tc.route, tc.body)
		if code != http.StatusBadRequest || !strings.Contains(body, "unexpected data after the JSON value") {
			t.Errorf("POST %s %s = %d %s, want 400 naming the trailing data", tc.route, tc.body, code, body)
		}
	}
	jobs, err := r.client.Jobs(t.Context(), store.ListOptions{})
	if err != nil || len(jobs) != 0 {
		t.Errorf("jobs after refused requests = %d, %v; want none queued", len(jobs), err)
	}
	// One value with white space after it is fine.
	if code, body := rawControl(t, b.stateDir, http.MethodPost, "/v1/resync", "{\"dryRun\":true}\n "); code != http.StatusAccepted {
		t.Errorf("a well-formed body = %d %s", code, body)
	}
}

func TestStateDirOthersCanWriteIsRepaired(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := os.Chmod(b.stateDir, 0o777); err != nil {
		t.Fatal(err)
	}
	logs := newLogWatch()
	r := startWith(t, b.settingsWith(t, map[string]any{"entity_amount": 5, "single_department_run": true},
		map[string]string{"event_listener.type": config.ListenerPolling, "event_listener.resync_on_start": "false"}),
		daemon.Options{Logger: slog.New(logs)})
	<-r.ready
	fi, err := os.Stat(b.stateDir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("stateDir mode after start = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	rec, _ := logs.waitFor(t, 0, "stateDir was writable by other users")
	if rec.attrs["was"] != "0777" {
		t.Errorf("warning = %+v", rec)
	}
}

func TestStateDirOfAnotherUserIsRefused(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the directory to another user")
	}
	b := setup(t)
	if err := os.Chown(b.stateDir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := runOnce(t, b.settings(t, map[string]any{"entity_amount": 5}))
	if err == nil || daemon.IsJobFailure(err) || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Fatalf("Run = %v, want a refusal naming the owner", err)
	}
	if _, err := os.Stat(daemon.StatePath(b.stateDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a database was created in the refused directory: %v", err)
	}
}

func TestClientTrustsOnlyTheStateDirOwner(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := daemon.TrustedPeer(dir, os.Geteuid()); err != nil {
		t.Errorf("the directory's owner: %v", err)
	}
	err := daemon.TrustedPeer(dir, os.Geteuid()+4242)
	if !errors.Is(err, daemon.ErrUntrustedSocket) || !strings.Contains(err.Error(), "not trusting") {
		t.Errorf("another user's server: %v, want ErrUntrustedSocket", err)
	}
}

func TestPortUnreachableAtStart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.emu.InjectFault(emulator.Fault{Drop: true})
	logs := newLogWatch()
	s := b.settingsWith(t, map[string]any{"entity_amount": 5, "single_department_run": true},
		map[string]string{"event_listener.type": config.ListenerPolling, "serve_health": "true", "application.port": "0"})
	r := startWith(t, s, daemon.Options{Logger: slog.New(logs), RegisterRetry: 10 * time.Millisecond, PortRetryWaitMax: time.Millisecond})

	// The health server answers before registration...
	listening, _ := logs.waitFor(t, 0, "HTTP server listening")
	base := "http://" + listening.attrs["addr"]
	// ...the first failed attempt is logged at once, saying it retries...
	rec, next := logs.waitFor(t, 0, "cannot reach Port; retrying")
	if rec.level != slog.LevelWarn || !strings.Contains(rec.attrs["err"], "/v1/auth/access_token") {
		t.Errorf("first failure = %+v", rec)
	}
	if code, body := getHealth(t, base, "/health/live"); code != http.StatusOK {
		t.Errorf("/health/live while registering = %d %v", code, body)
	}
	code, body := getHealth(t, base, "/health/ready")
	if reason, _ := body["reason"].(string); code != http.StatusServiceUnavailable ||
		!strings.Contains(reason, "register") || !strings.Contains(reason, "Port unreachable since") {
		t.Errorf("/health/ready while Port is unreachable = %d %v, want 503 saying it registers and Port is unreachable", code, body)
	}
	// ...and a failed registration round says it will try again.
	if rec, _ := logs.waitFor(t, next, "could not register the integration with Port; retrying"); rec.attrs["in"] == "" {
		t.Errorf("retry record = %+v", rec)
	}
	// /metrics is served before registration too, and says Port is out
	// of reach.
	before := scrape(t, base+"/metrics")
	if v := value(before, "oceand_port_reachable", nil); v != 0 {
		t.Errorf("oceand_port_reachable = %v while Port is unreachable; want 0", v)
	}
	if before["oceand_build_info"] == nil || before["oceand_listener_healthy"] == nil {
		t.Errorf("/metrics before registration lacks build_info or listener_healthy: %v", slices.Sorted(maps.Keys(before)))
	}
	select {
	case <-r.ready:
		t.Fatal("ready while Port is unreachable")
	default:
	}

	b.emu.ClearFaults()
	select {
	case <-r.ready:
	case err := <-r.done:
		t.Fatalf("daemon exited instead of retrying: %v", err)
	}
	logs.waitFor(t, next, "Port is reachable again")
	if code, body := getHealth(t, base, "/health/ready"); code != http.StatusOK {
		t.Errorf("/health/ready once registered = %d %v", code, body)
	}
	if j := r.waitJob(t, 1); j.State != store.JobSucceeded {
		t.Errorf("start-up resync = %s %s", j.State, j.Error)
	}
	after := scrape(t, base+"/metrics")
	if v := value(after, "oceand_port_reachable", nil); v != 1 {
		t.Errorf("oceand_port_reachable = %v once Port answers; want 1", v)
	}
	if v := value(after, "oceand_listener_healthy", map[string]string{"type": config.ListenerPolling}); v != 1 {
		t.Errorf("oceand_listener_healthy{POLLING} = %v; want 1", v)
	}
}

// Ocean serves /metrics when metrics.enabled is true; so does oceand, with
// any listener, without serveHealth.
func TestOceansMetricsEnabledServesMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	logs := newLogWatch()
	s := b.settingsWith(t, map[string]any{"entity_amount": 5, "single_department_run": true},
		map[string]string{"event_listener.type": config.ListenerPolling, "event_listener.resync_on_start": "false",
			"metrics.enabled": "true", "application.port": "0"})
	startWith(t, s, daemon.Options{Logger: slog.New(logs)})
	listening, _ := logs.waitFor(t, 0, "HTTP server listening")
	fams := scrape(t, "http://"+listening.attrs["addr"]+"/metrics")
	if fams["oceand_build_info"] == nil {
		t.Errorf("/metrics with metrics.enabled lacks oceand_build_info")
	}
}

func TestPortOutageWhileRunningShowsInReadinessAndState(t *testing.T) {
	t.Parallel()
	b := setup(t)
	logs := newLogWatch()
	s := b.settingsWith(t, map[string]any{"entity_amount": 5, "single_department_run": true},
		map[string]string{"event_listener.type": config.ListenerPolling, "event_listener.interval": "1",
			"event_listener.resync_on_start": "false", "serve_health": "true", "application.port": "0"})
	r := startWith(t, s, daemon.Options{Logger: slog.New(logs), PortRetryWaitMax: time.Millisecond})
	<-r.ready
	listening, _ := logs.waitFor(t, 0, "HTTP server listening")
	base := "http://" + listening.attrs["addr"]
	if code, body := getHealth(t, base, "/health/ready"); code != http.StatusOK {
		t.Fatalf("/health/ready before the outage = %d %v", code, body)
	}
	st, err := r.client.State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Port == nil || !st.Port.Reachable || st.Poll == nil || st.Poll.LastPoll == nil || st.Poll.LastError != "" {
		t.Fatalf("state before the outage: port %+v poll %+v", st.Port, st.Poll)
	}

	b.emu.InjectFault(emulator.Fault{Status: http.StatusServiceUnavailable})
	_, next := logs.waitFor(t, 0, "cannot reach Port; retrying")
	code, body := getHealth(t, base, "/health/ready")
	if reason, _ := body["reason"].(string); code != http.StatusServiceUnavailable || !strings.Contains(reason, "Port unreachable since") {
		t.Errorf("/health/ready during the outage = %d %v", code, body)
	}
	_, next = logs.waitFor(t, next, "cannot poll Port")
	st, err = r.client.State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Port == nil || st.Port.Reachable || st.Port.FailingSince == nil || !strings.Contains(st.Port.LastError, "503") {
		t.Errorf("state.port during the outage = %+v", st.Port)
	}
	if p := st.Poll; p == nil || p.LastError == "" || p.FailingSince == nil || p.Failures < 1 {
		t.Errorf("state.poll during the outage = %+v", p)
	}

	b.emu.ClearFaults()
	logs.waitFor(t, next, "Port is reachable again; polling resumed")
	if code, body := getHealth(t, base, "/health/ready"); code != http.StatusOK {
		t.Errorf("/health/ready after the outage = %d %v", code, body)
	}
}

// deleteIntegration deletes the integration in Port as a user in Port's
// UI would.
func deleteIntegration(t *testing.T, b *testBundle) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, b.url+"/v1/integration/test-integration", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+emulatorToken(t, b))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || b.emu.Integration("test-integration") != nil {
		t.Fatalf("delete the integration: %d", resp.StatusCode)
	}
}

func TestIntegrationDeletedInPortIsRegisteredAgain(t *testing.T) {
	t.Parallel()
	t.Run("found by the polling listener", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		logs := newLogWatch()
		s := b.settingsWith(t, map[string]any{"entity_amount": 5, "single_department_run": true},
			map[string]string{"event_listener.type": config.ListenerPolling, "event_listener.interval": "1"})
		r := startWith(t, s, daemon.Options{Logger: slog.New(logs)})
		<-r.ready
		if j := r.waitJob(t, 1); j.State != store.JobSucceeded {
			t.Fatalf("start job = %s", j.State)
		}
		deleteIntegration(t, b)
		logs.waitFor(t, 0, "the integration is missing in Port")
		j := r.waitJob(t, 2)
		if j.State != store.JobSucceeded || j.Trigger != "start" {
			t.Errorf("job after re-registering = %s (%s) %s", j.State, j.Trigger, j.Error)
		}
		if b.emu.Integration("test-integration") == nil {
			t.Error("the integration is not in Port again")
		}
	})
	t.Run("found by a resync", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		s := b.settingsWith(t, map[string]any{"entity_amount": 5, "single_department_run": true},
			map[string]string{"event_listener.type": config.ListenerWebhook, "event_listener.app_host": "http://localhost:1",
				"event_listener.resync_on_start": "false", "application.port": "0"})
		r := startWith(t, s, daemon.Options{})
		<-r.ready
		deleteIntegration(t, b)
		out, err := r.client.Resync(t.Context(), daemon.ResyncRequest{Reason: "after the deletion"})
		if err != nil {
			t.Fatal(err)
		}
		if j := r.waitJob(t, out.Job.ID); j.State != store.JobSucceeded {
			t.Errorf("resync after the deletion = %s: %s", j.State, j.Error)
		}
		if b.emu.Integration("test-integration") == nil {
			t.Error("the integration is not in Port again")
		}
	})
}

func TestBadCredentialsEndTheStartAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.settingsWith(t, map[string]any{"entity_amount": 5}, map[string]string{
		"event_listener.type": config.ListenerPolling, "port.client_secret": "wrong-secret"})
	d, err := daemon.New(s, daemon.Options{RegisterRetry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// No retry round: an hour's wait would outlast the test.
	err = d.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "register integration") || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Run = %v, want the registration's 401 at once", err)
	}
}
