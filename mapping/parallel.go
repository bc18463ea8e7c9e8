package mapping

import (
	"context"
	"sync"
	"sync/atomic"
)

// ItemResult is what MapItems made of one item: Map's result and error.
type ItemResult struct {
	Result
	Err error
}

// MapItems maps a page of items on the idle cores and returns the results
// in item order, as Map would one by one.
//
// The caller's goroutine always works; it is joined by helpers only while
// the mapping's Options.Parallelism allows (one token per helper, shared by
// every caller of this Mapping). So one large page spreads over all cores,
// while several pages mapped at once (the resync's page workers) each keep
// to their own goroutine instead of piling goroutines onto busy cores.
// Items are handed out in chunks so the coordination costs a few atomic
// operations per chunk, not per item.
func (r *ResourceMapper) MapItems(ctx context.Context, items []map[string]any) []ItemResult {
	n := len(items)
	out := make([]ItemResult, n)
	if n == 0 {
		return out
	}
	workers := cap(r.helpers) + 1
	chunk := max(1, min(64, n/(8*workers)))
	var next atomic.Int64
	work := func() {
		for {
			start := int(next.Add(int64(chunk))) - chunk
			if start >= n {
				return
			}
			for i := start; i < min(start+chunk, n); i++ {
				if ctx.Err() != nil {
					out[i].Err = context.Cause(ctx)
					continue
				}
				out[i].Result, out[i].Err = r.Map(ctx, items[i])
			}
		}
	}
	var wg sync.WaitGroup
	chunks := (n + chunk - 1) / chunk
helpers:
	for range chunks - 1 {
		select {
		case r.helpers <- struct{}{}:
			wg.Go(func() {
				defer func() { <-r.helpers }()
				work()
			})
		default:
			break helpers // every core is busy already
		}
	}
	work()
	wg.Wait()
	return out
}
