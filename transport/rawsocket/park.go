package rawsocket

import (
	"bufio"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/idle"
)

// Parking: an idle server-side connection gives back its reader goroutine
// and read buffer (see package transport/idle and transport.Parker).
//
// The park state is guarded by peer.pkMu, taken only by the sweeper (once a
// period), by a reader kicked out of its read, by the poller's wake-up and
// by the end of the peer: never on the path of a frame.
//
//   - Park (sweeper) sets pkWant and moves the read deadline into the past.
//   - The reader, failing with a deadline error, takes pkWant back and
//     clears the deadline (kicked); between frames, with nothing buffered
//     and parking allowed, it parks (Recv → park): the read buffer goes
//     back to the server's pool, the descriptor to the poller, and Recv
//     returns transport.ErrParked. Otherwise it reads on.
//   - wake (poller) or unpark (the peer ending) starts the handler's resume
//     on a new goroutine, exactly once per park; its Recv takes a read
//     buffer from the pool and reads on.
//   - unpark runs before the descriptor is closed, so that the poller never
//     holds a closed (and perhaps reused) descriptor.

// errParkNow is recv's signal to Recv that the reader should park.
var errParkNow = errors.New("rawsocket: park")

// serverSide is what a server gives its peers so that they can park; the
// dial side has none.
type serverSide struct {
	idle    *idle.Group
	readers *sync.Pool // *bufio.Reader of the server's read buffer size
	// onFinish runs once the peer is done (after Done is closed): the
	// server's bookkeeping for the connection.
	onFinish func(*peer)
}

// parkState is a peer's parking state.
type parkState struct {
	srv *serverSide     // nil: this peer never parks
	rc  syscall.RawConn // the descriptor to park (nil: cannot park)

	// handedOff is set when Recv first returned ErrParked: the handler
	// that called ServePeer returned, and owns the peer from then on.
	handedOff atomic.Bool

	mu sync.Mutex // Protects the fields below (peer.pkMu).
	// resume continues the handler's reading (ResumeWith); nil forbids
	// parking.
	resume func()
	want   bool // the sweeper asked the reader to park
	parked bool // the reader has gone; the poller holds the descriptor
	ended  bool // the peer is ending: no more parking
	ticket idle.Ticket
}

// initPark prepares p to park, if the server allows it and the connection
// is a plain TCP or Unix socket. A TLS connection may hold decrypted or
// partial records that a read deadline cannot reveal, so it keeps its
// reader.
func (p *peer) initPark(srv *serverSide) {
	if srv == nil {
		return
	}
	p.pk.srv = srv
	if srv.idle == nil || p.info.TLS {
		return
	}
	sc, ok := p.raw.(syscall.Conn)
	if !ok {
		return
	}
	switch p.raw.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	p.pk.rc = rc
}

// canPark reports whether the peer takes part in sweeping at all.
func (p *peer) canPark() bool { return p.pk.rc != nil }

// CanPark reports whether the peer may park; see transport.Parker.
func (p *peer) CanPark() bool { return p.canPark() }

// ResumeWith allows (resume non-nil) or forbids parking; see
// transport.Parker. Reader goroutine only.
func (p *peer) ResumeWith(resume func()) {
	p.pk.mu.Lock()
	p.pk.resume = resume
	p.pk.mu.Unlock()
}

// Quiet reports whether no frame arrived since the previous call; see
// idle.Conn.
func (p *peer) Quiet() bool { return !p.seen.Swap(false) }

// Park asks the reader to park, by moving the read deadline into the past;
// see idle.Conn.
func (p *peer) Park() {
	p.pk.mu.Lock()
	if !p.pk.want && !p.pk.parked && !p.pk.ended && p.pk.resume != nil {
		p.pk.want = true
		p.conn.SetReadDeadline(aLongTimeAgo)
	}
	p.pk.mu.Unlock()
}

// kickOutcome is what a reader that failed with a deadline error does.
type kickOutcome int

const (
	kickNone  kickOutcome = iota // not the sweeper's deadline: a real error
	kickRetry                    // the sweeper's: read again
	kickPark                     // the sweeper's, and the reader can park
)

// kicked handles a read that failed with a deadline error.
func (p *peer) kicked() kickOutcome {
	if p.pk.rc == nil || p.interruptErr.Load() != nil {
		return kickNone
	}
	p.pk.mu.Lock()
	defer p.pk.mu.Unlock()
	if !p.pk.want {
		return kickNone
	}
	p.pk.want = false
	p.conn.SetReadDeadline(time.Time{})
	if p.interruptErr.Load() != nil {
		// The Recv context ended meanwhile and its deadline was just
		// undone: report the interruption.
		return kickNone
	}
	if p.pk.resume == nil || p.pk.ended || !p.fr.idle() {
		return kickRetry
	}
	return kickPark
}

// park hands the connection to the poller. It reports false when the
// reader must read on instead. After true the reader touches nothing.
func (p *peer) park() bool {
	p.pk.mu.Lock()
	defer p.pk.mu.Unlock()
	if p.pk.ended || p.pk.resume == nil {
		return false
	}
	br := p.fr.br
	t, err := p.pk.srv.idle.Park(p.pk.rc, p.wake)
	if err != nil {
		if !errors.Is(err, idle.ErrNotRunning) {
			p.logEvent(slog.LevelDebug, "cannot park idle connection", "error", err)
		}
		return false
	}
	p.pk.parked = true
	p.pk.ticket = t
	p.pk.handedOff.Store(true)
	// The poller may fire at once, but wake waits for pk.mu: the read
	// buffer is gone before the next reader looks.
	p.fr.br = nil
	br.Reset(nil)
	p.pk.srv.readers.Put(br)
	return true
}

// wake runs on the poller's goroutine when the parked descriptor becomes
// readable or hangs up.
func (p *peer) wake() {
	// Input is here: the next sweep must not kick the reader before it
	// has read it (it would park again at once, for nothing, with the
	// input still in the socket).
	p.seen.Store(true)
	p.pk.mu.Lock()
	p.pk.parked = false
	p.pk.ticket = idle.Ticket{}
	resume := p.pk.resume
	p.pk.mu.Unlock()
	go resume()
}

// unpark ends parking before the connection is closed: a parked reader is
// taken back from the poller and resumed, so that the handler sees the end.
func (p *peer) unpark() {
	if p.pk.rc == nil {
		return
	}
	p.pk.mu.Lock()
	p.pk.ended = true
	var resume func()
	if p.pk.parked && p.pk.srv.idle.Cancel(p.pk.ticket) {
		p.pk.parked = false
		p.pk.ticket = idle.Ticket{}
		resume = p.pk.resume
	}
	p.pk.mu.Unlock()
	if resume != nil {
		go resume()
	}
}

// readBuffer makes sure the reader has a read buffer, taking one from the
// server's pool after a park.
func (p *peer) readBuffer() {
	if p.fr.br == nil {
		br := p.pk.srv.readers.Get().(*bufio.Reader)
		br.Reset(p.conn)
		p.fr.br = br
	}
}

// isDeadline reports whether err is a read deadline's.
func isDeadline(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

var _ transport.Parker = (*peer)(nil)
var _ idle.Conn = (*peer)(nil)
