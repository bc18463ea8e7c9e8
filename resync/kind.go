package resync

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"oceand/mapping"
	"oceand/port"
	"oceand/sources"
	"oceand/store"
)

// maxSamples is how many item-level errors a kind keeps in its record.
const maxSamples = 5

// kindRun is the state of one resource while it is synced.
type kindRun struct {
	r       *Resyncer
	job     *store.Job
	rep     Reporter
	rm      *mapping.ResourceMapper
	opts    port.WriteOptions
	optsTag []byte
}

// runKind syncs one resource: fetch -> map -> diff -> load, page by page.
func (r *Resyncer) runKind(ctx context.Context, job *store.Job, rep Reporter, rm *mapping.ResourceMapper, opts port.WriteOptions) error {
	k := &kindRun{r: r, job: job, rep: rep, rm: rm, opts: opts,
		optsTag: []byte("|merge=" + strconv.FormatBool(opts.Merge) + "|cmr=" + strconv.FormatBool(opts.CreateMissingRelatedEntities))}
	k.update(func(kp *store.KindProgress) { kp.State = store.KindRunning })
	r.logger.Info("syncing kind", "kind", rm.KindID())

	kctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pages := make(chan []map[string]any, r.cfg.Workers)
	var fetchErr error
	go func() {
		defer close(pages)
		res := sources.Resource{Kind: rm.Resource.Kind, Index: rm.Index, Selector: rm.Resource.Selector.Raw}
		fetchErr = r.cfg.Source.Fetch(kctx, res, func(items []map[string]any) error {
			select {
			case pages <- items:
				return nil
			case <-kctx.Done():
				return context.Cause(kctx)
			}
		})
	}()
	var wg sync.WaitGroup
	for range r.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for page := range pages {
				if kctx.Err() != nil {
					continue
				}
				if err := k.processPage(kctx, page); err != nil {
					cancel(err)
				}
			}
		}()
	}
	wg.Wait()
	err := context.Cause(kctx)
	if errors.Is(err, context.Canceled) && ctx.Err() == nil {
		err = nil
	}
	if err == nil && fetchErr != nil {
		err = fmt.Errorf("fetch %s: %w", rm.Resource.Kind, fetchErr)
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
	if ferr := rep.Flush(); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// update changes this kind's progress and the job totals.
func (k *kindRun) update(fn func(kp *store.KindProgress)) {
	_ = k.rep.Update(func(j *store.Job) {
		kp := &j.Kinds[k.rm.Index]
		before := kp.Counts
		fn(kp)
		j.Totals.Add(store.Counts{
			Fetched: kp.Fetched - before.Fetched, Mapped: kp.Mapped - before.Mapped,
			Filtered: kp.Filtered - before.Filtered, Upserted: kp.Upserted - before.Upserted,
			Unchanged: kp.Unchanged - before.Unchanged, Failed: kp.Failed - before.Failed,
		})
	})
}

// pending is one mapped entity on its way to Port.
type pending struct {
	key     store.EntityKey
	indexed bool // the identifier is a plain string: the index tracks it
	hash    store.EntityHash
	body    json.RawMessage
}

func (k *kindRun) processPage(ctx context.Context, page []map[string]any) error {
	var delta store.Counts
	var samples []string
	delta.Fetched = int64(len(page))
	var out []pending
	for _, item := range page {
		res, err := k.rm.Map(ctx, item)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err != nil {
			delta.Failed++
			samples = append(samples, fmt.Sprintf("item %v: %v", item["id"], err))
			continue
		}
		delta.Filtered += int64(res.Filtered)
		for _, e := range res.Entities {
			body, err := json.Marshal(e)
			if err != nil {
				delta.Failed++
				samples = append(samples, fmt.Sprintf("entity %v: encode: %v", e["identifier"], err))
				continue
			}
			delta.Mapped++
			p := pending{body: body}
			if id, ok := e.Identifier(); ok {
				p.key = store.EntityKey{Blueprint: e.Blueprint(), Identifier: id}
				p.indexed = true
				p.hash = k.hash(body)
			} else {
				p.key = store.EntityKey{Blueprint: e.Blueprint()}
			}
			out = append(out, p)
		}
	}
	changed, err := k.diff(out, &delta)
	if err != nil {
		return err
	}
	updates, err := k.load(ctx, changed, &delta, &samples)
	if err != nil {
		return err
	}
	if err := k.r.cfg.Store.PutEntities(updates); err != nil {
		return fmt.Errorf("update entity index: %w", err)
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
	return nil
}

// hash identifies an entity's content together with the write options: a
// change of merge mode must resend everything.
func (k *kindRun) hash(body []byte) store.EntityHash {
	h := sha256.New()
	h.Write(body)
	h.Write(k.optsTag)
	var out store.EntityHash
	copy(out[:], h.Sum(nil))
	return out
}

// diff drops entities whose hash equals the indexed one.
func (k *kindRun) diff(in []pending, delta *store.Counts) ([]pending, error) {
	var keys []store.EntityKey
	var pos []int
	for i, p := range in {
		if p.indexed {
			keys = append(keys, p.key)
			pos = append(pos, i)
		}
	}
	entries, found, err := k.r.cfg.Store.LookupEntities(keys)
	if err != nil {
		return nil, fmt.Errorf("read entity index: %w", err)
	}
	unchanged := make([]bool, len(in))
	for j, i := range pos {
		if found[j] && entries[j].Hash == in[i].hash {
			unchanged[i] = true
		}
	}
	out := in[:0:0]
	for i, p := range in {
		if unchanged[i] {
			delta.Unchanged++
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// load upserts entities grouped by blueprint and returns the index updates
// for the ones Port accepted.
func (k *kindRun) load(ctx context.Context, in []pending, delta *store.Counts, samples *[]string) ([]store.IndexUpdate, error) {
	byBlueprint := map[string][]pending{}
	var order []string
	for _, p := range in {
		if _, ok := byBlueprint[p.key.Blueprint]; !ok {
			order = append(order, p.key.Blueprint)
		}
		byBlueprint[p.key.Blueprint] = append(byBlueprint[p.key.Blueprint], p)
	}
	type batch struct {
		blueprint string
		items     []pending
	}
	var batches []batch
	for _, bp := range order {
		b := port.NewBatcher()
		var cur []pending
		for _, p := range byBlueprint[bp] {
			if full := b.Add(p.body); full != nil {
				batches = append(batches, batch{bp, cur[:len(full)]})
				cur = cur[len(full):]
			}
			cur = append(cur, p)
		}
		if b.Len() > 0 {
			batches = append(batches, batch{bp, cur})
		}
	}
	var mu sync.Mutex
	var updates []store.IndexUpdate
	var firstErr error
	var wg sync.WaitGroup
	for _, bt := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies := make([]json.RawMessage, len(bt.items))
			for i, p := range bt.items {
				bodies[i] = p.body
			}
			results, err := k.r.cfg.Port.UpsertEntities(ctx, bt.blueprint, bodies, k.opts)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if ctx.Err() != nil {
					if firstErr == nil {
						firstErr = context.Cause(ctx)
					}
					return
				}
				delta.Failed += int64(len(bt.items))
				*samples = append(*samples, fmt.Sprintf("%s: %d entities not written: %v", bt.blueprint, len(bt.items), err))
				return
			}
			for _, res := range results {
				p := bt.items[res.Index]
				if !res.OK {
					delta.Failed++
					*samples = append(*samples, fmt.Sprintf("%s/%s: %d %s: %s", bt.blueprint, p.key.Identifier, res.Status, res.Code, res.Message))
					continue
				}
				delta.Upserted++
				if p.indexed {
					updates = append(updates, store.IndexUpdate{EntityKey: p.key, IndexEntry: store.IndexEntry{Hash: p.hash, ChainID: k.job.ChainID}})
				}
			}
		}()
	}
	wg.Wait()
	return updates, firstErr
}
