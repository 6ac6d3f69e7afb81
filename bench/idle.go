package bench

import (
	"context"
	"fmt"
	"net"
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
	// Checkpoints are the session counts below Count at which the
	// target's memory is read on the way up (default 10,000, 50,000 and
	// 100,000).
	Checkpoints []int64
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
		// Long enough for an idle session to be idle: Switchyard parks a
		// RawSocket session that received nothing for one to two seconds
		// and returns the freed memory at the next sweep, a second later.
		o.Settle = 5 * time.Second
	}
}

// maxIdleErrors stops the opening phase once this many sessions failed:
// past it the failures are all the same (a file descriptor limit, usually)
// and a 10,000-session run would only repeat them.
const maxIdleErrors = 100

// idleCheckpoints are the session counts at which a large idle run reads
// the target's memory on the way up, so that one run shows whether the cost
// per session holds as the count grows.
var idleCheckpoints = []int64{10_000, 50_000, 100_000}

// checkpoints returns the counts at which the run reads memory: those of
// idleCheckpoints below Count, then Count.
func (o *Idle) checkpoints() []int64 {
	var cps []int64
	points := o.Checkpoints
	if points == nil {
		points = idleCheckpoints
	}
	for _, n := range points {
		if n < o.Count {
			cps = append(cps, n)
		}
	}
	return append(cps, o.Count)
}

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
	spread := spreadSources(ep)
	if !spread && o.Count > 20_000 {
		res.note("the target is not an IPv4 loopback address: every session dials from one address, whose ephemeral ports may run out")
	}
	clients := make([]*client.Client, o.Count)
	defer closeClients(clients, o.Concurrency)

	var errMu sync.Mutex
	errs := map[string]int64{}
	var failures atomic.Int64
	openCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	o.Meter.begin(t.Label+" idle", "sessions", o.Count, o.Duration)
	m := startMeasure(t.PID, false)
	rssBefore := int64(-1)
	if t.PID > 0 {
		if rss, err := readRSS(t.PID); err == nil {
			rssBefore = rss
		}
	}
	is := &IdleStats{}
	var openTime time.Duration
	var opened int64 // sessions attempted so far
	for _, cp := range o.checkpoints() {
		phaseStart := time.Now()
		first := opened
		err = parallel(openCtx, int(cp-first), o.Concurrency, func(j int) error {
			i := first + int64(j)
			cfg := cfg
			if spread {
				cfg.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: sourceAddr(i)}}
			}
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
		phase := time.Since(phaseStart)
		openTime += phase
		opened = cp
		if err != nil || ctxDone(openCtx) {
			break
		}
		select {
		case <-time.After(o.Settle):
		case <-ctx.Done():
			return res, ctx.Err()
		}
		pt := IdlePoint{Target: cp, Sessions: countAlive(clients[:cp])}
		if phase > 0 {
			pt.ConnectRate = float64(cp-first) / phase.Seconds()
		}
		if rssBefore >= 0 {
			if rss, err := readRSS(t.PID); err == nil {
				pt.RSS = rss
				if pt.Sessions > 0 {
					pt.BytesPerSession = float64(rss-rssBefore) / float64(pt.Sessions)
				}
			}
		}
		is.Curve = append(is.Curve, pt)
	}
	res.addErrors(errs)
	if err != nil && !ctxDone(openCtx) {
		return res, err
	}
	if ctxDone(openCtx) && !ctxDone(ctx) {
		res.note("the opening phase reached its duration bound (%s)", o.Duration)
		select {
		case <-time.After(o.Settle):
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	var open int64
	for _, c := range clients {
		if c != nil {
			open++
		}
	}
	alive := countAlive(clients)
	if alive < open {
		res.Errors["closed while idle"] += open - alive
	}
	is.Sessions = alive
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

// countAlive counts the clients open and not closed.
func countAlive(clients []*client.Client) int64 {
	var n int64
	for _, c := range clients {
		if c == nil {
			continue
		}
		select {
		case <-c.Done():
		default:
			n++
		}
	}
	return n
}

// spreadSources reports whether the sessions can dial from addresses spread
// over 127.0.0.0/8: the target is a TCP endpoint on an IPv4 loopback
// address. One source address has about 28,000 ephemeral ports towards one
// router port (Linux's default range), too few for 100,000 sessions.
func spreadSources(ep endpoint) bool {
	if ep.network != "tcp" {
		return false
	}
	host, _, err := net.SplitHostPort(ep.address)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.To4() != nil && ip.IsLoopback()
}

// sourceAddr is the local address session i dials from: 127.1.x.y, so that
// 100,000 sessions use about two ports per address.
func sourceAddr(i int64) net.IP {
	a := i % (254 * 254)
	return net.IPv4(127, 1, byte(a/254+1), byte(a%254+1))
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
