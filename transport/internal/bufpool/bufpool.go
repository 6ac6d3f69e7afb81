// Package bufpool pools byte buffers in power-of-two size classes, so that
// large incoming messages are read into reused memory and an idle
// connection holds no buffer at all.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minShift = 10 // 1 KiB
	maxShift = 25 // 32 MiB: the largest class; above it buffers are not pooled
)

var pools [maxShift - minShift + 1]sync.Pool

func class(n int) int {
	if n <= 1<<minShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minShift
}

// Get returns a buffer of length 0 and capacity at least n.
func Get(n int) *[]byte {
	c := class(n)
	if c >= len(pools) {
		b := make([]byte, 0, n)
		return &b
	}
	if v := pools[c].Get(); v != nil {
		return v.(*[]byte)
	}
	b := make([]byte, 0, 1<<(c+minShift))
	return &b
}

// Put returns b to its pool. b must not be used afterwards.
func Put(b *[]byte) {
	c := cap(*b)
	if c < 1<<minShift || c&(c-1) != 0 {
		return // not one of ours
	}
	i := bits.Len(uint(c)) - 1 - minShift
	if i >= len(pools) {
		return
	}
	*b = (*b)[:0]
	pools[i].Put(b)
}
