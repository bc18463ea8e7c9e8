package resync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"oceand/mapping"
	"oceand/port"
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
		k.update(func(kp *store.KindProgress) { kp.State = store.KindRunning })
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
		fetchErr = j.r.cfg.Source.Fetch(kctx, res, func(items []map[string]any) error {
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
				send, err := k.mapPage(kctx, page.seq, page.items)
				if err != nil {
					cancel(err)
					continue
				}
				if len(send) == 0 {
					continue
				}
				select {
				case changed <- send:
				case <-kctx.Done():
				}
			}
		}()
	}
	go func() {
		mappers.Wait()
		close(changed)
	}()
	k.load(kctx, changed)

	err := context.Cause(kctx)
	if errors.Is(err, context.Canceled) && ctx.Err() == nil {
		err = nil
	}
	if err == nil && fetchErr != nil {
		err = fmt.Errorf("fetch %s: %w", rm.Resource.Kind, fetchErr)
	}
	if err == nil && ctx.Err() == nil && k.fast != nil && !j.dry {
		if terr := j.st.TrimItemPages(rm.Index, served); terr != nil {
			err = fmt.Errorf("write item pages: %w", terr)
		}
	}
	if err == nil && ctx.Err() == nil {
		// What this kind wrote and produced must be on disk before it
		// counts as completed: a resume skips completed kinds.
		if ferr := j.writer.flush(); ferr != nil {
			err = fmt.Errorf("write entity index: %w", ferr)
		} else if !restore {
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
	k.update(func(kp *store.KindProgress) {
		kp.State = state
		if err != nil {
			kp.Error = err.Error()
		}
	})
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
			Filtered: after.Filtered - before.Filtered, Upserted: after.Upserted - before.Upserted,
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
		delta = store.Counts{Upserted: delta.Upserted, Failed: delta.Failed}
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

// sourcePage is one page the source emitted, numbered within the kind.
type sourcePage struct {
	seq   uint64
	items []map[string]any
}

// mapPage maps, encodes and diffs one page and returns what must be sent.
// Items the index shows unchanged take the fast path (see item.go); the
// others are mapped in full.
func (k *kindRun) mapPage(ctx context.Context, seq uint64, page []map[string]any) ([]*pending, error) {
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
	)
	id, err := k.identify(ctx, seq, page, &delta, &changes, &targets)
	if err != nil {
		return nil, err
	}
	hasher := sha256.New()
	for i, item := range page {
		if id.known[i] {
			continue
		}
		res, err := k.rm.Map(ctx, item)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if err != nil {
			delta.Failed++
			sample("item %s: %v", itemName(item), err)
			if err := k.protectUnmapped(ctx, item); err != nil {
				return nil, err
			}
			continue
		}
		delta.Filtered += int64(res.Filtered + res.Dropped)
		itemHash := id.hashes[i]
		for _, mc := range res.Misconfigurations {
			// Keep mapping this item in full, so its misconfigurations
			// are reported every resync.
			itemHash = store.EntityHash{}
			sample("item %s: %s (%s) gave null: %s", itemName(item), mc.Field, mc.Expr, mc.Reason)
		}
		pi := &pageItem{hash: itemHash, filtered: res.Filtered + res.Dropped}
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
			out = append(out, p)
		}
		if pi != nil && !itemHash.IsZero() {
			id.items[i] = pi
		}
	}
	delta.Mapped += int64(len(out))

	send := out[:0]
	err = k.j.st.Read(func(r *store.Reader) error {
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
				k.unchanged(p.key, e, p.itemHash, &changes)
				k.j.r.bodies.put(p.buf)
				continue
			}
			send = append(send, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read entity index: %w", err)
	}
	if k.j.dry {
		for _, p := range send {
			if p.indexed {
				k.j.seen.mark(p.key, p.prevMarks(k.j.chain))
			}
			k.j.planUpsert(p.key)
			k.j.r.bodies.put(p.buf)
		}
		send = nil
	}
	var pages map[uint64][]byte
	if k.fast != nil && !k.j.dry {
		if v := encodePage(k.fast.salt, id.items); !bytes.Equal(v, id.stored) {
			pages = map[uint64][]byte{seq: v}
		}
	}
	if err := k.j.writer.add(changes, targets, k.rm.Index, pages); err != nil {
		return nil, fmt.Errorf("write entity index: %w", err)
	}
	k.count(delta, samples)
	return send, nil
}

// unchanged records an entity Port already has as mapped: the chain
// produced it, and the index learns which item it came from.
func (k *kindRun) unchanged(key store.EntityKey, e store.IndexEntry, itemHash store.EntityHash, changes *[]store.IndexChange) {
	marks := seenExpected | seenIndexed
	if e.ChainID == k.j.chain {
		marks |= seenWritten // by an interrupted job of this chain
	}
	k.j.seen.mark(key, marks)
	if !k.j.dry && (e.ItemHash != itemHash || e.Resource != uint32(k.rm.Index)) {
		*changes = append(*changes, store.IndexChange{EntityKey: key, Op: store.OpSeen, ItemHash: itemHash, Resource: k.rm.Index})
	}
}

// fastMinTries is how many items a kind tries with its key mapper before
// it judges whether that pays: in a first resync nothing is indexed and
// trying costs a second (partial) mapping of every item.
const fastMinTries = 1000

// identified is what identify learnt of a page.
type identified struct {
	hashes []store.EntityHash // per item (zero: not hashed)
	known  []bool             // the item is unchanged and fully accounted for
	items  []*pageItem        // what each item turned into (nil: unknown)
	stored []byte             // the page as the store had it
}

// identify finds the items of a page that are unchanged: the index says
// Port holds exactly what each of their entities would be. Their entities
// are recorded as produced without being mapped in full. What an item
// turns into comes from the page as stored by the last resync or, failing
// that, from the key mapper (identity programs only).
func (k *kindRun) identify(ctx context.Context, seq uint64, page []map[string]any, delta *store.Counts,
	changes *[]store.IndexChange, targets *[]relationTarget) (*identified, error) {
	id := &identified{hashes: make([]store.EntityHash, len(page)), known: make([]bool, len(page)), items: make([]*pageItem, len(page))}
	if k.fast == nil {
		return id, nil
	}
	h := itemHasher{salt: k.fast.salt}
	hashed := make([]bool, len(page))
	for i, item := range page {
		id.hashes[i], hashed[i] = h.sum(item)
	}
	var err error
	if id.stored, err = k.j.st.ItemPage(k.rm.Index, seq); err != nil {
		return nil, fmt.Errorf("read item pages: %w", err)
	}
	cached := decodePage(k.fast.salt, id.stored)
	candidates := make([]*pageItem, len(page))
	for i := range page {
		if hashed[i] {
			candidates[i] = cached[id.hashes[i]]
		}
	}
	fromKeys := make([]bool, len(page))
	tried, hits := k.fastTried.Load(), k.fastHits.Load()
	if tried < fastMinTries || 2*hits >= tried {
		var n int64
		for i, item := range page {
			if !hashed[i] || candidates[i] != nil {
				continue
			}
			n++
			candidates[i] = k.keyItem(ctx, item, id.hashes[i])
			fromKeys[i] = candidates[i] != nil
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
		}
		k.fastTried.Add(n)
	}
	entries := make([][]store.IndexEntry, len(page))
	err = k.j.st.Read(func(r *store.Reader) error {
		for i, pi := range candidates {
			if pi == nil {
				continue
			}
			for _, e := range pi.entities {
				entry, ok := r.Entry(e.key)
				if !ok || entry.ItemHash != id.hashes[i] || entry.Hash.IsZero() {
					candidates[i], entries[i] = nil, nil
					break
				}
				entries[i] = append(entries[i], entry)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read entity index: %w", err)
	}
	var keyHits int64
	for i, pi := range candidates {
		if pi == nil {
			continue
		}
		if fromKeys[i] {
			keyHits++
		}
		id.known[i], id.items[i] = true, pi
		delta.Filtered += int64(pi.filtered)
		delta.Mapped += int64(len(pi.entities))
		delta.Unchanged += int64(len(pi.entities))
		for n, e := range pi.entities {
			k.unchanged(e.key, entries[i][n], id.hashes[i], changes)
			if k.j.protectTargets {
				*targets = append(*targets, e.targets...)
			}
		}
	}
	k.fastHits.Add(keyHits)
	return id, nil
}

// keyItem evaluates an item's identity with the key mapper; nil when the
// item cannot take the fast path.
func (k *kindRun) keyItem(ctx context.Context, item map[string]any, hash store.EntityHash) *pageItem {
	res, err := k.fast.keys.Map(ctx, item)
	if err != nil || len(res.Misconfigurations) > 0 || !allIdentified(res.Entities) {
		return nil
	}
	pi := &pageItem{hash: hash, filtered: res.Filtered + res.Dropped}
	for _, e := range res.Entities {
		id, _ := e.Identifier()
		pe := pageEntity{key: store.EntityKey{Blueprint: e.Blueprint(), Identifier: id}}
		if k.j.protectTargets {
			pe.targets = appendTargets(nil, e.Blueprint(), e)
		}
		pi.entities = append(pi.entities, pe)
	}
	return pi
}

func allIdentified(es []mapping.Entity) bool {
	for _, e := range es {
		if _, ok := e.Identifier(); !ok {
			return false
		}
	}
	return true
}

// protectUnmapped handles an item the mapping could not judge (its selector
// or itemsToParse failed). The entity it stands for must not be deleted as
// stale: the item is mapped again with its selector forced to true, and the
// entities that come out are recorded as produced. When even that fails,
// the resource's blueprints are tainted: reconciliation deletes nothing
// there.
func (k *kindRun) protectUnmapped(ctx context.Context, item map[string]any) error {
	k.protectOnce.Do(func() {
		cfg := *k.j.cfg
		res := k.rm.Resource
		raw := make(map[string]any, len(res.Selector.Raw)+1)
		for key, v := range res.Selector.Raw {
			raw[key] = v
		}
		raw["query"] = "true"
		res.Selector = mapping.Selector{Query: "true", Raw: raw}
		cfg.Resources = []mapping.Resource{res}
		m, err := mapping.Compile(&cfg, k.j.r.cfg.Mapping)
		if err != nil {
			k.protectErr = err
			return
		}
		k.protect = m.Resources()[0]
	})
	var result mapping.Result
	err := k.protectErr
	if err == nil {
		result, err = k.protect.Map(ctx, item)
	}
	if err != nil {
		return k.taint()
	}
	for _, e := range result.Entities {
		if id, ok := e.Identifier(); ok {
			k.j.seen.mark(store.EntityKey{Blueprint: e.Blueprint(), Identifier: id}, seenMark)
		}
	}
	return nil
}

// taint records that this resource failed to map an item whose entity is
// unknown: its blueprints keep their stale entities this chain.
func (k *kindRun) taint() error {
	var entries []store.SpoolEntry
	for _, bp := range literalBlueprints(k.rm.Resource) {
		entries = append(entries, store.SpoolEntry{Key: []byte(bp), Value: []byte(k.rm.KindID())})
	}
	if err := k.j.chainSpool.Put(setTaint, entries); err != nil {
		return fmt.Errorf("record unmapped item: %w", err)
	}
	return nil
}

// literalBlueprints returns the blueprints a resource maps to when they are
// jq string literals (the usual '"service"'), or taintAll when any is
// computed from the item.
func literalBlueprints(r mapping.Resource) []string {
	var out []string
	for _, m := range r.Port.Entity.Mappings {
		var bp string
		if err := json.Unmarshal([]byte(strings.TrimSpace(m.Blueprint)), &bp); err != nil || bp == "" {
			return []string{taintAll}
		}
		out = append(out, bp)
	}
	return out
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

// batch is entities of one blueprint for one bulk request.
type batch struct {
	blueprint string
	items     []*pending
	bodies    []json.RawMessage
}

// load groups changed entities into bulk requests per blueprint and sends
// them with at most InFlightBatches outstanding. It returns once every
// request it started has ended.
func (k *kindRun) load(ctx context.Context, in <-chan []*pending) {
	type open struct {
		b     *port.Batcher
		items []*pending
	}
	opened := map[string]*open{}
	slots := make(chan struct{}, k.j.r.cfg.InFlightBatches)
	var wg sync.WaitGroup
	dispatch := func(bt batch) {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			k.upsert(ctx, bt)
		}()
	}
	for ps := range in {
		if ctx.Err() != nil {
			continue
		}
		for _, p := range ps {
			o := opened[p.key.Blueprint]
			if o == nil {
				o = &open{b: port.NewBatcher()}
				opened[p.key.Blueprint] = o
			}
			if full := o.b.Add(p.body); full != nil {
				dispatch(batch{blueprint: p.key.Blueprint, items: o.items, bodies: full})
				o.items = nil
			}
			o.items = append(o.items, p)
		}
	}
	if ctx.Err() == nil {
		bps := make([]string, 0, len(opened))
		for bp := range opened {
			bps = append(bps, bp)
		}
		sort.Strings(bps)
		for _, bp := range bps {
			if o := opened[bp]; o.b.Len() > 0 {
				dispatch(batch{blueprint: bp, items: o.items, bodies: o.b.Flush()})
			}
		}
	}
	wg.Wait()
}

// upsert sends one batch and records each entity's outcome. Port being
// unreachable (or refusing this integration) fails the kind; Port rejecting
// the batch's content fails its entities.
func (k *kindRun) upsert(ctx context.Context, bt batch) {
	results, err := k.j.r.cfg.Port.UpsertEntities(ctx, bt.blueprint, bt.bodies, k.j.opts)
	// The client copied the bodies into its request.
	for _, p := range bt.items {
		k.j.r.bodies.put(p.buf)
	}
	if err != nil && ctx.Err() != nil {
		return
	}
	var delta store.Counts
	var samples []string
	var changes []store.IndexChange
	failed := func(p *pending) {
		if !p.indexed {
			return
		}
		k.j.seen.mark(p.key, p.prevMarks(k.j.chain))
		if p.prev != nil && !p.prev.ItemHash.IsZero() {
			// Port keeps the old version: the item no longer matches it.
			changes = append(changes, store.IndexChange{EntityKey: p.key, Op: store.OpSeen, Resource: k.rm.Index})
		}
	}
	if err != nil {
		if kindLevel(err) {
			k.cancel(fmt.Errorf("upsert to blueprint %s: %w", bt.blueprint, err))
			return
		}
		delta.Failed = int64(len(bt.items))
		samples = append(samples, fmt.Sprintf("%s: %d entities not written: %v", bt.blueprint, len(bt.items), err))
		for _, p := range bt.items {
			failed(p)
		}
	} else {
		for _, res := range results {
			p := bt.items[res.Index]
			switch {
			case res.OK:
				delta.Upserted++
				if p.indexed {
					k.j.seen.mark(p.key, seenWritten|seenIndexed)
					changes = append(changes, store.IndexChange{EntityKey: p.key, Op: store.OpWritten, Hash: p.hash, ItemHash: p.itemHash, Chain: k.j.chain, Resource: k.rm.Index})
				}
			case !p.indexed && res.Identifier == "unknown":
				// A search identifier that matched nothing: Port drops
				// the entity, as for Ocean.
				delta.Filtered++
			default:
				delta.Failed++
				if len(samples) < maxSamples {
					samples = append(samples, fmt.Sprintf("%s/%s: %d %s: %s", bt.blueprint, p.key.Identifier, res.Status, res.Code, res.Message))
				}
				failed(p)
			}
		}
	}
	if werr := k.j.writer.add(changes, nil, k.rm.Index, nil); werr != nil {
		k.cancel(fmt.Errorf("write entity index: %w", werr))
		return
	}
	k.count(delta, samples)
}

// kindLevel reports whether a failed request means the kind cannot go on
// (Port unreachable, overloaded after retries, or refusing our credentials)
// rather than a problem with the entities sent.
func kindLevel(err error) bool {
	switch s := port.StatusOf(err); {
	case s == 0, s >= 500:
		return true
	case s == http.StatusForbidden:
		// has_dependents and required_relation are about the entities;
		// missing_permissions is about us.
		var pe *port.Error
		return !errors.As(err, &pe) || (pe.Code != "has_dependents" && pe.Code != "required_relation")
	case s == http.StatusUnauthorized, s == http.StatusTooManyRequests, s == http.StatusRequestTimeout:
		return true
	}
	return false
}
