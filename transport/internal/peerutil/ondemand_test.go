package peerutil

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// onDemandHarness is a writer fed by many producers: each producer adds
// work, then kicks, as a peer's Send does.
type onDemandHarness struct {
	w        OnDemand
	pending  atomic.Int64 // work added and not yet taken
	taken    atomic.Int64
	running  atomic.Int32 // writers inside run at this moment
	overlaps atomic.Int32 // times two writers ran at once
	starts   atomic.Int64
	wg       sync.WaitGroup
}

func newOnDemandHarness() *onDemandHarness {
	h := &onDemandHarness{}
	h.w.SetRun(h.run)
	return h
}

func (h *onDemandHarness) run() {
	h.wg.Add(1)
	defer h.wg.Done()
	h.starts.Add(1)
	for {
		if h.running.Add(1) > 1 {
			h.overlaps.Add(1)
		}
		n := h.pending.Swap(0)
		h.taken.Add(n)
		h.running.Add(-1)
		if h.w.Idle(func() bool { return h.pending.Load() > 0 }) {
			return
		}
	}
}

func (h *onDemandHarness) add() {
	h.pending.Add(1)
	h.w.Kick()
}

// TestOnDemandNeverStrandsWork: whatever the interleaving of producers and
// an exiting writer, every piece of work added before a Kick is taken by
// some writer, and two writers never run at once.
func TestOnDemandNeverStrandsWork(t *testing.T) {
	const producers, each = 8, 20000
	h := newOnDemandHarness()
	var wg sync.WaitGroup
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				h.add()
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for h.taken.Load() != producers*each {
		if time.Now().After(deadline) {
			t.Fatalf("work stranded: %d of %d taken, %d pending, state %d", h.taken.Load(), producers*each, h.pending.Load(), h.w.state.Load())
		}
		time.Sleep(time.Millisecond)
	}
	h.wg.Wait()
	if n := h.overlaps.Load(); n != 0 {
		t.Fatalf("two writers ran at once %d times", n)
	}
	if h.w.state.Load() != writerIdle {
		t.Fatalf("state %d after the writer exited, want idle", h.w.state.Load())
	}
	t.Logf("%d writer starts for %d pieces of work", h.starts.Load(), producers*each)
}

// TestOnDemandFinish: after Finish no Kick starts a writer.
func TestOnDemandFinish(t *testing.T) {
	var starts atomic.Int32
	var w OnDemand
	done := make(chan struct{})
	w.SetRun(func() {
		starts.Add(1)
		w.Finish()
		close(done)
	})
	w.Kick()
	<-done
	for range 100 {
		w.Kick()
	}
	time.Sleep(10 * time.Millisecond)
	if n := starts.Load(); n != 1 {
		t.Fatalf("writer started %d times, want 1 (none after Finish)", n)
	}
}

// TestOnDemandKickDoesNotAllocate guards Send's path: a Kick while a
// writer runs costs no allocation.
func TestOnDemandKickDoesNotAllocate(t *testing.T) {
	var w OnDemand
	w.SetRun(func() {})
	w.state.Store(writerRunning)
	if n := testing.AllocsPerRun(100, w.Kick); n != 0 {
		t.Fatalf("Kick allocates %.1f times while a writer runs", n)
	}
}
