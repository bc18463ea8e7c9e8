// Package daemon wires oceand together: settings, the state store, the Port
// client, start-up registration, the job engine with the resync job, the
// scheduler, the event listener, the control socket, and what Port's UI and
// Prometheus see (log shipping, sync metrics, /metrics). It owns their
// lifecycle.
//
// Start-up order matters: the store is opened first (its lock keeps a
// second daemon out) and the engine recovers a crashed job before anything
// can queue; the control socket and the HTTP server (health, webhook)
// answer while the integration registers with Port, which is retried while
// Port is unreachable; the start trigger is queued before the runner starts, so it
// merges into a pending resume instead of superseding it. Shutdown runs in
// reverse: the listeners and the scheduler stop queueing, then the running
// job is stopped (recorded interrupted, reported aborted to Port) within
// the stop timeout; the logs shipped to Port are flushed last.
package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"oceand/buildinfo"
	"oceand/config"
	"oceand/jobs"
	"oceand/listeners"
	"oceand/logging"
	"oceand/mapping"
	"oceand/metrics"
	"oceand/port"
	"oceand/resync"
	"oceand/scheduler"
	"oceand/sources"
	"oceand/sources/custom"
	"oceand/sources/fake"
	"oceand/store"
)

// DBFile is the name of the state database inside the state directory.
const DBFile = "oceand.db"

// SocketFile is the name of the control socket inside the state directory.
const SocketFile = "oceand.sock"

// DefaultStopTimeout bounds how long a signal waits for the running job.
const DefaultStopTimeout = 5 * time.Second

// Builtin returns the registry of sources compiled into oceand.
func Builtin() *sources.Registry {
	return sources.NewRegistry(fake.Definition(), custom.Definition())
}

// Options are the daemon's injected dependencies.
type Options struct {
	Logger   *slog.Logger
	Redactor *logging.Redactor
	// Registry resolves integration.type; Builtin() when nil.
	Registry *sources.Registry
	// HTTPClient is used for Port; nil builds a default one.
	HTTPClient *http.Client
	// PortRetryWaitMin and PortRetryWaitMax, when set, replace the Port
	// client's backoff bounds (tests shorten them).
	PortRetryWaitMin, PortRetryWaitMax time.Duration
	Now                                func() time.Time
	// StoreNoSync skips fsync on the state database. UNSAFE: benchmarks.
	StoreNoSync bool
	// StopTimeout bounds the wait for the running job at shutdown.
	// Default DefaultStopTimeout.
	StopTimeout time.Duration
	// ProgressInterval is how often job progress is written; zero is the
	// engine's default.
	ProgressInterval time.Duration
	// Ready, when set, is closed once jobs run and the control socket
	// answers (tests and embedders wait on it).
	Ready chan struct{}
	// RegisterRetry is the wait between registration attempts while Port
	// is unreachable at start. Default DefaultRegisterRetry.
	RegisterRetry time.Duration
	// LogShipping tunes the shipping of logs to Port; zero is Ocean's.
	LogShipping LogShipping
}

// DefaultRegisterRetry is how long start-up waits before registering again
// when Port could not be reached.
const DefaultRegisterRetry = time.Minute

// Daemon is one running oceand.
type Daemon struct {
	settings  *config.Settings
	opts      Options
	logger    *slog.Logger
	startedAt time.Time

	store   *store.Store
	port    *port.Client
	source  sources.Definition
	engine  *jobs.Engine
	sched   *scheduler.Scheduler
	lastJob *store.Job

	// watch sees every attempt to reach Port; poll is the polling
	// listener, when that is the type.
	watch *portWatch
	poll  *listeners.Polling
	// regMu serializes registrations after start (re-registering an
	// integration deleted in Port).
	regMu sync.Mutex

	healthMu       sync.Mutex
	registered     bool
	registerErr    error
	listenerHealth func() error
	metrics        *metrics.Metrics
	shipper        *logging.Shipper // nil: logs are not shipped to Port
	logIngestURL   string
}

// New checks the settings and prepares a daemon; Run starts it.
func New(settings *config.Settings, opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = Builtin()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.RegisterRetry <= 0 {
		opts.RegisterRetry = DefaultRegisterRetry
	}
	// The source receives integration.config as its spec makes it:
	// typed, defaulted, checked.
	problems := CheckSettings(settings, opts.Registry)
	if opts.Redactor != nil {
		opts.Redactor.Add(settings.Secrets()...)
	}
	if len(problems) > 0 {
		return nil, &config.ValidationError{Problems: problems}
	}
	def, err := opts.Registry.Lookup(settings.Integration.Type)
	if err != nil {
		return nil, err
	}
	d := &Daemon{settings: settings, opts: opts, logger: opts.Logger, source: def}
	if err := d.setupVisibility(); err != nil {
		return nil, err
	}
	return d, nil
}

// LastJob is the job the ONCE listener waited for, after Run returns.
func (d *Daemon) LastJob() *store.Job { return d.lastJob }

// ErrInterrupted is returned by a ONCE run stopped by a signal: the job is
// recorded interrupted and the next start resumes it.
var ErrInterrupted = errors.New("stopped by a signal before the resync ended")

// Run starts the daemon and blocks until ctx is done (a signal) or, with
// the ONCE listener, until its resync ended. A stop by signal returns nil,
// except for ONCE, which succeeds only if its resync did. A failed ONCE
// resync is a *listeners.JobError.
func (d *Daemon) Run(ctx context.Context) (err error) {
	s := d.settings
	d.startedAt = d.opts.Now()
	once := s.EventListener.Type == config.ListenerOnce
	// Logs are flushed to Port last, as Ocean does.
	defer d.stopShipping()
	d.reportSettings()

	if err := prepareStateDir(s.StateDir, d.logger); err != nil {
		return err
	}
	st, err := store.Open(StatePath(s.StateDir), store.Options{NoSync: d.opts.StoreNoSync})
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("another oceand is running on %s: %w", s.StateDir, err)
	}
	if err != nil {
		return err
	}
	d.store = st
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close state: %w", cerr)
		}
	}()

	src, err := d.source.New(s.Integration.Config, sources.Env{
		Logger:     d.logger.With("component", "source"),
		StateDir:   s.StateDir,
		AddSecrets: d.addSecrets,
	})
	if err != nil {
		return fmt.Errorf("integration.config: %w", err)
	}
	// Every attempt to reach Port goes through the watch: an outage is
	// logged and shown at its first failed attempt.
	hc := d.opts.HTTPClient
	if hc == nil {
		hc = port.NewHTTPClient(time.Minute)
	} else {
		c := *hc
		hc = &c
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	d.watch = &portWatch{next: next, now: d.opts.Now, logger: d.logger.With("component", "port")}
	hc.Transport = d.watch
	pc, err := port.New(port.Config{
		BaseURL:               s.Port.BaseURL,
		ClientID:              s.Port.ClientID,
		ClientSecret:          s.Port.ClientSecret,
		IntegrationType:       s.Integration.Type,
		IntegrationVersion:    buildinfo.Version,
		IntegrationIdentifier: s.Integration.Identifier,
		MaxConcurrentRequests: s.Port.MaxConcurrentRequests,
		Logger:                d.logger.With("component", "port"),
		HTTPClient:            hc,
		RetryWaitMin:          d.opts.PortRetryWaitMin,
		RetryWaitMax:          d.opts.PortRetryWaitMax,
		Now:                   d.opts.Now,
		OnToken:               func(tok string) { d.addSecrets(tok) },
		Observer:              d.metrics,
	})
	if err != nil {
		return err
	}
	d.port = pc
	if d.opts.Redactor != nil {
		d.opts.Redactor.Add(pc.Secrets()...)
	}

	schedCfg := scheduler.Config{
		Store:    st,
		Interval: time.Duration(s.ScheduledResyncInterval) * time.Minute,
		Cron:     s.ScheduledResyncCron,
		Logger:   d.logger.With("component", "scheduler"),
		Now:      d.opts.Now,
	}
	if once {
		// One resync and exit: nothing to schedule.
		schedCfg.Interval, schedCfg.Cron = 0, ""
	}
	// intervalInMinuets for Port: the interval, or a cron spec's period.
	var interval time.Duration
	if probe, err := scheduler.New(scheduler.Config{
		Interval: time.Duration(s.ScheduledResyncInterval) * time.Minute, Cron: s.ScheduledResyncCron,
	}); err == nil {
		interval = time.Duration(probe.IntervalMinutes()) * time.Minute
	}
	sourceHash, err := sourceConfigHash(s)
	if err != nil {
		return err
	}
	rs := resync.New(resync.Config{
		Port:                pc,
		Store:               st,
		Source:              src,
		Logger:              d.logger.With("component", "resync"),
		Now:                 d.opts.Now,
		Mapping:             mapping.Options{EnvAllowList: jqEnvAllowList(s)},
		ScheduledInterval:   interval,
		NextResync:          func() (time.Time, bool) { return d.sched.NextRun() },
		Observer:            d.metrics,
		SendRawDataExamples: s.SendRawDataExamples,
		RedactJSON:          d.redactJSON(),
		SyncMetrics:         s.SendSyncMetrics,
		HeartbeatInterval:   time.Duration(s.StatusHeartbeatIntervalSeconds) * time.Second,
		SourceConfigHash:    sourceHash,
	})
	engine, err := jobs.Open(jobs.Config{
		Store:            st,
		Logger:           d.logger.With("component", "jobs"),
		Now:              d.opts.Now,
		Policy:           jobs.Policy(s.ResyncPolicy),
		HistoryLimit:     s.JobHistoryLimit,
		ProgressInterval: d.opts.ProgressInterval,
		StopTimeout:      d.opts.StopTimeout,
		Run: func(ctx context.Context, j *store.Job, p *jobs.Progress) error {
			err := rs.Run(ctx, j, p)
			if !integrationMissing(err) {
				return err
			}
			// Port lost the integration (deleted, or its data reset):
			// the resync failed reading the mapping, before writing
			// anything. Register as at start, then run it again.
			if rerr := d.reRegister(ctx, err); rerr != nil {
				return errors.Join(err, rerr)
			}
			return rs.Run(ctx, j, p)
		},
		OnFinish: d.metrics.JobFinished,
	})
	if err != nil {
		return err
	}
	d.engine = engine
	if err := d.registerMetrics(st); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	schedCfg.Queue = engine
	if d.sched, err = scheduler.New(schedCfg); err != nil {
		return err
	}

	if s.ControlSocket {
		ctl, err := d.startControl()
		if err != nil {
			return err
		}
		defer ctl.stop()
	}
	// The HTTP server answers before registration: /health/live at once,
	// /health/ready "not ready" with the reason until all is well.
	var httpServer *listeners.HTTPServer
	if !once && (s.EventListener.Type == config.ListenerWebhook || s.ServeHealth) {
		h := &listeners.HTTPServer{
			Addr:    net.JoinHostPort(s.EventListener.BindAddress, strconv.Itoa(s.Application.Port)),
			Secret:  s.EventListener.WebhookSecret,
			Ready:   d.readiness,
			Logger:  d.logger.With("component", "listener"),
			Version: buildinfo.Version,
		}
		if s.EventListener.Type == config.ListenerWebhook {
			h.Queue = engineQueue{engine}
		}
		if err := d.mountMetrics(h); err != nil {
			return err
		}
		if err := h.Start(ctx); err != nil {
			return fmt.Errorf("start the HTTP server: %w", err)
		}
		defer h.Stop()
		httpServer = h
	}
	if err := st.Update(func(tx *store.Tx) error {
		if err := tx.SetValue(store.KeyIdentifier, []byte(s.Integration.Identifier)); err != nil {
			return err
		}
		return tx.SetValue(store.KeyType, []byte(s.Integration.Type))
	}); err != nil {
		return fmt.Errorf("store the integration: %w", err)
	}
	if err := d.registerUntilDone(ctx, once); err != nil {
		return fmt.Errorf("register integration: %w", err)
	}
	if err := d.startShipping(); err != nil {
		return err
	}

	// Queued before the runner starts: it merges into a pending resume.
	var start jobs.Enqueued
	if once || s.EventListener.ResyncOnStart {
		reason := "resyncOnStart"
		if once {
			reason = "ONCE event listener"
		}
		// The start job records Port's current mapping hash and resync
		// request, so the first poll does not queue the same resync again.
		state, serr := listeners.StartState(ctx, pc)
		if serr != nil {
			d.logger.Warn("could not read the resync request at start; the first poll may queue one more resync", "err", serr)
			state = nil
		}
		if start, err = engine.Enqueue(jobs.Request{Trigger: jobs.TriggerStart, Reason: reason, State: state}); err != nil {
			return err
		}
	}
	if err := engine.Start(ctx); err != nil {
		return err
	}
	defer func() {
		if serr := d.stopEngine(); serr != nil && err == nil {
			err = serr
		}
	}()
	if httpServer != nil {
		// Stopped before the engine, like the listeners: no webhook
		// reaches a stopping engine (Stop is idempotent).
		defer httpServer.Stop()
	}

	if once {
		d.ready()
		job, werr := (&listeners.Once{Queue: engine}).Wait(ctx, start.Job.ID)
		d.lastJob = job
		if werr != nil && ctx.Err() != nil {
			return fmt.Errorf("job %d: %w; the next start resumes it", start.Job.ID, ErrInterrupted)
		}
		return werr
	}

	if err := d.sched.Start(ctx); err != nil {
		return err
	}
	defer d.sched.Stop()
	if d.sched.Enabled() {
		if next, ok := d.sched.NextRun(); ok {
			d.logger.Info("scheduled resyncs", "schedule", d.sched.Describe(), "next", next)
		} else {
			d.logger.Info("scheduled resyncs", "schedule", d.sched.Describe())
		}
	}
	l, err := newListener(ctx, ListenerDeps{
		Settings: s, Queue: engine, Port: pc, Store: st, AddSecrets: d.addSecrets,
		Logger: d.logger.With("component", "listener"), Now: d.opts.Now,
		OnMissing: d.integrationLost,
	})
	if err != nil {
		return err
	}
	if l != nil {
		d.healthMu.Lock()
		d.listenerHealth, d.poll = l.health, l.poll
		d.healthMu.Unlock()
		if err := l.Start(ctx); err != nil {
			return fmt.Errorf("start %s listener: %w", s.EventListener.Type, err)
		}
		defer l.Stop()
	}
	d.ready()
	d.logger.Info("oceand is running", "integration", s.Integration.Identifier, "listener", s.EventListener.Type, "policy", engine.Policy())
	<-ctx.Done()
	d.logger.Info("stopping", "cause", context.Cause(ctx))
	return nil
}

// integrationLost is the polling listener finding the integration gone
// from Port: register it again and, as at start, queue the start resync.
func (d *Daemon) integrationLost(ctx context.Context, cause error) error {
	if err := d.reRegister(ctx, cause); err != nil {
		return err
	}
	if !d.settings.EventListener.ResyncOnStart {
		return nil
	}
	state, err := listeners.StartState(ctx, d.port)
	if err != nil {
		return fmt.Errorf("read the integration registered again: %w", err)
	}
	out, err := d.engine.Enqueue(jobs.Request{Trigger: jobs.TriggerStart, Reason: "the integration was registered again in Port", State: state})
	if err != nil {
		return err
	}
	if out.Job != nil {
		d.logger.Info("queued a resync for the integration registered again", "job", out.Job.ID)
	}
	return nil
}

// redactJSON masks secrets in raw data examples; nil without a redactor.
func (d *Daemon) redactJSON() func([]byte) ([]byte, error) {
	if d.opts.Redactor == nil {
		return nil
	}
	return d.opts.Redactor.JSON
}

func (d *Daemon) addSecrets(secrets ...string) {
	if d.opts.Redactor != nil {
		d.opts.Redactor.Add(secrets...)
	}
}

func (d *Daemon) ready() {
	if d.opts.Ready != nil {
		close(d.opts.Ready)
	}
}

// stopEngine stops the running job within the stop timeout. A job that
// did not stop in time is recorded interrupted by the engine, and Port is
// told it was aborted here, since the resync could not say so itself.
func (d *Daemon) stopEngine() error {
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.StopTimeout)
	defer cancel()
	err := d.engine.Shutdown(ctx)
	if !errors.Is(err, jobs.ErrStopTimeout) {
		return err
	}
	d.logger.Error("the running job did not stop in time; exiting anyway, the next start resumes it", "err", err)
	end := d.opts.Now().UTC()
	pctx, pcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer pcancel()
	if _, perr := d.port.PatchResyncState(pctx, port.ResyncState{Status: port.ResyncAborted, LastResyncEnd: &end}); perr != nil {
		d.logger.Warn("could not report the aborted resync to Port", "err", perr)
	}
	return nil
}

// reportSettings logs, once at start-up, the settings warnings (unknown
// keys, unset template variables, keys the source's spec does not know)
// and the settings given that oceand accepts but does not act on.
func (d *Daemon) reportSettings() {
	for _, w := range d.settings.Warnings() {
		d.logger.Warn("settings: " + w.String())
	}
	ignored := d.settings.Ignored()
	if len(ignored) == 0 {
		return
	}
	keys := make([]string, len(ignored))
	for i, e := range ignored {
		keys[i] = e.Key + " (" + e.Ignored + ")"
	}
	d.logger.Warn("settings accepted for compatibility with Ocean but not acted on by oceand", "settings", keys)
}

// jqEnvAllowList is what jq's env may read: the allow list, or nothing
// when Ocean's allowEnvironmentVariablesJqAccess is false.
func jqEnvAllowList(s *config.Settings) []string {
	if !s.AllowEnvironmentVariablesJQAccess {
		return nil
	}
	return s.JQEnvAllowList
}

// IsJobFailure reports whether err is a resync that ran and did not succeed
// (as opposed to the daemon failing to start).
func IsJobFailure(err error) bool {
	var je *listeners.JobError
	return errors.As(err, &je) || errors.Is(err, ErrInterrupted)
}

// StatePath returns the database path for a state directory.
func StatePath(stateDir string) string { return filepath.Join(stateDir, DBFile) }

// SocketPath returns the control socket path for a state directory.
func SocketPath(stateDir string) string { return filepath.Join(stateDir, SocketFile) }

// sourceConfigHash identifies integration.config, the source's settings, in
// its printable form: sensitive values are masked, so job records hold no
// hash of a secret (a changed secret alone does not stop a resume).
func sourceConfigHash(s *config.Settings) (string, error) {
	type setting struct {
		Key   string `json:"k"`
		Value any    `json:"v"`
	}
	var settings []setting
	for _, e := range s.Entries() {
		if e.Key == "integration.config" || strings.HasPrefix(e.Key, "integration.config.") {
			settings = append(settings, setting{e.Key, e.Value})
		}
	}
	b, err := json.Marshal(settings)
	if err != nil {
		return "", fmt.Errorf("hash integration.config: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}
