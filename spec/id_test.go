package spec

import (
	"sync"
	"testing"
)

func TestIDGenSequenceAndWrap(t *testing.T) {
	var g IDGen
	for want := ID(1); want <= 3; want++ {
		if got := g.Next(); got != want {
			t.Fatalf("Next() = %d, want %d", got, want)
		}
	}
	g.n.Store(uint64(MaxID) - 1)
	if got := g.Next(); got != MaxID {
		t.Fatalf("Next() = %d, want 2^53", got)
	}
	if got := g.Next(); got != 1 {
		t.Fatalf("after 2^53, Next() = %d, want 1", got)
	}
}

func TestIDGenConcurrent(t *testing.T) {
	var g IDGen
	const workers, each = 8, 1000
	seen := make([][]ID, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				seen[w] = append(seen[w], g.Next())
			}
		}()
	}
	wg.Wait()
	all := map[ID]bool{}
	for _, ids := range seen {
		for _, id := range ids {
			if all[id] {
				t.Fatalf("ID %d issued twice", id)
			}
			all[id] = true
		}
	}
	if len(all) != workers*each {
		t.Fatalf("%d distinct IDs", len(all))
	}
}

func TestGlobalIDRange(t *testing.T) {
	seen := map[ID]bool{}
	var high int
	for range 20000 {
		id := GlobalID()
		if id < 1 || id > MaxID {
			t.Fatalf("GlobalID() = %d out of [1, 2^53]", id)
		}
		if id > MaxID/2 {
			high++
		}
		seen[id] = true
	}
	if len(seen) < 19990 {
		t.Fatalf("only %d distinct of 20000 random IDs", len(seen))
	}
	// Uniform over [1, 2^53]: about half land in the upper half.
	if high < 9000 || high > 11000 {
		t.Fatalf("%d of 20000 IDs above 2^52: not uniform", high)
	}
}

func TestAsID(t *testing.T) {
	for v, want := range map[any]bool{
		int64(1): true, int64(MaxID): true, int64(MaxID) + 1: false, int64(0): false, int64(-1): false,
		uint64(MaxID): true, uint64(1 << 63): false, 1: true, 5.0: true, 5.5: false, float64(MaxID) * 2: false,
		"1": false, nil: false, true: false,
	} {
		if _, ok := AsID(v); ok != want {
			t.Errorf("AsID(%#v) ok = %v, want %v", v, ok, want)
		}
	}
}
