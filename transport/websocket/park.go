package websocket

import (
	"bufio"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/idle"
)

// Parking: an idle server connection gives back its reader goroutine and
// its read buffer until input arrives (see package transport/idle and
// transport.Parker), as RawSocket connections do.
//
// The reader parks only at rest: between frames, with no message half
// read and nothing buffered, blocked in the read of the next frame's first
// byte (wsConn.awaitFrame). Everywhere else a kick is absorbed by
// wsConn.Read, which clears the deadline and reads on, so the frame
// reader above it never sees it and needs no restart logic.
//
// The park state is guarded by parkState.mu, taken only by the sweeper
// (once a period), by a kicked read, by the poller's wake-up and by the end
// of the peer: never on the path of a frame.
//
//   - Park (sweeper) sets want and moves the read deadline into the past.
//   - Read, failing with a deadline error, takes want back and clears the
//     deadline; at rest, with parking allowed, it returns errParkNow, which
//     Recv turns into a park: the read buffer goes back to the pool, the
//     descriptor to the poller, and Recv returns transport.ErrParked.
//   - wake (poller) or unpark (the peer ending) starts the handler's resume
//     on a new goroutine, exactly once per park; its Recv takes a read
//     buffer from the pool and reads on.
//   - unpark runs before the descriptor is closed, so that the poller never
//     holds a closed (and perhaps reused) descriptor.
//
// Keepalive needs nothing more: the timer's ping is written through the
// wire whether the reader is parked or not, and the pong wakes the reader,
// which hands it to the waiting ping.

// errParkNow is wsConn.Read's signal to Recv that the reader should park.
var errParkNow = errors.New("websocket: park")

// aLongTimeAgo is a deadline in the past: setting it interrupts a blocked
// read at once.
var aLongTimeAgo = time.Unix(1, 0)

// readers pools the read buffers of server connections: a connection
// holds one while its reader runs and gives it back when it parks.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// parkState is a server connection's parking state.
type parkState struct {
	group *idle.Group     // nil: this connection never parks
	rc    syscall.RawConn // the descriptor to park

	// seen is set by the reader on every frame and cleared by the sweeper
	// (Quiet): a connection that received nothing for a period is parked.
	seen atomic.Bool
	// handedOff is set when Recv first returned ErrParked: the handler
	// that called ServePeer returned, and owns the peer from then on.
	handedOff atomic.Bool

	mu sync.Mutex // Protects the fields below.
	// resume continues the handler's reading (ResumeWith); nil forbids
	// parking.
	resume func()
	want   bool // the sweeper asked the reader to park
	parked bool // the reader has gone; the poller holds the descriptor
	ended  bool // the peer is ending: no more parking
	ticket idle.Ticket
}

// parkable reports whether c can be parked: a plain TCP or Unix socket. A
// TLS connection may hold decrypted or partial records that a read
// deadline cannot reveal, and a wrapped one (the sniffing listener's) may
// hold bytes of its own, so they keep their readers.
func parkable(c net.Conn) bool {
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}

// initPark lets c park in g. The caller has checked parkable.
func (c *wsConn) initPark(g *idle.Group) {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	c.pk.group, c.pk.rc = g, rc
}

// canPark reports whether c takes part in sweeping at all.
func (c *wsConn) canPark() bool { return c.pk.group != nil }

// resumeWith allows (resume non-nil) or forbids parking; see
// transport.Parker. Reader goroutine only.
func (c *wsConn) resumeWith(resume func()) {
	c.pk.mu.Lock()
	c.pk.resume = resume
	c.pk.mu.Unlock()
}

// Quiet reports whether no frame arrived since the previous call; see
// idle.Conn.
func (c *wsConn) Quiet() bool { return !c.pk.seen.Swap(false) }

// Park asks the reader to park, by moving the read deadline into the past;
// see idle.Conn.
func (c *wsConn) Park() {
	c.pk.mu.Lock()
	if !c.pk.want && !c.pk.parked && !c.pk.ended && c.pk.resume != nil {
		c.pk.want = true
		c.nc.SetReadDeadline(aLongTimeAgo)
	}
	c.pk.mu.Unlock()
}

// kickOutcome is what a read that failed with a deadline error does.
type kickOutcome int

const (
	kickNone  kickOutcome = iota // not the sweeper's deadline: a real error
	kickRetry                    // the sweeper's: read again
	kickPark                     // the sweeper's, and the reader can park
)

// kicked handles a read that failed with a deadline error. Reader
// goroutine only.
func (c *wsConn) kicked() kickOutcome {
	c.pk.mu.Lock()
	defer c.pk.mu.Unlock()
	if !c.pk.want {
		return kickNone
	}
	c.pk.want = false
	c.nc.SetReadDeadline(time.Time{})
	if !c.atRest || c.pk.resume == nil || c.pk.ended {
		return kickRetry
	}
	return kickPark
}

// park hands the connection to the poller. It reports false when the
// reader must read on instead. After true the reader touches nothing.
func (c *wsConn) park() bool {
	c.pk.mu.Lock()
	defer c.pk.mu.Unlock()
	if c.pk.ended || c.pk.resume == nil || c.br.Buffered() > 0 {
		return false
	}
	t, err := c.pk.group.Park(c.pk.rc, c.wake)
	if err != nil {
		return false // no poller (the group is closing): read on
	}
	c.pk.parked = true
	c.pk.ticket = t
	c.pk.handedOff.Store(true)
	// The poller may fire at once, but wake waits for pk.mu: the read
	// buffer is gone before the next reader looks.
	br := c.br
	c.br = nil
	br.Reset(nil)
	readers.Put(br)
	return true
}

// wake runs on the poller's goroutine when the parked descriptor becomes
// readable or hangs up.
func (c *wsConn) wake() {
	// Input is here: the next sweep must not kick the reader before it
	// has read it (it would park again at once, for nothing).
	c.pk.seen.Store(true)
	c.pk.mu.Lock()
	c.pk.parked = false
	c.pk.ticket = idle.Ticket{}
	resume := c.pk.resume
	c.pk.mu.Unlock()
	go resume()
}

// unpark ends parking before the connection is closed: a parked reader is
// taken back from the poller and resumed, so that the handler sees the
// end.
func (c *wsConn) unpark() {
	if !c.canPark() {
		return
	}
	c.pk.mu.Lock()
	c.pk.ended = true
	var resume func()
	if c.pk.parked && c.pk.group.Cancel(c.pk.ticket) {
		c.pk.parked = false
		c.pk.ticket = idle.Ticket{}
		resume = c.pk.resume
	}
	c.pk.mu.Unlock()
	if resume != nil {
		go resume()
	}
}

// isDeadline reports whether err is a read deadline's.
func isDeadline(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// ResumeWith allows (resume non-nil) or forbids parking; see
// transport.Parker. Only server connections over plain sockets park; on
// the others it changes nothing.
func (p *peer) ResumeWith(resume func()) {
	if p.c.canPark() {
		p.c.resumeWith(resume)
	}
}

// CanPark reports whether the peer may park; see transport.Parker.
func (p *peer) CanPark() bool { return p.c.canPark() }

// unpark takes a parked reader back from the poller before the
// connection is closed; see wsConn.unpark.
func (p *peer) unpark() {
	p.c.unpark()
}

var _ transport.Parker = (*peer)(nil)
var _ idle.Conn = (*wsConn)(nil)
