package resync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"

	"oceand/port"
	"oceand/store"
)

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
	// Up to InFlightBatches workers, started as the work needs them, each
	// sending batch after batch: a goroutine per batch would grow a fresh
	// stack through HTTP and JSON for every one of them.
	work := make(chan batch)
	var wg sync.WaitGroup
	workers := 0
	dispatch := func(bt batch) {
		select {
		case work <- bt:
			return
		default:
		}
		if workers < k.j.r.cfg.InFlightBatches {
			workers++
			wg.Add(1)
			go func() {
				defer wg.Done()
				k.upsert(ctx, bt)
				for bt := range work {
					k.upsert(ctx, bt)
				}
			}()
			return
		}
		select {
		case work <- bt:
		case <-ctx.Done():
		}
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
	close(work)
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
	changes := make([]store.IndexChange, 0, len(bt.items))
	seen := seenMarks{keys: make([]store.EntityKey, 0, len(bt.items)), marks: make([]uint8, 0, len(bt.items))}
	failed := func(p *pending) {
		if !p.indexed {
			return
		}
		seen.add(p.key, p.prevMarks(k.j.chain))
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
		k.tally(bt.blueprint, blueprintWrites{refused: delta.Failed, firstRefusal: err.Error()})
		for _, p := range bt.items {
			failed(p)
		}
	} else {
		var refusal string
		defer func() {
			k.tally(bt.blueprint, blueprintWrites{accepted: delta.Upserted, refused: delta.Failed, firstRefusal: refusal})
		}()
		for _, res := range results {
			p := bt.items[res.Index]
			switch {
			case res.OK:
				delta.Upserted++
				if p.indexed {
					seen.add(p.key, seenWritten|seenIndexed)
					changes = append(changes, store.IndexChange{EntityKey: p.key, Op: store.OpWritten, Hash: p.hash, ItemHash: p.itemHash, Chain: k.j.chain, Resource: k.rm.Index})
				}
			case !p.indexed && res.Identifier == "unknown":
				// A search identifier that matched nothing: Port drops
				// the entity, as for Ocean.
				delta.Filtered++
			default:
				delta.Failed++
				if refusal == "" {
					refusal = fmt.Sprintf("%d %s: %s", res.Status, res.Code, res.Message)
				}
				if len(samples) < maxSamples {
					samples = append(samples, fmt.Sprintf("%s/%s: %d %s: %s", bt.blueprint, p.key.Identifier, res.Status, res.Code, res.Message))
				}
				failed(p)
			}
		}
	}
	k.j.seen.markAll(&seen)
	if werr := k.j.writer.add(changes, nil, k.rm.Index, nil, func() { k.count(delta, samples) }); werr != nil {
		k.cancel(fmt.Errorf("write entity index: %w", werr))
	}
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
