package resync

import (
	"context"
	"sync"
	"time"

	"oceand/store"
)

// Chain spool sets.
const (
	// setTaint holds blueprints whose stale entities must not be deleted
	// because an item the resync could not map may stand for one of
	// them; key blueprint (or taintAll).
	setTaint = "taint"
	// targetsPrefix + source blueprint + NUL + relation name: the
	// identifiers kept entities relate to through that relation.
	targetsPrefix = "targets\x00"
)

// taintAll taints every blueprint: a failed item's blueprint is not known.
const taintAll = "*"

// entityKey is the spool key of an entity: blueprint NUL identifier.
func entityKey(k store.EntityKey) []byte {
	b := make([]byte, 0, len(k.Blueprint)+1+len(k.Identifier))
	b = append(b, k.Blueprint...)
	b = append(b, 0)
	return append(b, k.Identifier...)
}

// relationTarget is an identifier a mapped entity relates to.
type relationTarget struct {
	set string // targetsPrefix + source blueprint + NUL + relation
	id  string
}

// indexWriter buffers what a resync learns about entities (index changes,
// relation targets) and writes it in large sorted transactions: one fsync
// per many thousand entities instead of one per page. Memory is bounded by
// the flush threshold, and a timer flushes what is buffered every
// IndexFlushInterval.
//
// Counts reach the job record only after the flush that made their index
// changes durable (the after callbacks of add): an entity the record counts
// as upserted is one the index knows Port has, so a resume after a crash
// resends only the entities of the last interval, never thousands.
type indexWriter struct {
	st    *store.Store
	spool *store.Spool
	limit int

	mu      sync.Mutex
	changes []store.IndexChange
	// spare is the buffer of the last flush, emptied, for the next one:
	// changes grows to thousands of entries between flushes.
	spare   []store.IndexChange
	targets map[string][]store.SpoolEntry
	pages   map[int]map[uint64][]byte // resource -> page -> content
	n       int
	// recent remembers targets already buffered or written, so the same
	// department of 100,000 persons is written once. It is cleared when
	// it grows past the flush threshold.
	recent map[relationTarget]struct{}
	// after runs once the buffered changes are written.
	after []func()
	// err is the first failure of a timed flush, returned by the next
	// add or flush.
	err error

	flushMu sync.Mutex
}

func newIndexWriter(j *jobRun) *indexWriter {
	return &indexWriter{
		st: j.st, spool: j.chainSpool, limit: j.r.cfg.IndexFlushEntries,
		targets: map[string][]store.SpoolEntry{}, pages: map[int]map[uint64][]byte{}, recent: map[relationTarget]struct{}{},
	}
}

// run flushes every interval until ctx is done; the returned function
// stops it and waits for it.
func (w *indexWriter) run(ctx context.Context, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.mu.Lock()
				pending := w.n > 0 || len(w.after) > 0
				w.mu.Unlock()
				if !pending {
					continue
				}
				if err := w.flush(); err != nil {
					w.mu.Lock()
					if w.err == nil {
						w.err = err
					}
					w.mu.Unlock()
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// add buffers changes and flushes when the buffer is full. after, when not
// nil, runs once the changes are on disk.
func (w *indexWriter) add(changes []store.IndexChange, targets []relationTarget, resource int, pages map[uint64][]byte, after func()) error {
	w.mu.Lock()
	if err := w.err; err != nil {
		w.mu.Unlock()
		return err
	}
	if after != nil {
		w.after = append(w.after, after)
	}
	w.changes = append(w.changes, changes...)
	w.n += len(changes)
	for seq, v := range pages {
		if w.pages[resource] == nil {
			w.pages[resource] = map[uint64][]byte{}
		}
		w.pages[resource][seq] = v
		w.n += len(v) / 256 // a page weighs as much as its bytes' worth of changes
	}
	for _, t := range targets {
		if _, ok := w.recent[t]; ok {
			continue
		}
		if len(w.recent) >= w.limit {
			clear(w.recent)
		}
		w.recent[t] = struct{}{}
		w.targets[t.set] = append(w.targets[t.set], store.SpoolEntry{Key: []byte(t.id)})
		w.n++
	}
	full := w.n >= w.limit
	w.mu.Unlock()
	if full {
		return w.flush()
	}
	return nil
}

// flush writes everything buffered so far.
func (w *indexWriter) flush() error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	if err := w.err; err != nil {
		w.mu.Unlock()
		return err
	}
	changes, targets, pages, after := w.changes, w.targets, w.pages, w.after
	w.changes, w.targets, w.pages, w.n, w.after = w.spare, map[string][]store.SpoolEntry{}, map[int]map[uint64][]byte{}, 0, nil
	w.spare = nil
	w.mu.Unlock()
	if err := w.st.ApplyIndex(changes); err != nil {
		return err
	}
	clear(changes) // drop the identifiers it refers to
	w.mu.Lock()
	w.spare = changes[:0]
	w.mu.Unlock()
	for resource, ps := range pages {
		if err := w.st.PutItemPages(resource, ps); err != nil {
			return err
		}
	}
	for set, entries := range targets {
		if err := w.spool.Put(set, entries); err != nil {
			return err
		}
	}
	for _, fn := range after {
		fn()
	}
	return nil
}
