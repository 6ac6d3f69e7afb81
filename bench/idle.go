package bench

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
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
	// SessionURLs, if set, spread the sessions round robin over these
	// routers (the nodes of a cluster, or routers side by side: one
	// process holds only as many sessions as its file limit) instead of
	// the target's URL. The target's pids are still the ones measured.
	SessionURLs []string
	// Workers is how many processes open and hold the sessions; 0 chooses
	// from this process's hard file limit: one process (this one) when it
	// allows Count sessions, else as many workers as needed. Concurrency
	// is shared among them.
	Workers int
	// WorkerCommand starts a worker process: the generator's own binary
	// with the arguments that make it call RunIdleWorker. Without it every
	// session is opened in this process.
	WorkerCommand []string
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
	urls := o.SessionURLs
	if len(urls) == 0 {
		urls = []string{t.URL}
	}
	workers, err := o.workerCount()
	if err != nil {
		return nil, err
	}
	res := newResult(o.Name(), t, ep, o.Serializer, "sessions", map[string]any{
		"sessions": o.Count, "concurrency": o.Concurrency, "settle_s": o.Settle.Seconds(), "hold_s": o.Hold.Seconds(),
		"workers": workers,
	})
	if len(o.SessionURLs) > 0 {
		res.Params["session_urls"] = strings.Join(o.SessionURLs, ",")
	}
	for _, u := range urls {
		uep, err := parseEndpoint(u)
		if err != nil {
			return nil, err
		}
		if !spreadSources(uep) && o.Count/int64(len(urls)) > 20_000 {
			res.note("%s is not an IPv4 loopback address: every session to it dials from one address, whose ephemeral ports may run out", u)
		}
	}
	openers, workerPIDs, err := o.startOpeners(ctx, urls, workers)
	if err != nil {
		return nil, err
	}
	defer closeOpeners(openers)

	openStart := time.Now()
	openDeadline := openStart.Add(o.Duration)
	o.Meter.begin(t.Label+" idle", "sessions", o.Count, o.Duration)
	m := startMeasure(t.pids(), false)
	workersBefore, _ := readProcs(workerPIDs)
	rssBefore := int64(-1)
	if t.PID > 0 {
		if rss, err := readRSSs(t.pids()); err == nil {
			rssBefore = rss
		}
	}
	is := &IdleStats{}
	var openTime time.Duration
	var opened int64 // sessions attempted so far
	var timedOut bool
	for _, cp := range o.checkpoints() {
		phaseStart := time.Now()
		first := opened
		phaseErrs, err := openAll(ctx, openers, cp, openDeadline)
		res.addErrors(phaseErrs)
		phase := time.Since(phaseStart)
		openTime += phase
		opened = cp
		timedOut = !time.Now().Before(openDeadline)
		if err != nil || timedOut || ctxDone(ctx) {
			if err != nil && !ctxDone(ctx) {
				return res, err
			}
			break
		}
		select {
		case <-time.After(o.Settle):
		case <-ctx.Done():
			return res, ctx.Err()
		}
		_, alive, err := heldAll(ctx, openers)
		if err != nil {
			return res, err
		}
		pt := IdlePoint{Target: cp, Sessions: alive}
		if phase > 0 {
			pt.ConnectRate = float64(cp-first) / phase.Seconds()
		}
		if rssBefore >= 0 {
			if rss, err := readRSSs(t.pids()); err == nil {
				pt.RSS = rss
				if pt.Sessions > 0 {
					pt.BytesPerSession = float64(rss-rssBefore) / float64(pt.Sessions)
				}
			}
		}
		is.Curve = append(is.Curve, pt)
	}
	if ctxDone(ctx) {
		return res, ctx.Err()
	}
	if timedOut {
		res.note("the opening phase reached its duration bound (%s)", o.Duration)
		select {
		case <-time.After(o.Settle):
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	open, alive, err := heldAll(ctx, openers)
	if err != nil {
		return res, err
	}
	if alive < open {
		res.Errors["closed while idle"] += open - alive
	}
	is.Sessions = alive
	if openTime > 0 {
		is.ConnectRate = float64(open) / openTime.Seconds()
	}
	res.setRate(open, openTime)
	m.finish(res, open)
	if len(workerPIDs) > 0 {
		// The workers did the generator's work: their CPU is its CPU.
		if after, err := readProcs(workerPIDs); err == nil {
			res.Generator.addCPU(after.cpu-workersBefore.cpu, open, time.Since(openStart))
		}
	}
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

// workerCount is how many worker processes open the sessions: Workers, or
// (Workers 0) none when this process's file limit holds them all, else as
// many as the limit requires, when WorkerCommand can start them. 1 means
// this process opens them.
func (o *Idle) workerCount() (int, error) {
	if o.Workers > 0 {
		if o.Workers > 1 && len(o.WorkerCommand) == 0 {
			return 0, errors.New("bench: idle: worker processes need a WorkerCommand")
		}
		return o.Workers, nil
	}
	perProcess := hardFileLimit() - idleFileReserve
	if len(o.WorkerCommand) == 0 || perProcess <= 0 || o.Count <= perProcess {
		return 1, nil
	}
	return int((o.Count + perProcess - 1) / perProcess), nil
}

// startOpeners returns the openers of a run: this process, or workers
// worker processes (and their pids).
func (o *Idle) startOpeners(ctx context.Context, urls []string, workers int) ([]opener, []int, error) {
	if workers <= 1 {
		if err := raiseFileLimit(int(o.Count) + idleFileReserve); err != nil {
			return nil, nil, err
		}
		l, err := newLocalOpener(ctx, &o.Common, urls, 0, 1, o.Concurrency, func() { o.Meter.add(1) })
		if err != nil {
			return nil, nil, err
		}
		return []opener{l}, nil, nil
	}
	var openers []opener
	var pids []int
	for w := range workers {
		wo, err := startWorker(o.WorkerCommand, idleWorkerSpec{
			URLs: urls, Serializer: o.Serializer, Realm: o.Realm, AllowRemote: o.AllowRemote,
			TLSInsecure: o.TLSConfig != nil && o.TLSConfig.InsecureSkipVerify,
			Worker:      w, Workers: workers, Concurrency: max(o.Concurrency/workers, 1),
			Sessions: share(o.Count, w, workers),
		}, o.Meter)
		if err != nil {
			closeOpeners(openers)
			return nil, nil, err
		}
		openers = append(openers, wo)
		pids = append(pids, wo.cmd.Process.Pid)
	}
	return openers, pids, nil
}

// openAll has every opener open its share of the first n sessions, at once.
func openAll(ctx context.Context, openers []opener, n int64, deadline time.Time) (map[string]int64, error) {
	errs := map[string]int64{}
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for w, op := range openers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := op.openTo(ctx, share(n, w, len(openers)), deadline)
			mu.Lock()
			defer mu.Unlock()
			for k, v := range e {
				errs[k] += v
			}
			if err != nil && first == nil {
				first = err
			}
		}()
	}
	wg.Wait()
	return errs, first
}

// heldAll sums held over the openers.
func heldAll(ctx context.Context, openers []opener) (open, alive int64, err error) {
	for _, op := range openers {
		o, a, err := op.held(ctx)
		if err != nil {
			return open, alive, err
		}
		open, alive = open+o, alive+a
	}
	return open, alive, nil
}

// closeOpeners closes every opener, at once.
func closeOpeners(openers []opener) {
	var wg sync.WaitGroup
	for _, op := range openers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op.close()
		}()
	}
	wg.Wait()
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
