package jobs

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"oceand/store"
)

// Progress is a running job's live record. Update changes it in memory; a
// flusher writes what changed every Config.ProgressInterval, and Flush
// writes at once. It satisfies resync.Reporter.
type Progress struct {
	engine *Engine

	mu    sync.Mutex
	job   *store.Job
	dirty bool
	err   error // the last write error, returned by Update

	// flushMu orders writes: an older snapshot never lands after a newer.
	flushMu sync.Mutex
	written []store.KindProgress // kinds as last written
	closed  bool
}

func newProgress(e *Engine, j *store.Job) *Progress {
	return &Progress{engine: e, job: j, written: cloneKinds(j.Kinds)}
}

// Update changes the job record. It does not write: the flusher does. It
// returns the last write error, so a job stops when its progress can no
// longer be stored.
func (p *Progress) Update(fn func(j *store.Job)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p.job)
	p.dirty = true
	return p.err
}

// Flush writes the record now (a kind finished: its state must survive a
// crash).
func (p *Progress) Flush() error {
	return p.flush()
}

// Snapshot returns a copy of the live record.
func (p *Progress) Snapshot() *store.Job {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.job.Clone()
}

func (p *Progress) flush() error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	p.mu.Lock()
	if !p.dirty || p.closed {
		err := p.err
		p.mu.Unlock()
		return err
	}
	snap := p.job.Clone()
	p.dirty = false
	p.mu.Unlock()

	changed := changedKinds(p.written, snap.Kinds)
	err := p.engine.cfg.Store.Update(func(tx *store.Tx) error {
		if len(snap.Kinds) != len(p.written) {
			return tx.PutJob(snap)
		}
		return tx.PutProgress(snap, changed)
	})
	if err != nil {
		err = fmt.Errorf("store progress of job %d: %w", snap.ID, err)
		p.mu.Lock()
		p.err, p.dirty = err, true
		p.mu.Unlock()
		return err
	}
	p.written = snap.Kinds
	p.engine.broadcast()
	return nil
}

// startFlusher writes progress every interval until the returned func is
// called; that func writes nothing more and waits for the flusher to exit.
func (p *Progress) startFlusher(interval time.Duration) (stop func()) {
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := p.flush(); err != nil {
					p.engine.logger.Error("write job progress", "job", p.job.ID, "err", err)
				}
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// close ends writes through p (the engine writes the final record) and
// returns a copy of the live record: a RunFunc that has not returned yet
// may still call Update.
func (p *Progress) close() *store.Job {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return p.job.Clone()
}

// changedKinds returns the positions of now that differ from before.
func changedKinds(before, now []store.KindProgress) []int {
	var out []int
	for i := range now {
		if i >= len(before) || !sameKind(before[i], now[i]) {
			out = append(out, i)
		}
	}
	return out
}

func sameKind(a, b store.KindProgress) bool { return reflect.DeepEqual(a, b) }

func cloneKinds(ks []store.KindProgress) []store.KindProgress {
	out := make([]store.KindProgress, len(ks))
	for i, k := range ks {
		k.Samples = slices.Clone(k.Samples)
		out[i] = k
	}
	return out
}
