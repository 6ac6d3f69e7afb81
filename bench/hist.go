package bench

import (
	"math/bits"
	"time"
)

// histogram records durations in log-linear buckets: 64 buckets per power
// of two, so every recorded value is known within 1.6%, in a fixed 9 KiB
// whatever the count. Each goroutine records into its own histogram (no
// locks, no atomics on the hot path) and the scenario merges them.
type histogram struct {
	counts [histBuckets]uint32
	n      int64
	max    time.Duration
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	// Values up to 2^41 ns (about 37 minutes) have their own bucket; larger
	// ones land in the last.
	histBuckets = (41 - histSubBits + 1) * histSub
)

func histBucket(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1
	i := (shift+1)*histSub + int(v>>uint(shift)) - histSub
	return min(i, histBuckets-1)
}

// histValue is the middle of bucket i.
func histValue(i int) time.Duration {
	if i < histSub {
		return time.Duration(i)
	}
	shift := i/histSub - 1
	lo := uint64(i%histSub+histSub) << uint(shift)
	return time.Duration(lo + (uint64(1)<<uint(shift))/2)
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histBucket(uint64(d))]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the value below which a fraction q of the records lie.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n) + 0.5)
	rank = max(1, min(rank, h.n))
	var seen int64
	for i, c := range h.counts {
		seen += int64(c)
		if seen >= rank {
			return min(histValue(i), h.max)
		}
	}
	return h.max
}

// Latency summarizes a histogram, in microseconds.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p999_us"`
	Max   float64 `json:"max_us"`
}

func (h *histogram) summary() *Latency {
	if h.n == 0 {
		return nil
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return &Latency{
		Count: h.n,
		P50:   us(h.quantile(0.50)),
		P99:   us(h.quantile(0.99)),
		P999:  us(h.quantile(0.999)),
		Max:   us(h.max),
	}
}
