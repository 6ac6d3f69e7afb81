// Package idle lets a connection server hold idle connections without a
// goroutine each.
//
// The router reads every connection on a goroutine of its own (the
// design's "reader per session"): the goroutine reads a frame and routes
// it inline, which is what makes a busy session cheap. An idle one pays
// for it in memory: a reader blocked in a network read keeps a stack of
// about 4 KiB that the runtime cannot shrink, plus its read buffer, for as
// long as the peer says nothing — which, for a fleet of IoT devices, is
// almost always.
//
// A [Group] takes those readers away from idle connections. It owns two
// goroutines, started with the first connection it watches and ended with
// the last (or by Close):
//
//   - the sweeper wakes every period and asks each watched [Conn] whether
//     it received anything since the last look ([Conn.Quiet]); one that did
//     not, for a whole period, is asked to park ([Conn.Park]). The busy
//     path pays nothing but the flag the reader sets per frame;
//   - the poller waits (epoll, one-shot) for parked descriptors to become
//     readable or hang up, and calls each one's wake function once, on a
//     new goroutine's behalf: the transport then starts a fresh reader
//     (with a fresh, small stack) that reads on where the old one stopped.
//
// How a transport parks its reader:
//
//  1. Park (called by the sweeper) sets a flag and moves the read deadline
//     into the past, so that the blocked read returns at once.
//  2. The reader sees the deadline error and the flag, checks that nothing
//     is half-read (no partial frame buffered, no TLS record pending —
//     otherwise it clears the deadline and reads on), gives back its read
//     buffer and calls [Group.Park] with the connection's syscall.RawConn
//     and a wake function. From then on it must not touch the connection's
//     read state: its goroutine unwinds and exits.
//  3. The wake function runs when input arrives (or the peer hangs up); it
//     starts the new reader. Before the transport closes a parked
//     connection's descriptor it must call [Group.Cancel]: if Cancel
//     reports true, the poller forgot the descriptor and the wake function
//     will not run (the transport starts the reader itself, so that the
//     handler sees the end); if false, the wake function is running or
//     about to.
//
// Parking is supported on Linux; elsewhere [Supported] is false, Watch does
// nothing and connections keep their readers.
package idle

import (
	"errors"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultPeriod is the sweep period used when NewGroup is given 0: a
// connection that reads nothing for between one and two periods is parked.
const DefaultPeriod = time.Second

// Returning memory. Sessions open in bursts (a fleet reconnecting after a
// restart): while they open, each has a reader with a live stack and leaves
// handshake garbage, and the heap grows to hold the burst. Parked, they
// need a fraction of it, but the runtime gives freed memory back to the
// operating system only slowly, after later collections: for minutes the
// process would look as large as at the peak. So once at least
// releaseAfter more connections are parked than at the last release, the
// sweeper returns the freed memory at once (a collection and a scavenge,
// some milliseconds) once the burst is over (fewer than releaseBusy
// connections arrived during the last period), so that one release covers
// it all. A steady churn of sessions parking and waking does not raise the
// parked count and never triggers it, and arrivals slower than releaseBusy
// per period trigger at most one release per releaseAfter sessions;
// releaseGap only keeps several Groups from releasing together.
const (
	releaseAfter = 1000
	releaseBusy  = 100
	releaseGap   = 2 * time.Second
)

// lastRelease is when the process last returned memory (Unix nanoseconds),
// shared by every Group.
var lastRelease atomic.Int64

// maybeRelease returns freed memory to the operating system when parked
// has grown by releaseAfter since *base and fewer than releaseBusy
// connections were added during the last period; see releaseAfter.
func maybeRelease(parked, added int, base *int) {
	if parked < *base {
		*base = parked
	}
	if parked-*base < releaseAfter || added >= releaseBusy {
		return
	}
	now := time.Now().UnixNano()
	last := lastRelease.Load()
	if now-last < int64(releaseGap) || !lastRelease.CompareAndSwap(last, now) {
		return
	}
	*base = parked
	debug.FreeOSMemory()
}

// ErrNotRunning is returned by Park when the Group has no poller: it was
// closed, it watches no connection, or the platform cannot park.
var ErrNotRunning = errors.New("idle: no poller running")

// Conn is a connection a Group watches. Both methods are called by the
// sweeper goroutine and must not block.
type Conn interface {
	// Quiet reports whether nothing was received since the previous call,
	// and starts a new period (a reader marks a flag per frame; Quiet swaps
	// it back). A parked connection may report what it likes: Park is a
	// no-op for it.
	Quiet() bool
	// Park asks the connection's reader to park itself (see the package
	// documentation). It must be safe to call at any time, including after
	// the connection ended.
	Park()
}

// Ticket identifies one park, for Cancel.
type Ticket struct {
	fd  int
	gen uint32 // never 0 for a real park
}

// Group watches a server's connections and holds the parked ones. Its
// methods are safe for concurrent use.
//
// Lock order: Group.mu is taken last (the transports call Park and Cancel
// under their own park mutex); wake functions and Conn methods are called
// without it.
type Group struct {
	period time.Duration

	mu     sync.Mutex // Protects the fields below.
	conns  map[Conn]struct{}
	parked map[int]parkedConn // by descriptor
	gen    uint32
	added  int       // connections watched since the last sweep
	run    *instance // nil when no goroutine runs
	closed bool
}

type parkedConn struct {
	gen  uint32
	wake func()
}

// instance is one run of the Group's two goroutines.
type instance struct {
	poll *poller
	stop chan struct{}
	wg   sync.WaitGroup
}

// NewGroup returns a Group that sweeps every period (0 means
// DefaultPeriod). No goroutine runs until the first Watch.
func NewGroup(period time.Duration) *Group {
	if period <= 0 {
		period = DefaultPeriod
	}
	return &Group{
		period: period,
		conns:  make(map[Conn]struct{}),
		parked: make(map[int]parkedConn),
	}
}

// Supported reports whether this platform can park connections.
func Supported() bool { return pollSupported }

// Watch adds c to the connections swept, starting the Group's goroutines
// if they are not running. It does nothing after Close or where parking is
// not supported.
func (g *Group) Watch(c Conn) {
	if !pollSupported {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.conns[c] = struct{}{}
	g.added++
	if g.run == nil {
		p, err := newPoller()
		if err != nil {
			// Out of descriptors, say: connections keep their readers.
			delete(g.conns, c)
			return
		}
		in := &instance{poll: p, stop: make(chan struct{})}
		in.wg.Add(2)
		go g.sweep(in)
		go g.pollLoop(in)
		g.run = in
	}
}

// Forget stops sweeping c. A transport calls it when the connection ends,
// after cancelling any park. The goroutines end at the next sweep after the
// last connection is forgotten.
func (g *Group) Forget(c Conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// Park registers the descriptor behind rc with the poller: wake is called
// once, from the poller's goroutine, when it becomes readable or hangs up
// (at once if input is already waiting). wake must not block; it typically
// starts a goroutine. The caller must not read the connection until wake
// runs or Cancel returns true.
func (g *Group) Park(rc syscall.RawConn, wake func()) (Ticket, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.run == nil {
		return Ticket{}, ErrNotRunning
	}
	var t Ticket
	var perr error
	err := rc.Control(func(fd uintptr) {
		g.gen++
		if g.gen == 0 {
			g.gen = 1
		}
		t = Ticket{fd: int(fd), gen: g.gen}
		if perr = g.run.poll.add(t.fd, t.gen); perr == nil {
			g.parked[t.fd] = parkedConn{gen: t.gen, wake: wake}
		}
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return Ticket{}, err
	}
	return t, nil
}

// Cancel withdraws a park before the connection is closed or read. It
// reports true when the park was withdrawn (wake will not be called) and
// false when wake has been or is being called.
func (g *Group) Cancel(t Ticket) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.takeLocked(t.fd, t.gen)
}

// takeLocked removes the park of fd if it is generation gen, deregistering
// the descriptor while it is certainly still open (a transport closes it
// only after Cancel).
func (g *Group) takeLocked(fd int, gen uint32) bool {
	pc, ok := g.parked[fd]
	if !ok || pc.gen != gen || gen == 0 {
		return false
	}
	delete(g.parked, fd)
	if g.run != nil {
		g.run.poll.del(fd)
	}
	return true
}

// Parked returns how many connections are parked now.
func (g *Group) Parked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.parked)
}

// Close stops the Group's goroutines and waits for them. Connections still
// parked are woken, so that their readers see whatever ends them; Watch
// does nothing from now on.
func (g *Group) Close() {
	g.mu.Lock()
	g.closed = true
	in := g.run
	g.run = nil
	wakes := g.drainLocked(in)
	g.mu.Unlock()
	if in != nil {
		close(in.stop)
		in.poll.interrupt()
		in.wg.Wait()
	}
	for _, w := range wakes {
		w()
	}
}

// drainLocked forgets every park, deregistering the descriptors from in's
// poller, and returns their wake functions.
func (g *Group) drainLocked(in *instance) []func() {
	var wakes []func()
	for fd, pc := range g.parked {
		if in != nil {
			in.poll.del(fd)
		}
		wakes = append(wakes, pc.wake)
	}
	clear(g.parked)
	return wakes
}

// sweep is the sweeper goroutine of in: every period it parks the watched
// connections that stayed quiet for a whole period. It ends the instance
// once no connection is watched.
func (g *Group) sweep(in *instance) {
	defer in.wg.Done()
	tick := time.NewTicker(g.period)
	defer tick.Stop()
	var batch []Conn
	base := 0 // parked connections at the last release
	for {
		select {
		case <-in.stop:
			return
		case <-tick.C:
		}
		g.mu.Lock()
		if g.run != in { // the poller gave up
			g.mu.Unlock()
			return
		}
		if len(g.conns) == 0 {
			// Nothing to watch: end both goroutines; the next Watch starts
			// new ones. Nothing can be parked without being watched.
			g.run = nil
			wakes := g.drainLocked(in)
			g.mu.Unlock()
			for _, w := range wakes {
				w()
			}
			close(in.stop)
			in.poll.interrupt()
			return
		}
		for c := range g.conns {
			batch = append(batch, c)
		}
		parked := len(g.parked) // parked after the previous sweep's kicks
		added := g.added
		g.added = 0
		g.mu.Unlock()
		maybeRelease(parked, added, &base)
		for _, c := range batch {
			if c.Quiet() {
				c.Park()
			}
		}
		clear(batch) // do not keep ended connections reachable
		batch = batch[:0]
	}
}
