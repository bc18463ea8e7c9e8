// Package daemon wires oceand together: settings, the state store, the Port
// client, start-up registration, the job engine with the resync job, and the
// event listener. It owns their lifecycle.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"oceand/buildinfo"
	"oceand/config"
	"oceand/jobs"
	"oceand/listeners"
	"oceand/logging"
	"oceand/mapping"
	"oceand/port"
	"oceand/resync"
	"oceand/sources"
	"oceand/sources/fake"
	"oceand/store"
)

// DBFile is the name of the state database inside the state directory.
const DBFile = "oceand.db"

// Builtin returns the registry of sources compiled into oceand.
func Builtin() *sources.Registry {
	return sources.NewRegistry(fake.Definition())
}

// Options are the daemon's injected dependencies.
type Options struct {
	Logger   *slog.Logger
	Redactor *logging.Redactor
	// Registry resolves integration.type; Builtin() when nil.
	Registry *sources.Registry
	// HTTPClient is used for Port; nil builds a default one.
	HTTPClient *http.Client
	Now        func() time.Time
	// StoreNoSync skips fsync on the state database. UNSAFE: benchmarks.
	StoreNoSync bool
}

// Daemon is one running oceand.
type Daemon struct {
	settings *config.Settings
	opts     Options
	logger   *slog.Logger

	store   *store.Store
	port    *port.Client
	source  sources.Definition
	engine  *jobs.Engine
	lastJob *store.Job
}

// New checks the settings and prepares a daemon; Run starts it.
func New(settings *config.Settings, opts Options) (*Daemon, error) {
	if err := settings.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = Builtin()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	def, err := opts.Registry.Lookup(settings.Integration.Type)
	if err != nil {
		return nil, err
	}
	// The source receives integration.config as its spec makes it:
	// typed, defaulted, checked.
	if err := settings.ApplySpec(def.Defaults.Spec); err != nil {
		return nil, err
	}
	if opts.Redactor != nil {
		opts.Redactor.Add(settings.Secrets()...)
	}
	return &Daemon{settings: settings, opts: opts, logger: opts.Logger, source: def}, nil
}

// LastJob is the job the ONCE listener ran, after Run returns.
func (d *Daemon) LastJob() *store.Job { return d.lastJob }

// Run starts the daemon and blocks until ctx is done or, with the ONCE
// listener, until its resync ended. A failed ONCE resync is an error
// (*listeners.JobError).
func (d *Daemon) Run(ctx context.Context) error {
	s := d.settings
	if s.EventListener.Type != config.ListenerOnce {
		return fmt.Errorf("eventListener.type %s is not supported by this build yet; use ONCE", s.EventListener.Type)
	}
	d.reportSettings()
	st, err := store.Open(filepath.Join(s.StateDir, DBFile), store.Options{NoSync: d.opts.StoreNoSync})
	if err != nil {
		return err
	}
	d.store = st
	defer st.Close()

	src, err := d.source.New(s.Integration.Config, d.logger)
	if err != nil {
		return fmt.Errorf("integration.config: %w", err)
	}
	pc, err := port.New(port.Config{
		BaseURL:               s.Port.BaseURL,
		ClientID:              s.Port.ClientID,
		ClientSecret:          s.Port.ClientSecret,
		IntegrationType:       s.Integration.Type,
		IntegrationVersion:    buildinfo.Version,
		IntegrationIdentifier: s.Integration.Identifier,
		MaxConcurrentRequests: s.Port.MaxConcurrentRequests,
		Logger:                d.logger.With("component", "port"),
		HTTPClient:            d.opts.HTTPClient,
		Now:                   d.opts.Now,
	})
	if err != nil {
		return err
	}
	d.port = pc
	if err := d.register(ctx); err != nil {
		return fmt.Errorf("register integration: %w", err)
	}
	if d.opts.Redactor != nil {
		d.opts.Redactor.Add(pc.Secrets()...)
	}

	rs := resync.New(resync.Config{
		Port:              pc,
		Store:             st,
		Source:            src,
		Logger:            d.logger.With("component", "resync"),
		Now:               d.opts.Now,
		Mapping:           mapping.Options{EnvAllowList: jqEnvAllowList(s)},
		ScheduledInterval: time.Duration(s.ScheduledResyncInterval) * time.Minute,
	})
	d.engine = jobs.New(jobs.Config{
		Store:        st,
		Logger:       d.logger.With("component", "jobs"),
		Now:          d.opts.Now,
		HistoryLimit: s.JobHistoryLimit,
		Run: func(ctx context.Context, j *store.Job, p *jobs.Progress) error {
			return rs.Run(ctx, j, p)
		},
	})
	if err := d.engine.Start(ctx); err != nil {
		return err
	}
	defer d.engine.Stop()

	job, err := (&listeners.Once{Queue: d.engine}).Run(ctx)
	d.lastJob = job
	return err
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
	return errors.As(err, &je)
}

// StatePath returns the database path for a state directory.
func StatePath(stateDir string) string { return filepath.Join(stateDir, DBFile) }
