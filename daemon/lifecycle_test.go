package daemon_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"oceand/config"
	"oceand/daemon"
	"oceand/jobs"
	"oceand/store"
)

// settingsWith builds settings for the fake source with extra flags
// (dotted snake_case keys) over the ONCE defaults of settings.
func (b *testBundle) settingsWith(t testing.TB, integrationConfig map[string]any, flags map[string]string) *config.Settings {
	t.Helper()
	cfg := mustJSON(t, integrationConfig)
	all := map[string]string{
		"port.base_url":          b.url,
		"port.client_id":         "test-id",
		"port.client_secret":     "test-secret",
		"integration.type":       "fake",
		"integration.identifier": "test-integration",
		"integration.config":     string(cfg),
		"event_listener.type":    config.ListenerOnce,
		"state_dir":              b.stateDir,
	}
	for k, v := range flags {
		all[k] = v
	}
	s, err := config.Load(config.LoadOptions{Dir: t.TempDir(), Flags: all})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// running is a daemon started in the background.
type running struct {
	client *daemon.Client
	cancel context.CancelFunc
	done   chan error
	ready  chan struct{}
}

// start runs a daemon until stop; it returns once the daemon is ready.
func start(t testing.TB, s *config.Settings) *running {
	t.Helper()
	ready := make(chan struct{})
	d, err := daemon.New(s, daemon.Options{Ready: ready, ProgressInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{client: daemon.NewClient(s.StateDir), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	select {
	case <-ready:
	case err := <-r.done:
		t.Fatalf("daemon exited before it was ready: %v", err)
	}
	t.Cleanup(func() {
		r.client.Close()
		r.cancel()
		<-r.done
	})
	return r
}

// stop stops the daemon as SIGTERM does and returns Run's error.
func (r *running) stop() error {
	r.cancel()
	err := <-r.done
	r.done <- err // for the cleanup
	return err
}

func (r *running) waitJob(t *testing.T, id uint64) *store.Job {
	t.Helper()
	j, err := r.client.Follow(t.Context(), id, func(*store.Job) error { return nil })
	if err != nil {
		t.Fatalf("follow job %d: %v", id, err)
	}
	return j
}

// withState opens the state of a stopped daemon, calls fn, checks the
// database's consistency and closes it.
func withState(t *testing.T, dir string, fn func(st *store.Store)) {
	t.Helper()
	st, err := store.Open(daemon.StatePath(dir), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fn(st)
	if err := st.Check(); err != nil {
		t.Errorf("store check: %v", err)
	}
}

func TestDaemonServesTheCLIOnItsControlSocket(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.settingsWith(t, map[string]any{"entity_amount": 30, "single_department_run": true},
		map[string]string{"event_listener.type": config.ListenerPolling})
	r := start(t, s)
	ctx := t.Context()

	first := r.waitJob(t, 1)
	if first.State != store.JobSucceeded || first.Trigger != jobs.TriggerStart {
		t.Fatalf("start-up job = %s (%s), want a succeeded start job", first.State, first.Trigger)
	}
	fi, err := os.Stat(daemon.SocketPath(b.stateDir))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("control socket: %v, mode %v", err, fi.Mode())
	}

	out, err := r.client.Resync(ctx, daemon.ResyncRequest{Reason: "test"})
	if err != nil || out.Outcome != jobs.Queued || out.Job.Trigger != jobs.TriggerCLI {
		t.Fatalf("resync = %+v, %v", out, err)
	}
	second := r.waitJob(t, out.Job.ID)
	if second.State != store.JobSucceeded || second.Totals.Upserted != 0 || second.Totals.Unchanged == 0 {
		t.Errorf("second job = %s, totals %+v; want all unchanged", second.State, second.Totals)
	}

	st, err := r.client.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Daemon == nil || st.Daemon.PID != os.Getpid() || st.Integration != "test-integration" || st.LastSuccess == nil ||
		st.LastSuccess.ID != second.ID || st.Running != nil || st.Queued != nil || st.ResyncPolicy != "supersede" {
		t.Errorf("state = %+v", st)
	}
	list, err := r.client.Jobs(ctx, store.ListOptions{State: store.JobSucceeded})
	if err != nil || len(list) != 2 || list[0].ID != second.ID {
		t.Errorf("jobs = %v, %v", list, err)
	}
	if _, err := r.client.Cancel(ctx, daemon.CancelRequest{}); !errors.Is(err, jobs.ErrNotRunning) {
		t.Errorf("cancel with nothing running = %v, want ErrNotRunning", err)
	}
	if _, err := r.client.Job(ctx, 99); !errors.Is(err, store.ErrJobNotFound) {
		t.Errorf("job 99 = %v, want not found", err)
	}

	if err := r.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := os.Stat(daemon.SocketPath(b.stateDir)); !os.IsNotExist(err) {
		t.Errorf("socket left after stop: %v", err)
	}
	if err := daemon.NewClient(b.stateDir).Ping(ctx); !errors.Is(err, daemon.ErrNoDaemon) {
		t.Errorf("ping after stop = %v, want ErrNoDaemon", err)
	}
}

func TestStopInterruptsTheJobAndTheNextStartResumesIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	slow := map[string]any{"entity_amount": 200, "single_department_run": true, "third_party_batch_size": 10, "third_party_latency_ms": 20}
	s := b.settingsWith(t, slow, map[string]string{"event_listener.type": config.ListenerPolling})
	r := start(t, s)

	// Stop in the middle of the persons.
	errMidway := errors.New("midway")
	_, err := r.client.Follow(t.Context(), 1, func(j *store.Job) error {
		if len(j.Kinds) > 1 && j.Kinds[1].Upserted >= 40 {
			return errMidway
		}
		return nil
	})
	if !errors.Is(err, errMidway) {
		t.Fatalf("job 1 ended before it was midway: %v", err)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("a stop by signal must return nil, got %v", err)
	}
	var first *store.Job
	withState(t, b.stateDir, func(st *store.Store) {
		var err error
		if first, err = st.GetJob(1); err != nil {
			t.Fatal(err)
		}
		if first.State != store.JobInterrupted || first.Kinds[0].State != store.KindCompleted {
			t.Fatalf("job 1 after stop = %s, kinds %+v", first.State, first.Kinds)
		}
		resume, err := st.GetJob(2)
		if err != nil || resume.State != store.JobQueued || resume.ResumeOf != 1 || resume.Trigger != jobs.TriggerResume {
			t.Fatalf("resume = %+v, %v", resume, err)
		}
	})
	if rs := b.emu.Integration("test-integration")["resyncState"].(map[string]any); rs["status"] != "aborted" {
		t.Errorf("Port resync state = %v, want aborted", rs["status"])
	}

	r = start(t, s)
	done := r.waitJob(t, 2)
	if done.State != store.JobSucceeded || done.ChainID != 1 || !done.ChainStartedAt.Equal(*first.ChainStartedAt) {
		t.Fatalf("resume = %s, chain %d from %v; want succeeded, chain 1 from %v", done.State, done.ChainID, done.ChainStartedAt, first.ChainStartedAt)
	}
	if got := b.emu.EntityCount("fake-person"); got != 200 {
		t.Errorf("persons in Port = %d, want 200", got)
	}
	// The start trigger merged into the resume: no third job.
	if _, err := r.client.Job(t.Context(), 3); !errors.Is(err, store.ErrJobNotFound) {
		t.Errorf("job 3 exists: %v", err)
	}
}

func TestOnceRunsAPendingResume(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.settings(t, map[string]any{"entity_amount": 20, "single_department_run": true})
	st, err := store.Open(daemon.StatePath(b.stateDir), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	killed := &store.Job{State: store.JobRunning, Trigger: jobs.TriggerStart, CreatedAt: started, StartedAt: &started, ChainStartedAt: &started}
	if err := st.CreateJob(killed); err != nil {
		t.Fatal(err)
	}
	st.Close()

	job, err := runOnce(t, s)
	if err != nil {
		t.Fatalf("ONCE: %v", err)
	}
	if job.ID != 2 || job.ResumeOf != 1 || job.State != store.JobSucceeded || !job.ChainStartedAt.Equal(started) {
		t.Errorf("ONCE ran %+v, want the resume of job 1", job)
	}
}

func TestScheduledRunIsReportedToPort(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.settingsWith(t, map[string]any{"entity_amount": 5, "single_department_run": true},
		map[string]string{"event_listener.type": config.ListenerWebhook, "event_listener.app_host": "http://localhost:8000", "scheduled_resync_interval": "60",
			"application.port": "0"})
	r := start(t, s)
	r.waitJob(t, 1)
	st, err := r.client.State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Schedule == nil || st.Schedule.Spec != "every 60m" || st.Schedule.NextRun == nil {
		t.Fatalf("schedule = %+v", st.Schedule)
	}
	rs := b.emu.Integration("test-integration")["resyncState"].(map[string]any)
	next, err := time.Parse(time.RFC3339Nano, rs["nextResync"].(string))
	if err != nil {
		t.Fatalf("Port's nextResync: %v", err)
	}
	if !next.Equal(*st.Schedule.NextRun) || rs["intervalInMinuets"] != float64(60) || rs["status"] != "completed" {
		t.Errorf("Port resync state = %v, want nextResync %v", rs, st.Schedule.NextRun)
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := os.MkdirAll(b.stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A daemon that died left its socket behind.
	if err := daemon.ViaShortPath(daemon.SocketPath(b.stateDir), func(short string) error {
		ln, err := net.Listen("unix", short)
		if err != nil {
			return err
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		return ln.Close()
	}); err != nil {
		t.Fatal(err)
	}

	r := start(t, b.settingsWith(t, map[string]any{"entity_amount": 5, "single_department_run": true},
		map[string]string{"event_listener.type": config.ListenerPolling, "event_listener.resync_on_start": "false"}))
	if _, err := r.client.State(t.Context()); err != nil {
		t.Fatalf("state over the replaced socket: %v", err)
	}
}

func TestSocketPathThatIsNotASocketIsAnError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := os.MkdirAll(b.stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.stateDir, daemon.SocketFile), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := runOnce(t, b.settings(t, map[string]any{"entity_amount": 5}))
	if err == nil || daemon.IsJobFailure(err) {
		t.Fatalf("Run = %v, want a start-up error about the socket file", err)
	}
	if data, err := os.ReadFile(filepath.Join(b.stateDir, daemon.SocketFile)); err != nil || string(data) != "mine" {
		t.Error("the file at the socket path was changed")
	}
}

func TestNoControlSocket(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.settingsWith(t, map[string]any{"entity_amount": 5, "single_department_run": true},
		map[string]string{"event_listener.type": config.ListenerPolling, "control_socket": "false"})
	start(t, s)
	if _, err := os.Stat(daemon.SocketPath(b.stateDir)); !os.IsNotExist(err) {
		t.Errorf("socket exists with control_socket false: %v", err)
	}
	// The CLI cannot read the DB either: it must say so, not hang.
	_, err := store.Open(daemon.StatePath(b.stateDir), store.Options{ReadOnly: true, Timeout: 50 * time.Millisecond})
	if !errors.Is(err, store.ErrLocked) {
		t.Errorf("read-only open while the daemon runs = %v, want ErrLocked", err)
	}
}

func TestBadScheduleIsASettingsError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.settingsWith(t, map[string]any{}, map[string]string{"scheduled_resync_cron": "every day"})
	if _, err := daemon.New(s, daemon.Options{}); err == nil {
		t.Fatal("New accepted a bad cron spec")
	}
}
