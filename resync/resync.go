// Package resync is the resync job: for every resource of the mapping it
// streams pages from the source, maps them with jq, skips entities the index
// says Port already has, and upserts the rest in bulk; then it reconciles
// (deletes what the source no longer has) and reports the outcome to Port.
//
// Memory is bounded by the pages and batches in flight, never by the number
// of entities: pages move through bounded channels, and every set that grows
// with the catalog (what this resync saw, what is stale, which entities are
// relation targets) lives in the state database, not in memory.
package resync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
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
	// Workers is the number of pages mapped at once. Default GOMAXPROCS
	// (at least 2).
	Workers int
	// InFlightBatches bounds the bulk upserts a kind has started and not
	// finished; the Port client's own limit (port.maxConcurrentRequests)
	// decides how many are on the wire. Default DefaultInFlightBatches.
	InFlightBatches int
	// IndexFlushEntries is how many index changes are buffered before
	// they are written in one transaction. Default 32768 (a few MB):
	// larger transactions rewrite each index page fewer times.
	IndexFlushEntries int
	// IndexFlushInterval is the longest buffered index changes (and the
	// counts that depend on them) wait before they are written. It bounds
	// what a crash makes the resume send again. Default 250ms.
	IndexFlushInterval time.Duration
	// ListPageSize is the page size of Port's datasource listing. Default
	// 5000, as Ocean.
	ListPageSize int
	// ScheduledInterval, when set, is reported to Port as the resync
	// interval and used to compute nextResync.
	ScheduledInterval time.Duration
	// NextResync, when set, gives the next scheduled run (the scheduler's
	// stored time), reported instead of now + ScheduledInterval.
	NextResync func() (time.Time, bool)

	// Observer, when set, sees kinds and reconciliations end (metrics).
	Observer Observer
	// SendRawDataExamples sends the first ExamplesPerKind raw items of
	// each kind to Port (Ocean's sendRawDataExamples), each masked by
	// RedactJSON.
	SendRawDataExamples bool
	// RedactJSON masks secrets in an example; nil sends them as they are.
	RedactJSON func([]byte) ([]byte, error)
	// SyncMetrics reports Ocean's sync metrics (a POST at start, a PUT per
	// kind and for the reconciliation) and a heartbeat every
	// HeartbeatInterval to the metrics ingest Port names.
	SyncMetrics bool
	// HeartbeatInterval defaults to DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// VisibilityTimeout bounds one example, metrics or heartbeat request.
	// Default 10s.
	VisibilityTimeout time.Duration
	// VisibilityDrain bounds how long the end of a job waits for its last
	// reports to Port's UI routes. Default 5s.
	VisibilityDrain time.Duration
	// SourceConfigHash identifies the source's settings (a hash of
	// integration.config). Jobs record it: a resume whose source settings
	// changed resyncs every kind as a new chain, like one whose mapping
	// changed.
	SourceConfigHash string
}

// DefaultInFlightBatches is the default of Config.InFlightBatches.
const DefaultInFlightBatches = 16

// Resyncer runs resync jobs.
type Resyncer struct {
	cfg    Config
	logger *slog.Logger
	now    func() time.Time
	bodies bodyPool
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
		cfg.Workers = max(2, runtime.GOMAXPROCS(0))
	}
	if cfg.InFlightBatches <= 0 {
		cfg.InFlightBatches = DefaultInFlightBatches
	}
	if cfg.IndexFlushInterval <= 0 {
		cfg.IndexFlushInterval = 250 * time.Millisecond
	}
	if cfg.IndexFlushEntries <= 0 {
		cfg.IndexFlushEntries = 32768
	}
	if cfg.ListPageSize <= 0 {
		cfg.ListPageSize = 5000
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.VisibilityTimeout <= 0 {
		cfg.VisibilityTimeout = 10 * time.Second
	}
	if cfg.VisibilityDrain <= 0 {
		cfg.VisibilityDrain = 5 * time.Second
	}
	if cfg.RedactJSON == nil {
		cfg.RedactJSON = func(b []byte) ([]byte, error) { return b, nil }
	}
	return &Resyncer{cfg: cfg, logger: cfg.Logger, now: cfg.Now}
}

// ErrKindsFailed is returned when one or more kinds did not complete.
var ErrKindsFailed = errors.New("resync incomplete")

// jobRun is one job while it runs.
type jobRun struct {
	r      *Resyncer
	st     *store.Store
	job    *store.Job
	rep    Reporter
	logger *slog.Logger

	cfg     *mapping.Config
	mapping *mapping.Mapping
	opts    port.WriteOptions
	optsTag []byte

	chain  uint64
	before time.Time
	dry    bool
	// protectTargets: stale entities that kept entities relate to are
	// not deleted (see reconcile).
	protectTargets bool

	chainSpool *store.Spool // what the chain produced, relation targets, taints
	jobSpool   *store.Spool // stale and listed sets of this job's reconciliation
	writer     *indexWriter
	seen       *seenSet

	mu     sync.Mutex
	report store.JobReport

	vis *visibility // nil: nothing is sent for Port's UI
}

// Run executes job. It returns nil when every kind and the reconciliation
// completed, the context's cause when the job was cancelled, and an error
// otherwise.
func (r *Resyncer) Run(ctx context.Context, job *store.Job, rep Reporter) (err error) {
	start := r.now()
	if job.StartedAt != nil {
		start = *job.StartedAt
	}
	before := start
	if job.ChainStartedAt != nil {
		before = *job.ChainStartedAt
	}
	chain := job.ChainID
	if chain == 0 {
		chain = job.ID
	}
	j := &jobRun{
		r: r, st: r.cfg.Store, job: job, rep: rep, chain: chain, before: before, dry: job.DryRun,
		logger:     r.logger.With("job", job.ID),
		chainSpool: r.cfg.Store.Spool("chain-" + strconv.FormatUint(chain, 10)),
		jobSpool:   r.cfg.Store.Spool("job-" + strconv.FormatUint(job.ID, 10)),
		report:     store.JobReport{JobID: job.ID, DryRun: job.DryRun},
	}
	if err := j.dropOtherSpools(); err != nil {
		return err
	}
	j.vis = j.newVisibility(ctx)
	defer j.vis.close()
	defer func() {
		if derr := j.jobSpool.Drop(); derr != nil && err == nil {
			err = fmt.Errorf("drop reconciliation spool: %w", derr)
		}
		// A cancelled job may be resumed: its chain keeps what it saw.
		if ctx.Err() == nil {
			if derr := j.chainSpool.Drop(); derr != nil && err == nil {
				err = fmt.Errorf("drop chain spool: %w", derr)
			}
		}
	}()
	if !j.dry {
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
	}
	err = j.run(ctx)
	j.vis.reconcileEnded(j, err)
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if perr := j.saveReport(); perr != nil && err == nil {
		err = perr
	}
	return err
}

func (j *jobRun) run(ctx context.Context) error {
	integration, err := j.r.cfg.Port.GetIntegration(ctx)
	if err != nil {
		return fmt.Errorf("read mapping from Port: %w", err)
	}
	if !integration.HasConfig() {
		j.logger.Warn("the integration has no mapping in Port; nothing to sync")
		return j.skipReconcile("the integration has no mapping; nothing synced or deleted")
	}
	cfg, err := mapping.ParseJSON(integration.Config)
	if err != nil {
		return fmt.Errorf("mapping in Port: %w", err)
	}
	m, err := mapping.Compile(cfg, j.r.cfg.Mapping)
	if err != nil {
		return fmt.Errorf("mapping in Port: %w", err)
	}
	j.cfg, j.mapping = cfg, m
	mappingHash := MappingHash(integration.Config)
	done, err := j.resumedKinds(mappingHash)
	if err != nil {
		return err
	}
	j.protectTargets = cfg.CreateMissingRelatedEntities || cfg.DeleteDependentEntities
	j.opts = port.WriteOptions{
		Merge:                        cfg.EnableMergeEntity,
		CreateMissingRelatedEntities: cfg.CreateMissingRelatedEntities,
		EventType:                    "resync",
		ResyncID:                     fmt.Sprintf("oceand-%d", j.chain),
	}
	j.optsTag = []byte("|merge=" + strconv.FormatBool(j.opts.Merge) + "|cmr=" + strconv.FormatBool(j.opts.CreateMissingRelatedEntities))
	j.writer = newIndexWriter(j)
	stopWriter := j.writer.run(ctx, j.r.cfg.IndexFlushInterval)
	defer stopWriter()
	// The chain will produce about what the index holds: sizing the
	// seen set for it spares growing it (twice its size, for a moment).
	indexed, err := j.st.CountEntities()
	if err != nil {
		return fmt.Errorf("read entity index: %w", err)
	}
	expect := 0
	for _, n := range indexed {
		expect += n
	}
	j.seen = newSeenSet(expect)
	if len(done) > 0 {
		saved, ok, err := loadSeenSet(j.chainSpool)
		switch {
		case err != nil:
			return err
		case ok:
			j.seen = saved
		default:
			j.logger.Warn("what the interrupted job produced was not saved; resyncing every kind", "resumes", j.job.ResumeOf)
			done = map[int]store.KindProgress{}
		}
	}
	if err := j.rep.Update(func(jb *store.Job) {
		jb.MappingHash = mappingHash
		jb.SourceConfigHash = j.r.cfg.SourceConfigHash
		jb.Kinds = make([]store.KindProgress, len(cfg.Resources))
		for i, res := range cfg.Resources {
			jb.Kinds[i] = store.KindProgress{Kind: res.Kind, Index: i, State: store.KindPending}
			if kp, ok := done[i]; ok {
				jb.Kinds[i] = kp
				jb.Totals.Add(kp.Counts)
			}
		}
		jb.Reconcile = store.Reconcile{State: store.ReconcilePending}
	}); err != nil {
		return err
	}
	j.vis.started(integration, m, done)
	if len(cfg.Resources) == 0 {
		j.logger.Warn("the mapping has no resources; nothing to sync")
		return j.skipReconcile("the mapping has no resources; nothing deleted")
	}
	if scoped, ok := j.r.cfg.Source.(sources.ResyncScoped); ok {
		resources := make([]sources.Resource, 0, len(m.Resources()))
		for _, rm := range m.Resources() {
			resources = append(resources, sources.Resource{Kind: rm.Resource.Kind, Index: rm.Index, Selector: rm.Resource.Selector.Raw})
		}
		if err := scoped.BeginResync(ctx, resources); err != nil {
			return fmt.Errorf("prepare the source: %w", err)
		}
		defer func() {
			if err := scoped.EndResync(); err != nil {
				j.logger.Warn("release the source's resync state", "err", err)
			}
		}()
	}
	var failed []string
	for _, rm := range m.Resources() {
		if _, ok := done[rm.Index]; ok {
			j.logger.Info("kind completed by the interrupted job; not fetched again", "kind", rm.KindID(), "resumes", j.job.ResumeOf)
			continue
		}
		kerr := j.runKind(ctx, rm, false)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if kerr != nil {
			failed = append(failed, rm.KindID())
			j.logger.Error("kind failed", "kind", rm.KindID(), "err", kerr)
		}
	}
	if !j.dry {
		if err := j.st.TrimItemResources(len(cfg.Resources)); err != nil {
			return fmt.Errorf("trim item pages: %w", err)
		}
	}
	if len(failed) > 0 {
		reason := "kinds failed (" + strings.Join(failed, ", ") + "): the fetched data is incomplete, so nothing was deleted"
		if err := j.skipReconcile(reason); err != nil {
			return err
		}
		return fmt.Errorf("%w: kinds failed: %s", ErrKindsFailed, strings.Join(failed, ", "))
	}
	return j.reconcile(ctx)
}

// resumedKinds returns the kinds the interrupted job of a resume completed,
// by index. A resume is valid only while the mapping and the source's
// settings are those of the interrupted job: otherwise what its kinds
// fetched may be out of date, and this job starts a new chain of its own.
func (j *jobRun) resumedKinds(mappingHash string) (map[int]store.KindProgress, error) {
	done := map[int]store.KindProgress{}
	if j.job.ResumeOf == 0 {
		return done, nil
	}
	prev, err := j.st.GetJob(j.job.ResumeOf)
	if err != nil {
		return done, j.newChain(fmt.Sprintf("cannot read the interrupted job %d (%v)", j.job.ResumeOf, err))
	}
	switch {
	case prev.MappingHash == "":
		// It stopped before it read the mapping: it synced nothing.
		return done, nil
	case prev.MappingHash != mappingHash:
		return done, j.newChain(fmt.Sprintf("the mapping changed since the interrupted job %d (%s, now %s)", prev.ID, prev.MappingHash, mappingHash))
	case prev.SourceConfigHash != j.r.cfg.SourceConfigHash:
		return done, j.newChain(fmt.Sprintf("the source settings (integration.config) changed since the interrupted job %d", prev.ID))
	}
	for _, kp := range prev.Kinds {
		if kp.State == store.KindCompleted {
			done[kp.Index] = kp
		}
	}
	return done, nil
}

// newChain makes this job the first of a new chain instead of a resume:
// every kind is fetched, what the interrupted chain saw is forgotten, and
// reconciliation's `before` is this job's start. The job says why.
func (j *jobRun) newChain(why string) error {
	j.logger.Warn("not resuming: "+why+"; resyncing every kind as a new chain", "resumes", j.job.ResumeOf)
	if err := j.chainSpool.Drop(); err != nil {
		return fmt.Errorf("drop chain spool: %w", err)
	}
	start := j.r.now().UTC()
	if j.job.StartedAt != nil {
		start = *j.job.StartedAt
	}
	j.chain, j.before = j.job.ID, start
	j.chainSpool = j.st.Spool("chain-" + strconv.FormatUint(j.chain, 10))
	return j.rep.Update(func(jb *store.Job) {
		jb.ChainID, jb.ChainStartedAt = jb.ID, &start
		jb.Reasons = append(jb.Reasons, "not resumed: "+why+"; a new chain")
	})
}

func (j *jobRun) skipReconcile(reason string) error {
	return j.rep.Update(func(jb *store.Job) {
		jb.Reconcile = store.Reconcile{State: store.ReconcileSkipped, SkippedReason: reason}
	})
}

// dropOtherSpools deletes spools left by jobs and chains that are over: at
// most one job runs, so only this job's and its chain's are alive.
func (j *jobRun) dropOtherSpools() error {
	names, err := j.st.Spools()
	if err != nil {
		return err
	}
	for _, name := range names {
		if name == j.chainSpool.Name() || name == j.jobSpool.Name() {
			continue
		}
		if err := j.st.Spool(name).Drop(); err != nil {
			return fmt.Errorf("drop spool %s: %w", name, err)
		}
	}
	return nil
}

func (j *jobRun) saveReport() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.report.Blueprints) == 0 && j.report.Restored == 0 && !j.dry {
		return nil
	}
	if err := j.st.PutReport(&j.report); err != nil {
		return fmt.Errorf("store resync report: %w", err)
	}
	return j.st.PruneReports()
}

// MappingHash identifies a mapping (the integration's config as Port
// returns it) by content, whatever its key order. Jobs record it; a resume
// whose mapping hash changed resyncs every kind.
func MappingHash(raw json.RawMessage) string {
	var v any
	canonical := []byte(raw)
	if json.Unmarshal(raw, &v) == nil {
		if b, err := json.Marshal(v); err == nil {
			canonical = b
		}
	}
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:8])
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
