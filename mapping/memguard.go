package mapping

import (
	"context"
	"errors"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// DefaultMemoryBudgetWithoutLimit is the jq memory budget when the Go
// runtime has no memory limit (no GOMEMLIMIT, no container limit).
const DefaultMemoryBudgetWithoutLimit = 512 << 20

// memoryCheckInterval is how often the heap is sampled while jq runs.
const memoryCheckInterval = 5 * time.Millisecond

// minCollectInterval spaces the garbage collections the watchdog forces,
// so a live heap that stays over the budget (for reasons other than jq)
// costs at most a collection every 50 ms.
const minCollectInterval = 50 * time.Millisecond

// errOverBudget is the cause a jq evaluation is stopped with when the
// heap passes the memory budget.
var errOverBudget = errors.New("jq exceeded the memory budget")

// defaultMemoryBudget is half the Go runtime's memory limit (GOMEMLIMIT,
// or the 90% of a container's limit oceand sets), else
// DefaultMemoryBudgetWithoutLimit: a runaway program is stopped well
// before the garbage collector starts thrashing near the limit.
func defaultMemoryBudget() uint64 {
	limit := debug.SetMemoryLimit(-1)
	if limit <= 0 || limit == math.MaxInt64 {
		return DefaultMemoryBudgetWithoutLimit
	}
	return uint64(limit / 2)
}

// memGuard stops the jq evaluations of a Mapping when the heap grows past
// the budget. gojq checks its context at every instruction, so a program
// that builds a huge value ([range(1e8)]) or recurses without end
// (def f: 1+f; f) is stopped within a few milliseconds of crossing it;
// the time limit alone lets it take gigabytes first. Go cannot tell which
// goroutine allocated, so every evaluation running at that moment is
// stopped (each fails its item, naming the budget). A watchdog goroutine
// samples the heap only while evaluations run. The budget is where jq is
// stopped, not a ceiling: a value that grows by doubling can pass it by
// one doubling first (measured: peaks of 1.4 to 3.5 times a 32 MiB budget).
// A single builtin call that allocates at once ("x" * 1e9) is not
// interrupted.
type memGuard struct {
	budget uint64

	mu       sync.Mutex
	running  map[uint64]context.CancelCauseFunc
	next     uint64
	watching bool
	// threshold is the heap (live or not yet swept) at which the
	// watchdog collects garbage to see whether the live heap is past the
	// budget; raised after a false alarm so a large but steady heap does
	// not make it collect at every tick.
	threshold uint64
}

func newMemGuard(budget uint64) *memGuard {
	return &memGuard{budget: budget, threshold: budget, running: map[uint64]context.CancelCauseFunc{}}
}

// enter registers an evaluation; the guard calls cancel with errOverBudget
// if the heap passes the budget before release is called.
func (g *memGuard) enter(cancel context.CancelCauseFunc) (release func()) {
	if g == nil {
		return func() {}
	}
	g.mu.Lock()
	id := g.next
	g.next++
	g.running[id] = cancel
	if !g.watching {
		g.watching = true
		go g.watch()
	}
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		delete(g.running, id)
		g.mu.Unlock()
	}
}

func (g *memGuard) watch() {
	tick := time.NewTicker(memoryCheckInterval)
	defer tick.Stop()
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var collected time.Time
	for now := range tick.C {
		g.mu.Lock()
		if len(g.running) == 0 {
			g.watching = false
			g.mu.Unlock()
			return
		}
		threshold := g.threshold
		g.mu.Unlock()
		metrics.Read(heap)
		if heap[0].Value.Uint64() < threshold || now.Sub(collected) < minCollectInterval {
			continue
		}
		// Part of that may be garbage: collect, then judge the live heap.
		runtime.GC()
		collected = time.Now()
		metrics.Read(live)
		l := live[0].Value.Uint64()
		g.mu.Lock()
		g.threshold = max(g.budget, 2*l)
		if l > g.budget {
			for id, cancel := range g.running {
				cancel(errOverBudget)
				delete(g.running, id)
			}
			g.threshold = g.budget
		}
		g.mu.Unlock()
	}
}
