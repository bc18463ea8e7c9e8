package resync

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
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
	// judge whether it pays.
	fast      *fastPath
	fastTried atomic.Int64
	fastHits  atomic.Int64
}

// pending is one mapped entity on its way to Port.
type pending struct {
	key      store.EntityKey
	indexed  bool // the identifier is a plain string: the index tracks it
	hash     store.EntityHash
	itemHash store.EntityHash // the raw item's (zero: none)
	body     json.RawMessage
	buf      *[]byte // body's pooled buffer
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

	pages := make(chan []map[string]any, 1)
	var fetchErr error
	go func() {
		defer close(pages)
		res := sources.Resource{Kind: rm.Resource.Kind, Index: rm.Index, Selector: rm.Resource.Selector.Raw}
		fetchErr = j.r.cfg.Source.Fetch(kctx, res, func(items []map[string]any) error {
			select {
			case pages <- items:
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
				send, err := k.mapPage(kctx, page)
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
	if err == nil && ctx.Err() == nil {
		// What this kind saw must be on disk before it counts as
		// completed: a resume skips completed kinds.
		if ferr := j.writer.flush(); ferr != nil {
			err = fmt.Errorf("write entity index: %w", ferr)
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

// mapPage maps, encodes and diffs one page and returns what must be sent.
// Items the index shows unchanged take the fast path (see item.go); the
// others are mapped in full.
func (k *kindRun) mapPage(ctx context.Context, page []map[string]any) ([]*pending, error) {
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
		dry     []store.SpoolEntry
	)
	seen := func(key store.EntityKey, itemHash store.EntityHash, mark byte) {
		if k.j.dry {
			dry = append(dry, store.SpoolEntry{Key: entityKey(key), Value: []byte{mark}})
		} else {
			changes = append(changes, store.IndexChange{EntityKey: key, Op: store.OpSeen, ItemHash: itemHash, Chain: k.j.chain, Resource: k.rm.Index})
		}
	}
	rest, hashes, err := k.fastItems(ctx, page, &delta, seen, &targets)
	if err != nil {
		return nil, err
	}
	for i, item := range rest {
		res, err := k.rm.Map(ctx, item)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if err != nil {
			delta.Failed++
			sample("item %s: %v", itemName(item), err)
			c, d, perr := k.protectUnmapped(ctx, item)
			if perr != nil {
				return nil, perr
			}
			changes, dry = append(changes, c...), append(dry, d...)
			continue
		}
		delta.Filtered += int64(res.Filtered + res.Dropped)
		itemHash := hashes[i]
		for _, mc := range res.Misconfigurations {
			// Keep mapping this item in full, so its misconfigurations
			// are reported every resync.
			itemHash = store.EntityHash{}
			sample("item %s: %s (%s) gave null: %s", itemName(item), mc.Field, mc.Expr, mc.Reason)
		}
		for _, e := range res.Entities {
			buf, err := k.j.r.bodies.encode(e)
			if err != nil {
				delta.Failed++
				sample("entity %v: encode: %v", e["identifier"], err)
				continue
			}
			body := *buf
			p := &pending{body: body, buf: buf, key: store.EntityKey{Blueprint: e.Blueprint()}, itemHash: itemHash}
			if id, ok := e.Identifier(); ok {
				p.key.Identifier = id
				p.indexed = true
				p.hash = k.j.hash(body)
			}
			if k.j.protectTargets {
				targets = appendTargets(targets, p.key.Blueprint, e)
			}
			out = append(out, p)
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
			if ok && e.Hash == p.hash {
				delta.Unchanged++
				seen(p.key, p.itemHash, dryUnchanged)
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
				dry = append(dry, store.SpoolEntry{Key: entityKey(p.key), Value: []byte{dryWrite}})
			}
			k.j.planUpsert(p.key)
			k.j.r.bodies.put(p.buf)
		}
		send = nil
	}
	if err := k.j.writer.add(changes, dry, targets); err != nil {
		return nil, fmt.Errorf("write entity index: %w", err)
	}
	k.count(delta, samples)
	return send, nil
}

// fastMinTries is how many items a kind tries on the fast path before it
// judges whether the fast path pays: in a first resync nothing is indexed
// and trying costs a second (partial) mapping of every item.
const fastMinTries = 1000

// fastItems takes the items the index shows unchanged off the page: their
// entities are marked seen without being mapped in full. It returns the
// other items, each with its hash (zero when it has none).
func (k *kindRun) fastItems(ctx context.Context, page []map[string]any, delta *store.Counts,
	seen func(store.EntityKey, store.EntityHash, byte), targets *[]relationTarget) ([]map[string]any, []store.EntityHash, error) {
	hashes := make([]store.EntityHash, len(page))
	if k.fast == nil {
		return page, hashes, nil
	}
	h := itemHasher{salt: k.fast.salt}
	hashed := make([]bool, len(page))
	for i, item := range page {
		hashes[i], hashed[i] = h.sum(item)
	}
	tried, hits := k.fastTried.Load(), k.fastHits.Load()
	if tried >= fastMinTries && 2*hits < tried {
		return page, hashes, nil
	}
	keys := make([]*mapping.Result, len(page))
	for i, item := range page {
		if !hashed[i] {
			continue
		}
		res, err := k.fast.keys.Map(ctx, item)
		if ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		if err != nil || len(res.Misconfigurations) > 0 || !allIdentified(res.Entities) {
			continue
		}
		keys[i] = &res
	}
	err := k.j.st.Read(func(r *store.Reader) error {
		for i, res := range keys {
			if res == nil {
				continue
			}
			for _, e := range res.Entities {
				id, _ := e.Identifier()
				entry, ok := r.Entry(store.EntityKey{Blueprint: e.Blueprint(), Identifier: id})
				if !ok || entry.ItemHash != hashes[i] || entry.Hash.IsZero() {
					keys[i] = nil
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read entity index: %w", err)
	}
	rest := page[:0:0]
	var restHashes []store.EntityHash
	var hit int64
	for i, res := range keys {
		if res == nil {
			rest = append(rest, page[i])
			restHashes = append(restHashes, hashes[i])
			continue
		}
		hit++
		delta.Filtered += int64(res.Filtered + res.Dropped)
		delta.Mapped += int64(len(res.Entities))
		delta.Unchanged += int64(len(res.Entities))
		for _, e := range res.Entities {
			id, _ := e.Identifier()
			seen(store.EntityKey{Blueprint: e.Blueprint(), Identifier: id}, hashes[i], dryUnchanged)
			if k.j.protectTargets {
				*targets = appendTargets(*targets, e.Blueprint(), e)
			}
		}
	}
	k.fastTried.Add(int64(len(page)))
	k.fastHits.Add(hit)
	return rest, restHashes, nil
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
// entities that come out are marked as seen. When even that fails, the
// resource's blueprints are tainted: reconciliation deletes nothing there.
func (k *kindRun) protectUnmapped(ctx context.Context, item map[string]any) ([]store.IndexChange, []store.SpoolEntry, error) {
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
		return nil, nil, k.taint()
	}
	var changes []store.IndexChange
	var dry []store.SpoolEntry
	for _, e := range result.Entities {
		id, ok := e.Identifier()
		if !ok {
			continue
		}
		key := store.EntityKey{Blueprint: e.Blueprint(), Identifier: id}
		if k.j.dry {
			dry = append(dry, store.SpoolEntry{Key: entityKey(key), Value: []byte{dryFailed}})
		} else {
			changes = append(changes, store.IndexChange{EntityKey: key, Op: store.OpSeen, Chain: k.j.chain, Resource: k.rm.Index})
		}
	}
	return changes, dry, nil
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
// change of merge mode must resend everything.
func (j *jobRun) hash(body []byte) store.EntityHash {
	h := sha256.New()
	h.Write(body)
	h.Write(j.optsTag)
	var out store.EntityHash
	copy(out[:], h.Sum(nil))
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
	seen := func(p *pending) {
		if p.indexed {
			changes = append(changes, store.IndexChange{EntityKey: p.key, Op: store.OpSeen, Chain: k.j.chain, Resource: k.rm.Index})
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
			seen(p)
		}
	} else {
		for _, res := range results {
			p := bt.items[res.Index]
			switch {
			case res.OK:
				delta.Upserted++
				if p.indexed {
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
				seen(p)
			}
		}
	}
	if werr := k.j.writer.add(changes, nil, nil); werr != nil {
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
