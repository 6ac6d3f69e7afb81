package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/transport"
)

// Idle opens Count sessions (default 10,000) with package client and holds
// them open. With the target's pid it reports the target's resident memory
// before and with the sessions, and the difference per session: the figure
// that decides how many devices one router can hold.
//
// RSS is what the operating system charges the process, garbage not yet
// collected included; measure against a freshly started router, which is
// what an operator sizing a machine sees.
type Idle struct {
	Common
	// Concurrency is how many sessions are being opened at once (default 32).
	Concurrency int
	// Settle is the wait between the last session opening and the memory
	// reading, so that the router finishes its setup work (default 2s).
	Settle time.Duration
	// Hold keeps the sessions open this much longer after the reading
	// (default 0).
	Hold time.Duration
	// Held, if set, is called while the sessions are held, after the
	// reading: the CLI takes the in-process router's heap profile there.
	Held func()
}

// Name implements Scenario.
func (*Idle) Name() string { return "idle" }

func (o *Idle) setDefaults() {
	// Duration bounds the opening phase.
	o.Common.setDefaults(10_000, 2*time.Minute)
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.Settle <= 0 {
		o.Settle = 2 * time.Second
	}
}

// maxIdleErrors stops the opening phase once this many sessions failed:
// past it the failures are all the same (a file descriptor limit, usually)
// and a 10,000-session run would only repeat them.
const maxIdleErrors = 100

// Run implements Scenario.
func (o *Idle) Run(ctx context.Context, t Target) (*Result, error) {
	o.setDefaults()
	ep, _, err := o.prepare(ctx, t, transport.Options{})
	if err != nil {
		return nil, err
	}
	if err := raiseFileLimit(int(o.Count) + 256); err != nil {
		return nil, err
	}
	res := newResult(o.Name(), t, ep, o.Serializer, "sessions", map[string]any{
		"sessions": o.Count, "concurrency": o.Concurrency, "settle_s": o.Settle.Seconds(), "hold_s": o.Hold.Seconds(),
	})
	cfg := o.clientConfig()
	clients := make([]*client.Client, o.Count)
	defer closeClients(clients, o.Concurrency)

	var errMu sync.Mutex
	errs := map[string]int64{}
	var failures atomic.Int64
	openCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	o.Meter.begin(t.Label+" idle", "sessions", o.Count, o.Duration)
	m := startMeasure(t.PID, false)
	start := time.Now()
	err = parallel(openCtx, int(o.Count), o.Concurrency, func(i int) error {
		c, err := client.Connect(openCtx, t.URL, cfg)
		if err != nil {
			if ctxDone(openCtx) {
				return nil
			}
			errMu.Lock()
			errs[classify(err)]++
			errMu.Unlock()
			if failures.Add(1) >= maxIdleErrors {
				return fmt.Errorf("bench: idle: %d sessions failed to open, the last: %w", maxIdleErrors, err)
			}
			return nil
		}
		clients[i] = c
		o.Meter.add(1)
		return nil
	})
	openTime := time.Since(start)
	res.addErrors(errs)
	if err != nil && !ctxDone(openCtx) {
		return res, err
	}
	if ctxDone(openCtx) && !ctxDone(ctx) {
		res.note("the opening phase reached its duration bound (%s)", o.Duration)
	}
	var open int64
	for _, c := range clients {
		if c != nil {
			open++
		}
	}
	select {
	case <-time.After(o.Settle):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	alive := int64(0)
	for _, c := range clients {
		if c == nil {
			continue
		}
		select {
		case <-c.Done():
		default:
			alive++
		}
	}
	if alive < open {
		res.Errors["closed while idle"] += open - alive
	}
	is := &IdleStats{Sessions: alive}
	if openTime > 0 {
		is.ConnectRate = float64(open) / openTime.Seconds()
	}
	res.setRate(open, openTime)
	m.finish(res, open)
	if p := res.Process; p != nil && alive > 0 {
		is.BytesPerSession = float64(p.RSSAfter-p.RSSBefore) / float64(alive)
	}
	res.Idle = is
	if o.Held != nil {
		o.Held()
	}
	if o.Hold > 0 {
		select {
		case <-time.After(o.Hold):
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	return res, nil
}

// closeClients closes every open client, concurrency at a time, each within
// five seconds.
func closeClients(clients []*client.Client, concurrency int) {
	_ = parallel(context.Background(), len(clients), concurrency, func(i int) error {
		if c := clients[i]; c != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c.Close(ctx)
		}
		return nil
	})
}
