// Package gcfloor keeps the garbage collector from running while the heap
// is small.
//
// Go's collector aims the next cycle at the live heap times (1 + GOGC/100),
// with a 4 MiB minimum. A router's live heap between bursts is small — about
// 1 MiB for a handful of busy sessions — while it allocates a few hundred
// bytes per message, so under load it collected some 50 times a second,
// each cycle with its fixed costs and a stretch of write barriers. Holding
// the heap goal at a floor (16 MiB by default) removes most of those cycles
// and costs at most the floor in memory; once the live heap is large enough
// that GOGC's own goal passes the floor, the floor does nothing.
//
// The floor is kept by moving GOGC after each collection, within bounds:
// never below the GOGC the process started with, and never so high that the
// runtime's own minimum heap (4 MiB × GOGC/100) passes the floor. GOMEMLIMIT
// still caps the heap as it always does.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// runtimeHeapMinimum is the Go runtime's minimum heap goal at GOGC=100; it
// scales with GOGC.
const runtimeHeapMinimum = 4 << 20

// Floor holds the heap goal at no less than a number of bytes until Stop.
type Floor struct {
	floor   uint64
	base    int // GOGC when Start ran
	stopped atomic.Bool

	mu      sync.Mutex // serializes tune and Stop
	percent int        // the GOGC last set
	samples []metrics.Sample
}

// Start keeps the heap goal at floor bytes or more. A zero floor, or a
// process whose GOGC is off, gets a Floor that does nothing.
func Start(floor uint64) *Floor {
	f := &Floor{floor: floor, samples: []metrics.Sample{
		{Name: "/gc/gogc:percent"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
	}}
	metrics.Read(f.samples)
	f.base = int(f.samples[0].Value.Uint64())
	f.percent = f.base
	if floor == 0 || f.base <= 0 {
		f.stopped.Store(true)
		return f
	}
	f.tune()
	f.arm()
	return f
}

// Stop gives GOGC back the value it had when Start ran.
func (f *Floor) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped.Swap(true) {
		return
	}
	if f.percent != f.base {
		debug.SetGCPercent(f.base)
		f.percent = f.base
	}
}

// sentinel is garbage whose cleanup marks the end of a collection. It holds
// a pointer so that it is never one of the tiny allocations the runtime
// packs together (their cleanups may never run).
type sentinel struct{ _ *byte }

// arm asks to be told of the next collection: a fresh sentinel, unreachable
// at once, is cleaned up after the cycle that finds it.
func (f *Floor) arm() {
	runtime.AddCleanup(&sentinel{}, (*Floor).afterGC, f)
}

// afterGC runs on the runtime's cleanup goroutine after a collection.
func (f *Floor) afterGC() {
	if f.stopped.Load() {
		return
	}
	f.tune()
	f.arm()
}

// tune sets GOGC for the heap the last collection left.
func (f *Floor) tune() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped.Load() {
		return
	}
	metrics.Read(f.samples)
	live := f.samples[1].Value.Uint64()
	roots := f.samples[2].Value.Uint64() + f.samples[3].Value.Uint64()
	if p := Percent(f.floor, f.base, live, roots); p != f.percent {
		debug.SetGCPercent(p)
		f.percent = p
	}
}

// Percent is the GOGC that aims the next collection at floor for a live
// heap of live bytes and roots bytes of stacks and globals (the runtime's
// goal is live + (live+roots)×GOGC/100), bounded below by base and above by
// the GOGC at which the runtime's minimum heap reaches the floor.
func Percent(floor uint64, base int, live, roots uint64) int {
	most := int(floor * 100 / runtimeHeapMinimum)
	if most <= base {
		return base
	}
	if live >= floor {
		return base
	}
	p := most
	if scanned := live + roots; scanned > 0 {
		if q := (floor - live) * 100 / scanned; q < uint64(most) {
			p = int(q)
		}
	}
	return max(p, base)
}
