// Package resync is the resync job: for every resource of the mapping it
// streams pages from the source, maps them with jq, skips entities the index
// says Port already has, and upserts the rest in bulk; then it reconciles
// and reports the outcome to Port.
//
// Memory is bounded by the pages in flight, never by the number of
// entities: pages move through a bounded channel and each is mapped, diffed,
// written and indexed before its memory is released.
package resync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"oceand/mapping"
	"oceand/port"
	"oceand/sources"
	"oceand/store"
)

// Reporter lets the resync update its job record while it runs.
type Reporter interface {
	// Update changes the record; writes are throttled by the caller.
	Update(fn func(j *store.Job)) error
	// Flush writes the record now.
	Flush() error
}

// Config configures a Resyncer.
type Config struct {
	Port   *port.Client
	Store  *store.Store
	Source sources.Source
	Logger *slog.Logger
	Now    func() time.Time
	// Mapping tunes jq compilation (env allow list).
	Mapping mapping.Options
	// Workers is the number of pages processed at once. Default 4.
	Workers int
	// ScheduledInterval, when set, is reported to Port as the resync
	// interval and used to compute nextResync.
	ScheduledInterval time.Duration
	// NextResync, when set, gives the next scheduled run (the scheduler's
	// stored time), reported instead of now + ScheduledInterval.
	NextResync func() (time.Time, bool)
}

// Resyncer runs resync jobs.
type Resyncer struct {
	cfg    Config
	logger *slog.Logger
	now    func() time.Time
}

// New returns a Resyncer.
func New(cfg Config) *Resyncer {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	return &Resyncer{cfg: cfg, logger: cfg.Logger, now: cfg.Now}
}

// ErrKindsFailed is returned when one or more kinds did not complete.
var ErrKindsFailed = errors.New("resync incomplete")

// Run executes job. It returns nil when every kind completed.
func (r *Resyncer) Run(ctx context.Context, job *store.Job, rep Reporter) (err error) {
	start := r.now()
	if job.StartedAt != nil {
		start = *job.StartedAt
	}
	r.reportState(ctx, port.ResyncRunning, start, nil)
	defer func() {
		end := r.now()
		status := port.ResyncCompleted
		switch {
		case err != nil && ctx.Err() != nil:
			status = port.ResyncAborted
		case err != nil:
			status = port.ResyncFailed
		}
		r.reportState(context.WithoutCancel(ctx), status, start, &end)
	}()

	integration, err := r.cfg.Port.GetIntegration(ctx)
	if err != nil {
		return fmt.Errorf("read mapping from Port: %w", err)
	}
	if !integration.HasConfig() {
		r.logger.Warn("the integration has no mapping in Port; nothing to sync")
		return rep.Update(func(j *store.Job) {
			j.Reconcile = store.Reconcile{State: store.ReconcileSkipped, SkippedReason: "the mapping is empty"}
		})
	}
	cfg, err := mapping.ParseJSON(integration.Config)
	if err != nil {
		return fmt.Errorf("mapping in Port: %w", err)
	}
	m, err := mapping.Compile(cfg, r.cfg.Mapping)
	if err != nil {
		return fmt.Errorf("mapping in Port: %w", err)
	}
	sum := sha256.Sum256(integration.Config)
	if err := rep.Update(func(j *store.Job) {
		j.MappingHash = hex.EncodeToString(sum[:8])
		j.Kinds = make([]store.KindProgress, len(cfg.Resources))
		for i, res := range cfg.Resources {
			j.Kinds[i] = store.KindProgress{Kind: res.Kind, Index: i, State: store.KindPending}
		}
		j.Reconcile = store.Reconcile{State: store.ReconcilePending}
	}); err != nil {
		return err
	}
	opts := port.WriteOptions{
		Merge:                        cfg.EnableMergeEntity,
		CreateMissingRelatedEntities: cfg.CreateMissingRelatedEntities,
		EventType:                    "resync",
		ResyncID:                     fmt.Sprintf("oceand-%d", job.ChainID),
	}
	var failed []string
	for _, rm := range m.Resources() {
		kerr := r.runKind(ctx, job, rep, rm, opts)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if kerr != nil {
			failed = append(failed, rm.KindID())
			r.logger.Error("kind failed", "kind", rm.KindID(), "err", kerr)
		}
	}
	if len(failed) > 0 {
		_ = rep.Update(func(j *store.Job) {
			j.Reconcile = store.Reconcile{State: store.ReconcileSkipped, SkippedReason: "kinds failed: " + strings.Join(failed, ", ")}
		})
		return fmt.Errorf("%w: kinds failed: %s", ErrKindsFailed, strings.Join(failed, ", "))
	}
	return rep.Update(func(j *store.Job) {
		j.Reconcile = store.Reconcile{State: store.ReconcileSkipped, SkippedReason: "stale-entity deletion is not part of this build yet"}
	})
}

// reportState tells Port how the resync is doing. A failure to report is
// logged, not fatal: the job's own record is the source of truth.
func (r *Resyncer) reportState(ctx context.Context, status string, start time.Time, end *time.Time) {
	s := port.ResyncState{Status: status, LastResyncEnd: end}
	if status == port.ResyncRunning {
		st := start.UTC()
		s.LastResyncStart = &st
	}
	if iv := r.cfg.ScheduledInterval; iv > 0 {
		minutes := int(iv / time.Minute)
		next := r.now().Add(iv).UTC()
		s.IntervalInMinuets = &minutes
		s.NextResync = &next
	}
	if r.cfg.NextResync != nil {
		if next, ok := r.cfg.NextResync(); ok {
			next = next.UTC()
			s.NextResync = &next
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := r.cfg.Port.PatchResyncState(ctx, s); err != nil {
		r.logger.Warn("could not report resync state to Port", "status", status, "err", err)
	}
}
