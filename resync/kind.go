package resync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"oceand/mapping"
	"oceand/sources"
	"oceand/store"
)

// maxSamples is how many item-level errors a kind keeps in its record.
const maxSamples = 5

// kindRun is one resource of the mapping while it is synced.
type kindRun struct {
	j      *jobRun
	rm     *mapping.ResourceMapper
	cancel context.CancelCauseFunc
	// restore: this pass only writes entities missing in Port (see
	// reconcile); its counters go to the report, not the kind.
	restore bool

	protectOnce sync.Once
	protect     *mapping.ResourceMapper
	protectErr  error

	// fast is the item fast path (nil: none); fastTried and fastHits
	// (items tried with the key mapper, and found unchanged) judge
	// whether the key mapper pays.
	fast      *fastPath
	fastTried atomic.Int64
	fastHits  atomic.Int64

	// examples are the first raw items, encoded, for Port's mapping
	// editor; examplesDone once they were handed to the sender.
	examples     [][]byte
	examplesDone bool
	// taintMu guards the taint state (see taint): the categories already
	// recorded and the blueprints the resource could have written.
	taintMu sync.Mutex
	tainted map[string]bool
	owned   []string
	// ownedElsewhere: the index names a blueprint of this resource its
	// mapping no longer names (where refused entities may belong).
	ownedElsewhere bool

	// writes counts, per blueprint, the entities Port accepted and
	// refused (a blueprint none of whose entities Port accepted failed
	// as a whole); planned counts what a dry run would send.
	writesMu sync.Mutex
	writes   map[string]*blueprintWrites
	planned  atomic.Int64
}

// blueprintWrites is what Port answered one kind's upserts to a blueprint.
type blueprintWrites struct {
	accepted, refused, unchanged int64
	firstRefusal                 string
}

// pending is one mapped entity on its way to Port.
type pending struct {
	key      store.EntityKey
	indexed  bool // the identifier is a plain string: the index tracks it
	hash     store.EntityHash
	itemHash store.EntityHash  // the raw item's (zero: none)
	prev     *store.IndexEntry // the index entry before this resync, if any
	body     json.RawMessage
	buf      *[]byte // body's pooled buffer
}

// prevMarks is what the chain knows of an entity it could not (or, in a dry
// run, would) write: Port still has the indexed version, if any.
func (p *pending) prevMarks(chain uint64) uint8 {
	if p.prev == nil {
		return seenMark
	}
	marks := seenIndexed
	if p.prev.ChainID == chain {
		marks |= seenWritten
	} else if !p.prev.Hash.IsZero() {
		marks |= seenExpected
	}
	return marks
}

// runKind syncs one resource: the source's pages are mapped, diffed against
// the index and sent to Port in bulk, through bounded channels:
//
//	Fetch -> pages -> Workers x (map, encode, hash, diff) -> changed -> load -> Port
//
// A kind-level error (the source failed, Port is unreachable, the index
// cannot be written) cancels the kind; item-level errors are counted.
func (j *jobRun) runKind(ctx context.Context, rm *mapping.ResourceMapper, restore bool) error {
	k := &kindRun{j: j, rm: rm, restore: restore, fast: j.newFastPath(rm)}
	if !restore {
		started := j.r.now().UTC()
		k.update(func(kp *store.KindProgress) {
			kp.State, kp.StartedAt, kp.FinishedAt = store.KindRunning, started, time.Time{}
		})
		j.logger.Info("syncing kind", "kind", rm.KindID())
	}
	kctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	k.cancel = cancel

	pages := make(chan sourcePage, 1)
	var fetchErr error
	var served uint64
	go func() {
		defer close(pages)
		res := sources.Resource{Kind: rm.Resource.Kind, Index: rm.Index, Selector: rm.Resource.Selector.Raw}
		collect := !restore && j.vis != nil && j.r.cfg.SendRawDataExamples
		fetchErr = j.r.cfg.Source.Fetch(kctx, res, func(items []map[string]any) error {
			if collect {
				k.collectExamples(items)
			}
			select {
			case pages <- sourcePage{seq: served, items: items}:
				served++
				return nil
			case <-kctx.Done():
				return context.Cause(kctx)
			}
		})
	}()
	changed := make(chan []*pending, j.r.cfg.Workers)
	var mappers sync.WaitGroup
	for range j.r.cfg.Workers {
		mappers.Add(1)
		go func() {
			defer mappers.Done()
			for page := range pages {
				if kctx.Err() != nil {
					continue // drain, so the fetcher is never stuck
				}
				err := k.mapPage(kctx, page.seq, page.items, func(send []*pending) error {
					select {
					case changed <- send:
						return nil
					case <-kctx.Done():
						return context.Cause(kctx)
					}
				})
				if err != nil {
					cancel(err)
				}
			}
		}()
	}
	go func() {
		mappers.Wait()
		close(changed)
	}()
	k.load(kctx, changed)
	if ctx.Err() == nil && kctx.Err() == nil {
		if err := k.taintFailedBlueprints(); err != nil {
			cancel(err)
		}
	}

	err := context.Cause(kctx)
	if errors.Is(err, context.Canceled) && ctx.Err() == nil {
		err = nil
	}
	if err == nil && fetchErr != nil {
		err = fmt.Errorf("fetch %s: %w", rm.Resource.Kind, fetchErr)
	}
	if err == nil && ctx.Err() == nil && k.fast != nil && !j.dry {
		keep := served
		if !k.fast.pages {
			keep = 0
		}
		if terr := j.st.TrimItemPages(rm.Index, keep); terr != nil {
			err = fmt.Errorf("write item pages: %w", terr)
		}
	}
	// What Port accepted is written down whatever happened to the kind:
	// a resume or the next resync must not send it again.
	if ferr := j.writer.flush(); ferr != nil && err == nil {
		err = fmt.Errorf("write entity index: %w", ferr)
	}
	if err == nil && ctx.Err() == nil && !restore {
		err = k.wroteNothing()
	}
	if err == nil && ctx.Err() == nil {
		// What this kind produced must be on disk before it counts as
		// completed: a resume skips completed kinds.
		if !restore {
			if serr := j.seen.save(j.chainSpool); serr != nil {
				err = fmt.Errorf("save what the kind produced: %w", serr)
			}
		}
	}
	if restore {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}
	state := store.KindCompleted
	switch {
	case ctx.Err() != nil:
		state, err = store.KindAborted, context.Cause(ctx)
	case err != nil:
		state = store.KindFailed
	}
	finished := j.r.now().UTC()
	var final store.KindProgress
	k.update(func(kp *store.KindProgress) {
		kp.State, kp.FinishedAt = state, finished
		if err != nil {
			kp.Error = err.Error()
		}
		final = *kp
	})
	j.vis.kindEnded(k, final)
	if ferr := j.rep.Flush(); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// update changes this kind's progress and the job totals.
func (k *kindRun) update(fn func(kp *store.KindProgress)) {
	_ = k.j.rep.Update(func(jb *store.Job) {
		kp := &jb.Kinds[k.rm.Index]
		before := kp.Counts
		fn(kp)
		after := kp.Counts
		jb.Totals.Add(store.Counts{
			Fetched: after.Fetched - before.Fetched, Mapped: after.Mapped - before.Mapped,
			Filtered: after.Filtered - before.Filtered, Dropped: after.Dropped - before.Dropped, Upserted: after.Upserted - before.Upserted,
			Unchanged: after.Unchanged - before.Unchanged, Failed: after.Failed - before.Failed,
		})
	})
}

// count adds delta and samples to the kind. A restore pass only counts what
// it wrote.
func (k *kindRun) count(delta store.Counts, samples []string) {
	if k.restore {
		k.j.mu.Lock()
		k.j.report.Restored += delta.Upserted
		k.j.mu.Unlock()
		delta = store.Counts{Upserted: delta.Upserted, Failed: delta.Failed, Dropped: delta.Dropped}
	}
	if delta == (store.Counts{}) && len(samples) == 0 {
		return
	}
	k.update(func(kp *store.KindProgress) {
		kp.Counts.Add(delta)
		for _, s := range samples {
			if len(kp.Samples) >= maxSamples {
				break
			}
			kp.Samples = append(kp.Samples, s)
		}
	})
}

// droppedCause says why an item's entity was dropped, naming the field.
func (k *kindRun) droppedCause(mcs []mapping.Misconfiguration) string {
	for i := len(mcs) - 1; i >= 0; i-- {
		if strings.HasSuffix(mcs[i].Reason, "the entity is dropped") {
			return fmt.Sprintf("an item of %s gave no valid identifier or blueprint (%s %s), so the entity it stands for is unknown", k.rm.KindID(), mcs[i].Field, mcs[i].Reason)
		}
	}
	return fmt.Sprintf("an item of %s gave no valid identifier or blueprint, so the entity it stands for is unknown", k.rm.KindID())
}

// tally adds to what Port answered for (or the index showed unchanged of)
// the entities of bp.
func (k *kindRun) tally(bp string, d blueprintWrites) {
	k.writesMu.Lock()
	defer k.writesMu.Unlock()
	if k.writes == nil {
		k.writes = map[string]*blueprintWrites{}
	}
	w := k.writes[bp]
	if w == nil {
		w = &blueprintWrites{}
		k.writes[bp] = w
	}
	w.accepted += d.accepted
	w.refused += d.refused
	w.unchanged += d.unchanged
	if w.firstRefusal == "" {
		w.firstRefusal = d.firstRefusal
	}
}

// sawUnchanged counts, per blueprint, the entities of a page skipped as
// unchanged: a blueprint Port already holds entities of for this resource
// is not one that does not exist.
func (k *kindRun) sawUnchanged(seen *seenMarks) {
	var bp string
	var n int64
	flush := func() {
		if n > 0 {
			k.tally(bp, blueprintWrites{unchanged: n})
		}
	}
	for i, key := range seen.keys {
		if seen.marks[i]&seenExpected == 0 {
			continue
		}
		if key.Blueprint != bp {
			flush()
			bp, n = key.Blueprint, 0
		}
		n++
	}
	flush()
}

// taintFailedBlueprints taints the resource for every blueprint whose
// upserts Port refused as a whole (no such blueprint, every write refused,
// and no entity of it found unchanged): the resource's entities may have
// been meant to move there, so none of the blueprints it wrote before may
// lose entities as stale.
func (k *kindRun) taintFailedBlueprints() error {
	k.writesMu.Lock()
	var failed []string
	for bp, w := range k.writes {
		if w.accepted == 0 && w.unchanged == 0 && w.refused > 0 {
			failed = append(failed, bp)
		}
	}
	sort.Strings(failed)
	causes := make([]string, len(failed))
	for i, bp := range failed {
		causes[i] = fmt.Sprintf("Port refused every entity %s sent to blueprint %s (%s)", k.rm.KindID(), bp, k.writes[bp].firstRefusal)
	}
	k.writesMu.Unlock()
	for i, bp := range failed {
		if err := k.taint("refused "+bp, causes[i]); err != nil {
			return err
		}
	}
	return nil
}

// wroteNothing fails a kind that was asked to write entities and none of
// them could be written: every item failed or was dropped. Single failures
// among written entities leave the kind completed (they are counted).
func (k *kindRun) wroteNothing() error {
	var c store.Counts
	var sample string
	if err := k.j.rep.Update(func(jb *store.Job) {
		kp := jb.Kinds[k.rm.Index]
		c = kp.Counts
		if len(kp.Samples) > 0 {
			sample = kp.Samples[0]
		}
	}); err != nil {
		return err
	}
	if c.Upserted+c.Unchanged+k.planned.Load() > 0 || c.Failed+c.Dropped == 0 {
		return nil
	}
	err := fmt.Sprintf("none of the entities of %s could be written (%d failed, %d dropped)", k.rm.KindID(), c.Failed, c.Dropped)
	if sample != "" {
		err += "; first: " + sample
	}
	return errors.New(err)
}

// sourcePage is one page the source emitted, numbered within the kind.
type sourcePage struct {
	seq   uint64
	items []map[string]any
}

// sendChunk is how many mapped entities a page worker diffs and hands to
// the loader at a time. The loader keeps InFlightBatches batches of 20 on
// the wire; chunks much smaller than a source page keep the encoded
// entities waiting for it to a few hundred, whatever the page size.
const sendChunk = 100

// mapPage maps, encodes and diffs one page and hands what must be sent to
// emit, a chunk at a time. Items the index shows unchanged take the fast
// path (see item.go); the others are mapped in full.
func (k *kindRun) mapPage(ctx context.Context, seq uint64, page []map[string]any, emit func([]*pending) error) error {
	var delta store.Counts
	var samples []string
	sample := func(format string, args ...any) {
		if len(samples) < maxSamples {
			samples = append(samples, fmt.Sprintf(format, args...))
		}
	}
	delta.Fetched = int64(len(page))
	var (
		out     []*pending
		targets []relationTarget
		changes []store.IndexChange
		seen    seenMarks
	)
	id, err := k.identify(ctx, seq, page, &delta, &changes, &targets, &seen)
	if err != nil {
		return err
	}
	// diff sends what of out the index does not show unchanged.
	diff := func() error {
		if len(out) == 0 {
			return nil
		}
		delta.Mapped += int64(len(out))
		send := out[:0]
		err := k.j.st.Read(func(r *store.Reader) error {
			for _, p := range out {
				if !p.indexed {
					send = append(send, p)
					continue
				}
				e, ok := r.Entry(p.key)
				if ok {
					p.prev = &e
				}
				if ok && e.Hash == p.hash {
					delta.Unchanged++
					k.unchanged(p.key, e, p.itemHash, &changes, &seen)
					k.j.r.bodies.put(p.buf)
					continue
				}
				send = append(send, p)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read entity index: %w", err)
		}
		out = nil
		if k.j.dry {
			k.planned.Add(int64(len(send)))
			for _, p := range send {
				if p.indexed {
					seen.add(p.key, p.prevMarks(k.j.chain))
				}
				k.j.planUpsert(p.key)
				k.j.r.bodies.put(p.buf)
			}
			return nil
		}
		if len(send) == 0 {
			return nil
		}
		return emit(send)
	}
	hasher := sha256.New()
	for i, item := range page {
		if id.known[i] {
			continue
		}
		res, err := k.rm.Map(ctx, item)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err != nil {
			delta.Failed++
			sample("item %s: %v", itemName(item), err)
			if err := k.protectUnmapped(ctx, item); err != nil {
				return err
			}
			continue
		}
		// An item whose itemsToParse gave null stands for no entity (Ocean
		// skips it with a warning, sampled below): counted as filtered. An
		// entity without a valid identifier or blueprint is dropped: which
		// entity it stands for is unknown, so its blueprints keep their
		// stale entities.
		delta.Filtered += int64(res.Filtered + res.Skipped)
		if res.Dropped > 0 {
			delta.Dropped += int64(res.Dropped)
			if err := k.taint("dropped", k.droppedCause(res.Misconfigurations)); err != nil {
				return err
			}
		}
		itemHash := id.hashes[i]
		for _, mc := range res.Misconfigurations {
			// Keep mapping this item in full, so its misconfigurations
			// are reported every resync.
			itemHash = store.EntityHash{}
			if strings.HasPrefix(mc.Reason, "gave ") {
				// An invalid identifier or blueprint says what it gave.
				sample("item %s: %s (%s) %s", itemName(item), mc.Field, mc.Expr, mc.Reason)
			} else {
				sample("item %s: %s (%s) gave null: %s", itemName(item), mc.Field, mc.Expr, mc.Reason)
			}
		}
		var pi *pageItem // what the item turned into, for its item page
		if k.fast != nil && k.fast.pages {
			pi = &pageItem{hash: itemHash, filtered: res.Filtered + res.Skipped}
		}
		for _, e := range res.Entities {
			buf, err := k.j.r.bodies.encode(e)
			if err != nil {
				delta.Failed++
				sample("entity %v: encode: %v", e["identifier"], err)
				pi = nil
				continue
			}
			body := *buf
			p := &pending{body: body, buf: buf, key: store.EntityKey{Blueprint: e.Blueprint()}, itemHash: itemHash}
			if id, ok := e.Identifier(); ok {
				p.key.Identifier = id
				p.indexed = true
				p.hash = k.j.hash(hasher, body)
			} else {
				pi = nil
			}
			var ts []relationTarget
			if k.j.protectTargets {
				ts = appendTargets(nil, p.key.Blueprint, e)
				targets = append(targets, ts...)
			}
			if pi != nil {
				pi.entities = append(pi.entities, pageEntity{key: p.key, targets: ts})
			}
			if out == nil {
				out = make([]*pending, 0, sendChunk+len(res.Entities))
			}
			out = append(out, p)
		}
		if pi != nil && !itemHash.IsZero() {
			id.items[i] = pi
		}
		if len(out) >= sendChunk {
			if err := diff(); err != nil {
				return err
			}
		}
	}
	if err := diff(); err != nil {
		return err
	}
	k.j.seen.markAll(&seen)
	if !k.j.dry {
		k.sawUnchanged(&seen)
	}
	var pages map[uint64][]byte
	if k.fast != nil && k.fast.pages && !k.j.dry {
		if v := encodePage(k.fast.salt, id.items); !bytes.Equal(v, id.stored) {
			pages = map[uint64][]byte{seq: v}
		}
	}
	if err := k.j.writer.add(changes, targets, k.rm.Index, pages, func() { k.count(delta, samples) }); err != nil {
		return fmt.Errorf("write entity index: %w", err)
	}
	return nil
}

// unchanged records an entity Port already has as mapped: the chain
// produced it, and the index learns which item it came from.
func (k *kindRun) unchanged(key store.EntityKey, e store.IndexEntry, itemHash store.EntityHash, changes *[]store.IndexChange, seen *seenMarks) {
	marks := seenExpected | seenIndexed
	if e.ChainID == k.j.chain {
		marks |= seenWritten // by an interrupted job of this chain
	}
	seen.add(key, marks)
	if !k.j.dry && (e.ItemHash != itemHash || e.Resource != uint32(k.rm.Index)) {
		*changes = append(*changes, store.IndexChange{EntityKey: key, Op: store.OpSeen, ItemHash: itemHash, Resource: k.rm.Index})
	}
}

// appendTargets adds the identifiers e relates to (plain identifiers only:
// search-query relations name no entity).
func appendTargets(out []relationTarget, blueprint string, e mapping.Entity) []relationTarget {
	rels, _ := e["relations"].(map[string]any)
	for name, v := range rels {
		set := targetsPrefix + blueprint + "\x00" + name
		switch t := v.(type) {
		case string:
			if t != "" {
				out = append(out, relationTarget{set: set, id: t})
			}
		case []any:
			for _, x := range t {
				if s, ok := x.(string); ok && s != "" {
					out = append(out, relationTarget{set: set, id: s})
				}
			}
		}
	}
	return out
}

func itemName(item map[string]any) string {
	for _, key := range []string{"id", "identifier", "name", "key"} {
		if v, ok := item[key]; ok {
			return fmt.Sprintf("%q", fmt.Sprint(v))
		}
	}
	return "(no id)"
}

// hash identifies an entity's content together with the write options: a
// change of merge mode must resend everything. h is reused between calls.
func (j *jobRun) hash(h hash.Hash, body []byte) store.EntityHash {
	h.Reset()
	h.Write(body)
	h.Write(j.optsTag)
	var sum [sha256.Size]byte
	var out store.EntityHash
	copy(out[:], h.Sum(sum[:0]))
	return out
}
