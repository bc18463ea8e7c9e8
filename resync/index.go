package resync

import (
	"sync"

	"oceand/store"
)

// Chain spool sets.
const (
	// setDrySeen holds what a dry run mapped: key entityKey, value one of
	// the dry* marks. A real run keeps this in the index (SeenChain).
	setDrySeen = "seen"
	// setTaint holds blueprints whose stale entities must not be deleted
	// because an item the resync could not map may stand for one of
	// them; key blueprint (or taintAll).
	setTaint = "taint"
	// targetsPrefix + source blueprint + NUL + relation name: the
	// identifiers kept entities relate to through that relation.
	targetsPrefix = "targets\x00"
)

// Dry-run marks.
const (
	dryUnchanged byte = 'u' // the index says Port has it as mapped
	dryWrite     byte = 'w' // would be sent
	dryFailed    byte = 'f' // could not be judged; kept
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
// relation targets, dry-run marks) and writes it in large sorted
// transactions: one fsync per few thousand entities instead of one per page.
// Memory is bounded by the flush threshold.
type indexWriter struct {
	st    *store.Store
	spool *store.Spool
	limit int

	mu      sync.Mutex
	changes []store.IndexChange
	dry     []store.SpoolEntry
	targets map[string][]store.SpoolEntry
	n       int
	// recent remembers targets already buffered or written, so the same
	// department of 100,000 persons is written once. It is cleared when
	// it grows past the flush threshold.
	recent map[relationTarget]struct{}

	flushMu sync.Mutex
}

func newIndexWriter(j *jobRun) *indexWriter {
	return &indexWriter{
		st: j.st, spool: j.chainSpool, limit: j.r.cfg.IndexFlushEntries,
		targets: map[string][]store.SpoolEntry{}, recent: map[relationTarget]struct{}{},
	}
}

// add buffers changes and flushes when the buffer is full.
func (w *indexWriter) add(changes []store.IndexChange, dry []store.SpoolEntry, targets []relationTarget) error {
	w.mu.Lock()
	w.changes = append(w.changes, changes...)
	w.dry = append(w.dry, dry...)
	w.n += len(changes) + len(dry)
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
	changes, dry, targets := w.changes, w.dry, w.targets
	w.changes, w.dry, w.targets, w.n = nil, nil, map[string][]store.SpoolEntry{}, 0
	w.mu.Unlock()
	if err := w.st.ApplyIndex(changes); err != nil {
		return err
	}
	if err := w.spool.Put(setDrySeen, dry); err != nil {
		return err
	}
	for set, entries := range targets {
		if err := w.spool.Put(set, entries); err != nil {
			return err
		}
	}
	return nil
}
