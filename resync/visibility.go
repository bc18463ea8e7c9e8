package resync

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"oceand/mapping"
	"oceand/port"
	"oceand/store"
)

// Observer sees how kinds and reconciliations end, for metrics. Calls come
// from the resync's goroutine and must not block.
type Observer interface {
	// KindFinished: a kind of the mapping completed, failed or was
	// aborted; kp is its record.
	KindFinished(kp store.KindProgress)
	// ReconcileFinished: the reconciliation ended (completed, failed or
	// skipped); rec is its record.
	ReconcileFinished(rec store.Reconcile)
}

// ExamplesPerKind is how many raw items of each kind are sent to Port as
// examples per resync, as Ocean.
const ExamplesPerKind = 5

// DefaultHeartbeatInterval is Ocean's statusHeartbeatIntervalSeconds.
const DefaultHeartbeatInterval = 10 * time.Second

// sendQueue bounds what waits to be sent to Port's UI routes; beyond it a
// report is dropped (and logged): visibility never holds up a resync.
const sendQueue = 64

// visibility is what one job sends for Port's UI: raw data examples, sync
// metrics and heartbeats. Every send runs on one background goroutine,
// in order, so a slow or hung Port costs the kinds nothing; failures are
// logged and never fail the resync.
type visibility struct {
	j       *jobRun
	logger  *slog.Logger
	eventID string
	ingest  string // metrics ingest root; "" sends no sync metrics

	queue  chan visSend
	jobCtx context.Context
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	stopBeat  chan struct{}
	beatDone  chan struct{}
	beatQueue atomic.Bool // a heartbeat waits in the queue: no second one
	closeOnce sync.Once
}

type visSend struct {
	what string
	fn   func(ctx context.Context) error
}

// newVisibility starts the sender of a job that writes to Port; nil when
// the job sends nothing (a dry run, or everything turned off).
func (j *jobRun) newVisibility(ctx context.Context) *visibility {
	c := j.r.cfg
	if j.dry || (!c.SendRawDataExamples && !c.SyncMetrics) {
		return nil
	}
	vctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	v := &visibility{
		j: j, logger: j.logger.With("visibility", true), eventID: newEventID(),
		queue: make(chan visSend, sendQueue), jobCtx: ctx, ctx: vctx, cancel: cancel, done: make(chan struct{}),
	}
	go v.loop()
	return v
}

func (v *visibility) loop() {
	defer close(v.done)
	for s := range v.queue {
		ctx, cancel := context.WithTimeout(v.ctx, v.j.r.cfg.VisibilityTimeout)
		err := s.fn(ctx)
		cancel()
		if err != nil {
			v.logger.Warn("could not send "+s.what+" to Port", "err", err)
		}
	}
}

// enqueue hands a send to the background goroutine, or drops it when the
// queue is full; it reports whether the send was queued.
func (v *visibility) enqueue(what string, fn func(ctx context.Context) error) bool {
	if v == nil {
		return false
	}
	select {
	case v.queue <- visSend{what: what, fn: fn}:
		return true
	default:
		v.logger.Warn("Port is slow to take "+what+"; not sent", "queued", sendQueue)
		return false
	}
}

// close stops the heartbeat and waits, at most VisibilityDrain (a second
// when the job was stopped: the daemon may be shutting down), for what is
// queued; what is left then is given up.
func (v *visibility) close() {
	if v == nil {
		return
	}
	v.closeOnce.Do(func() {
		if v.stopBeat != nil {
			close(v.stopBeat)
			<-v.beatDone
		}
		close(v.queue)
		drain := v.j.r.cfg.VisibilityDrain
		if v.jobCtx.Err() != nil {
			drain = min(drain, time.Second)
		}
		t := time.NewTimer(drain)
		defer t.Stop()
		select {
		case <-v.done:
		case <-t.C:
			v.logger.Warn("Port's UI routes did not take the last reports in time; given up", "waited", drain)
			v.cancel()
			<-v.done
		}
		v.cancel()
	})
}

// started announces the resync's kinds (POST syncMetrics) and starts the
// heartbeat. done holds the kinds an interrupted job already completed.
func (v *visibility) started(integration *port.Integration, m *mapping.Mapping, done map[int]store.KindProgress) {
	if v == nil || !v.j.r.cfg.SyncMetrics {
		return
	}
	v.ingest = integration.MetricIngestURL()
	if v.ingest == "" {
		v.logger.Debug("Port gave no metrics ingest URL; no sync metrics are sent")
		return
	}
	kinds := make([]port.SyncKindMetrics, 0, len(m.Resources())+1)
	for _, rm := range m.Resources() {
		state, counts := port.SyncPending, port.SyncCounts{}
		if kp, ok := done[rm.Index]; ok {
			state, counts = port.SyncCompleted, syncCounts(kp.Counts)
		}
		var took time.Duration
		if kp, ok := done[rm.Index]; ok {
			took = kp.FinishedAt.Sub(kp.StartedAt)
		}
		kinds = append(kinds, port.NewSyncKindMetrics(v.eventID, rm.KindID(), rm.Resource.Kind, rm.Index, state, took, counts))
	}
	kinds = append(kinds, port.NewSyncKindMetrics(v.eventID, port.ReconciliationKind, port.ReconciliationKind, 0, port.SyncPending, 0, port.SyncCounts{}))
	pc, ingest := v.j.r.cfg.Port, v.ingest
	v.enqueue("sync metrics", func(ctx context.Context) error { return pc.PostSyncMetrics(ctx, ingest, kinds) })
	v.stopBeat, v.beatDone = make(chan struct{}), make(chan struct{})
	go v.heartbeat()
}

func (v *visibility) heartbeat() {
	defer close(v.beatDone)
	t := time.NewTicker(v.j.r.cfg.HeartbeatInterval)
	defer t.Stop()
	pc, ingest, event := v.j.r.cfg.Port, v.ingest, v.eventID
	for {
		select {
		case <-v.stopBeat:
			return
		case <-t.C:
			// While Port is slow, heartbeats do not pile up in front of
			// the kinds' reports: one waits at a time.
			if !v.beatQueue.CompareAndSwap(false, true) {
				continue
			}
			queued := v.enqueue("heartbeat", func(ctx context.Context) error {
				v.beatQueue.Store(false)
				return pc.PostHeartbeat(ctx, ingest, event)
			})
			if !queued {
				v.beatQueue.Store(false)
			}
		}
	}
}

// kindEnded reports a kind's end: PUT its sync metrics, send the examples
// collected and not sent yet, and tell the observer.
func (v *visibility) kindEnded(k *kindRun, kp store.KindProgress) {
	if obs := k.j.r.cfg.Observer; obs != nil && !k.j.dry {
		obs.KindFinished(kp)
	}
	if v == nil {
		return
	}
	k.sendExamples()
	if v.ingest == "" {
		return
	}
	m := port.NewSyncKindMetrics(v.eventID, k.rm.KindID(), k.rm.Resource.Kind, k.rm.Index, syncState(kp.State),
		kp.FinishedAt.Sub(kp.StartedAt), syncCounts(kp.Counts))
	pc, ingest := v.j.r.cfg.Port, v.ingest
	v.enqueue("sync metrics of "+k.rm.KindID(), func(ctx context.Context) error { return pc.PutKindSyncMetrics(ctx, ingest, m) })
}

// reconcileEnded reports the reconciliation's end (__reconciliation__)
// and, for a stopped job, the kinds it never reached; runErr is the job's
// outcome so far.
func (v *visibility) reconcileEnded(j *jobRun, runErr error) {
	var rec store.Reconcile
	var pending []store.KindProgress
	if err := j.rep.Update(func(jb *store.Job) {
		rec = jb.Reconcile
		for _, kp := range jb.Kinds {
			if kp.State == store.KindPending {
				pending = append(pending, kp)
			}
		}
	}); err != nil {
		j.logger.Debug("read the reconciliation's record", "err", err)
	}
	if obs := j.r.cfg.Observer; obs != nil && !j.dry && rec.State != store.ReconcilePending && rec.State != "" {
		obs.ReconcileFinished(rec)
	}
	if v == nil || v.ingest == "" {
		return
	}
	pc, ingest := v.j.r.cfg.Port, v.ingest
	if v.jobCtx.Err() != nil {
		// Stopped: the kinds never reached are aborted too, as Ocean
		// reports them, so Port's UI shows none of them pending.
		for _, kp := range pending {
			m := port.NewSyncKindMetrics(v.eventID, fmt.Sprintf("%s-%d", kp.Kind, kp.Index), kp.Kind, kp.Index, port.SyncAborted, 0, port.SyncCounts{})
			v.enqueue("sync metrics of "+m.KindIdentifier, func(ctx context.Context) error { return pc.PutKindSyncMetrics(ctx, ingest, m) })
		}
	}
	state := port.SyncAborted
	switch rec.State {
	case store.ReconcileCompleted:
		state = port.SyncCompleted
	case store.ReconcileSkipped:
		// Skipped because kinds failed is a failed sync for Port's UI.
		state = port.SyncCompleted
		if runErr != nil {
			state = port.SyncFailed
		}
	case store.ReconcileFailed:
		state = port.SyncFailed
	}
	var took time.Duration
	if !rec.StartedAt.IsZero() && !rec.FinishedAt.IsZero() {
		took = rec.FinishedAt.Sub(rec.StartedAt)
	}
	m := port.NewSyncKindMetrics(v.eventID, port.ReconciliationKind, port.ReconciliationKind, 0, state, took, port.SyncCounts{Deleted: rec.Deleted})
	v.enqueue("reconciliation sync metrics", func(ctx context.Context) error { return pc.PutKindSyncMetrics(ctx, ingest, m) })
}

// collectExamples keeps the first ExamplesPerKind raw items of the kind,
// encoded at once: the items themselves go on to the mapping untouched.
// It runs on the fetch goroutine.
func (k *kindRun) collectExamples(items []map[string]any) {
	if k.examplesDone || len(items) == 0 {
		return
	}
	for _, it := range items {
		if len(k.examples) >= ExamplesPerKind {
			break
		}
		b, err := json.Marshal(it)
		if err != nil {
			k.j.logger.Debug("a raw item cannot be sent as an example", "kind", k.rm.KindID(), "err", err)
			continue
		}
		k.examples = append(k.examples, b)
	}
	if len(k.examples) >= ExamplesPerKind {
		k.sendExamples()
	}
}

// sendExamples masks and posts what collectExamples kept, once per kind.
func (k *kindRun) sendExamples() {
	if k.examplesDone || len(k.examples) == 0 {
		return
	}
	k.examplesDone = true
	raw, kind := k.examples, k.rm.Resource.Kind
	k.examples = nil
	redact, pc := k.j.r.cfg.RedactJSON, k.j.r.cfg.Port
	k.j.vis.enqueue("raw data examples of "+k.rm.KindID(), func(ctx context.Context) error {
		examples := make([]json.RawMessage, 0, len(raw))
		for _, b := range raw {
			masked, err := redact(b)
			if err != nil {
				return fmt.Errorf("mask secrets in an example: %w", err)
			}
			examples = append(examples, masked)
		}
		return pc.PostKindExamples(ctx, kind, examples)
	})
}

func syncCounts(c store.Counts) port.SyncCounts {
	return port.SyncCounts{Fetched: c.Fetched, Mapped: c.Mapped, Filtered: c.Filtered, Dropped: c.Dropped,
		Upserted: c.Upserted, Unchanged: c.Unchanged, Failed: c.Failed}
}

func syncState(kindState string) string {
	switch kindState {
	case store.KindCompleted:
		return port.SyncCompleted
	case store.KindFailed:
		return port.SyncFailed
	case store.KindAborted:
		return port.SyncAborted
	case store.KindRunning:
		return port.SyncSyncing
	}
	return port.SyncPending
}

// newEventID is a random UUID (version 4), the form of Ocean's event ids.
func newEventID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (it crashes the program instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
