package spec

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// GlobalID returns a uniformly random ID in [1, 2^53], as the spec requires
// for session and publication IDs (global scope). Random IDs keep session IDs
// unique across processes, which a future multi-node realm relies on.
func GlobalID() ID {
	var b [8]byte
	for {
		globalRand(b[:])
		n := binary.LittleEndian.Uint64(b[:]) & (1<<54 - 1)
		// n is uniform in [0, 2^54); keep [1, 2^53] and draw again otherwise.
		if n >= 1 && n <= uint64(MaxID) {
			return ID(n)
		}
	}
}

// globalRand fills b from a buffered crypto/rand source: one syscall per
// 512 IDs instead of one per publication.
var globalRand = func() func([]byte) {
	var (
		mu  sync.Mutex
		buf [4096]byte
		pos = len(buf)
	)
	return func(b []byte) {
		mu.Lock()
		if pos+len(b) > len(buf) {
			if _, err := rand.Read(buf[:]); err != nil {
				panic("spec: crypto/rand failed: " + err.Error())
			}
			pos = 0
		}
		copy(b, buf[pos:pos+len(b)])
		pos += len(b)
		mu.Unlock()
	}
}()

// IDGen hands out router-scope IDs (subscriptions, registrations) or
// session-scope request IDs: 1, 2, 3, ... wrapping to 1 after 2^53.
// The zero value is ready to use and safe for concurrent use.
type IDGen struct {
	n atomic.Uint64
}

// Next returns the next ID.
func (g *IDGen) Next() ID {
	for {
		old := g.n.Load()
		next := old + 1
		if next > uint64(MaxID) {
			next = 1
		}
		if g.n.CompareAndSwap(old, next) {
			return ID(next)
		}
	}
}

// Last returns the most recently issued ID, or 0 before the first.
func (g *IDGen) Last() ID { return ID(g.n.Load()) }
