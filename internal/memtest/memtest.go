// Package memtest measures, for tests, how much heap a piece of code
// takes at its peak.
package memtest

import (
	"runtime"
	"runtime/metrics"
	"time"
)

// heapObjects is the heap held by objects, live or not yet swept.
const heapObjects = "/memory/classes/heap/objects:bytes"

// Peak runs f and returns the highest heap it reached above the heap
// before it, sampled every half millisecond (and once at the end). The
// garbage collector runs first so the baseline is the live heap. Other
// goroutines allocating at the same time are counted too: measure in a
// test that is not parallel.
func Peak(f func()) uint64 {
	runtime.GC()
	base := read()
	top := Highest(f)
	if top < base {
		return 0
	}
	return top - base
}

// Highest runs f and returns the highest heap (live or not yet swept)
// seen while it ran, sampled every half millisecond and once at the end.
// It does not collect garbage first, so it is cheap enough to call on
// every input of a fuzz target, whose own heap stays small.
func Highest(f func()) uint64 {
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var top uint64
		tick := time.NewTicker(500 * time.Microsecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				peak <- max(top, read())
				return
			case <-tick.C:
				top = max(top, read())
			}
		}
	}()
	f()
	close(done)
	return <-peak
}

func read() uint64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
