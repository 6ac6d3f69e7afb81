package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Meter lets a progress display follow the scenario that is running. A
// scenario calls begin when its measured phase starts and add as work
// completes; the display polls Snapshot. All methods are safe for concurrent
// use, and a nil *Meter ignores everything, so scenarios need not check.
type Meter struct {
	done atomic.Int64

	mu       sync.Mutex // Protects the fields below.
	label    string
	unit     string
	total    int64
	duration time.Duration
	start    time.Time
}

func (m *Meter) begin(label, unit string, total int64, d time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.label, m.unit, m.total, m.duration, m.start = label, unit, total, d, time.Now()
	m.mu.Unlock()
	m.done.Store(0)
}

func (m *Meter) add(n int64) {
	if m != nil {
		m.done.Add(n)
	}
}

// MeterState is what a Meter shows at one moment.
type MeterState struct {
	Label, Unit string
	Done, Total int64
	Elapsed     time.Duration
	Duration    time.Duration
}

// Fraction is how far along the scenario is: the larger of the count and
// the time fractions, since it ends at whichever bound comes first.
func (s MeterState) Fraction() float64 {
	f := 0.0
	if s.Total > 0 {
		f = float64(s.Done) / float64(s.Total)
	}
	if s.Duration > 0 {
		f = max(f, float64(s.Elapsed)/float64(s.Duration))
	}
	return min(f, 1)
}

// Snapshot returns the current state; ok is false before the first begin.
func (m *Meter) Snapshot() (s MeterState, ok bool) {
	if m == nil {
		return s, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.start.IsZero() {
		return s, false
	}
	return MeterState{
		Label: m.label, Unit: m.unit,
		Done: m.done.Load(), Total: m.total,
		Elapsed: time.Since(m.start), Duration: m.duration,
	}, true
}

// ShowProgress draws m as a one-line bar on w (a terminal) every 200 ms
// until the returned stop function is called; stop joins the drawing
// goroutine and clears the line. The caller decides whether w is a
// terminal: a bar written to a file or pipe is noise.
func ShowProgress(ctx context.Context, w io.Writer, m *Meter) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				if s, ok := m.Snapshot(); ok {
					fmt.Fprint(w, "\r\033[K"+renderBar(s, 30))
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

func renderBar(s MeterState, width int) string {
	f := s.Fraction()
	n := int(f * float64(width))
	return fmt.Sprintf("%-22s [%s%s] %3.0f%%  %s %s  %.1fs",
		s.Label, strings.Repeat("#", n), strings.Repeat(".", width-n), 100*f,
		groupDigits(s.Done), s.Unit, s.Elapsed.Seconds())
}
