// Package peerutil holds the lifecycle and context plumbing shared by the
// transport implementations (pipe, rawsocket, websocket), so that every
// Peer closes, fails and reports Done the same way.
package peerutil

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// Lifecycle tracks how a peer ends. There are two ways:
//
//   - Close (graceful): the queue stops accepting frames, the writer flushes
//     what is queued within the close timeout, then closes the connection.
//   - Fail (immediate): the connection is closed at once, by whoever saw the
//     failure; the writer stops without flushing.
//
// Either way the writer goroutine calls Finish last, which closes Done. The
// methods are safe for concurrent use; the mutex is a leaf lock.
type Lifecycle struct {
	closing chan struct{} // closed by the first Close or Fail
	kill    chan struct{} // closed by the first Fail
	done    chan struct{} // closed by Finish

	mu     sync.Mutex // Protects the fields below.
	reason string
	err    error
	closed bool
	failed bool
}

// Init prepares l; call it once before use.
func (l *Lifecycle) Init() {
	l.closing = make(chan struct{})
	l.kill = make(chan struct{})
	l.done = make(chan struct{})
}

// Close asks for a graceful close. It reports whether this was the first
// request to end the peer (by Close or Fail).
func (l *Lifecycle) Close(reason string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.closed = true
	l.reason = reason
	close(l.closing)
	return true
}

// Fail records err as the cause of the peer's end and asks the writer to
// stop at once. It reports whether this was the first failure. A failure
// after a graceful Close still cuts the flush short.
func (l *Lifecycle) Fail(err error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed {
		return false
	}
	l.failed = true
	l.err = err
	if !l.closed {
		l.closed = true
		l.reason = err.Error()
		close(l.closing)
	}
	close(l.kill)
	return true
}

// Closing is closed once Close or Fail was called.
func (l *Lifecycle) Closing() <-chan struct{} { return l.closing }

// Killed is closed once Fail was called.
func (l *Lifecycle) Killed() <-chan struct{} { return l.kill }

// Done is closed by Finish.
func (l *Lifecycle) Done() <-chan struct{} { return l.done }

// Finish marks the peer as fully closed. Only the writer calls it, once.
func (l *Lifecycle) Finish() { close(l.done) }

// IsClosed reports whether Close or Fail was called.
func (l *Lifecycle) IsClosed() bool {
	select {
	case <-l.closing:
		return true
	default:
		return false
	}
}

// Err returns the failure recorded by Fail, or nil.
func (l *Lifecycle) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Reason returns why the peer is closing ("" while open).
func (l *Lifecycle) Reason() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reason
}

// RecvWatch interrupts a blocked Recv when its context ends, without
// allocating on every Recv: the context.AfterFunc registration is kept
// between calls while the reader keeps passing the same context (the usual
// session loop), and replaced only when the context changes. A context that
// ends between two Recv calls interrupts nothing; the next Recv with it
// fails in Watch.
//
// Watch and Unwatch are called by the reader goroutine only; Stop may be
// called from any goroutine. The mutex is held while interrupt runs, so
// interrupt must not block; it is never held across I/O.
type RecvWatch struct {
	// interrupt is called (on the context's goroutine) with the context's
	// error when the watched context ends during a Recv.
	interrupt func(error)

	mu     sync.Mutex // Protects the fields below.
	inRecv bool
	ctx    context.Context
	stop   func() bool
}

// Init sets the function called when a watched context ends during a Recv.
func (w *RecvWatch) Init(interrupt func(error)) { w.interrupt = interrupt }

// Watch marks the start of a Recv with ctx. It returns ctx.Err() when ctx
// has already ended; the caller then returns it without reading (and need
// not call Unwatch).
func (w *RecvWatch) Watch(ctx context.Context) error {
	if ctx.Done() == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	w.inRecv = true
	if w.ctx != ctx {
		if w.stop != nil {
			w.stop()
		}
		w.ctx = ctx
		w.stop = context.AfterFunc(ctx, func() { w.fire(ctx) })
	}
	w.mu.Unlock()
	return nil
}

// fire runs when a watched context ends; it interrupts only a Recv that
// is still waiting with that context.
func (w *RecvWatch) fire(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inRecv && w.ctx == ctx {
		w.interrupt(ctx.Err())
	}
}

// Unwatch marks the end of a Recv.
func (w *RecvWatch) Unwatch() {
	w.mu.Lock()
	w.inRecv = false
	w.mu.Unlock()
}

// Stop drops the registration, so that a long-lived context does not keep
// a closed peer reachable.
func (w *RecvWatch) Stop() {
	w.mu.Lock()
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
	w.ctx = nil
	w.mu.Unlock()
}

// netConner is implemented by connection wrappers that expose the
// connection they wrap (*tls.Conn, the sniffing listener's connections).
type netConner interface{ NetConn() net.Conn }

// IsTLS reports whether c is, or wraps, a TLS connection.
func IsTLS(c net.Conn) bool {
	for c != nil {
		if _, ok := c.(*tls.Conn); ok {
			return true
		}
		u, ok := c.(netConner)
		if !ok {
			return false
		}
		c = u.NetConn()
	}
	return false
}

// TLSState returns the TLS state of c, unwrapping it as IsTLS does, or nil
// for a plain connection. Authentication needs it: TLS client certificates
// and channel binding (tls-unique, tls-exporter).
func TLSState(c net.Conn) *tls.ConnectionState {
	for c != nil {
		if t, ok := c.(*tls.Conn); ok {
			cs := t.ConnectionState()
			return &cs
		}
		u, ok := c.(netConner)
		if !ok {
			return nil
		}
		c = u.NetConn()
	}
	return nil
}

// RawConn returns the innermost connection under c's wrappers. Closing it
// never blocks, unlike closing a *tls.Conn, which may wait to send its
// close_notify alert; code that must not block (a Send that finds a slow
// consumer) closes the raw connection.
func RawConn(c net.Conn) net.Conn {
	for {
		u, ok := c.(netConner)
		if !ok {
			return c
		}
		inner := u.NetConn()
		if inner == nil {
			return c
		}
		c = inner
	}
}

// RemoteAddr describes c's peer for logs: "ip:port", or for a Unix socket
// (whose clients are usually unnamed) "unix:" and the socket path.
func RemoteAddr(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil {
		if s := a.String(); s != "" && s != "@" {
			if a.Network() == "unix" || a.Network() == "unixpacket" {
				return "unix:" + s
			}
			return s
		}
	}
	if a := c.LocalAddr(); a != nil {
		return a.Network() + ":" + a.String()
	}
	return "unknown"
}

// TemporaryAcceptError reports whether an Accept error is worth retrying
// after a pause (out of file descriptors or buffers, a connection aborted
// before it was accepted) rather than ending the accept loop.
func TemporaryAcceptError(err error) bool {
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// OnDemand runs a peer's writer goroutine only while there is something to
// write, so that an idle connection holds one goroutine (its reader), not
// two. Kick starts the writer unless it runs; the writer calls Idle when
// it has written everything, and exits if Idle says so; the writer calls
// Finish when it ends the peer, after which no writer starts again.
//
// Callers make work visible (queue a frame, mark the peer closing) before
// they Kick; Idle marks the writer gone before it re-checks for work, so
// either the exiting writer sees the work or Kick sees no writer and starts
// one: none is stranded. Kick is on every Send's path, so while a writer
// runs it costs one atomic load: no lock, and no allocation (the writer's
// function is fixed by SetRun, not passed per call).
type OnDemand struct {
	state atomic.Int32 // writerIdle, writerRunning or writerFinished
	run   func()
}

const (
	writerIdle int32 = iota
	writerRunning
	writerFinished
)

// SetRun sets the writer's function. It is called once, before the first
// Kick.
func (w *OnDemand) SetRun(run func()) { w.run = run }

// Kick starts the writer on a new goroutine unless one runs or the peer
// has finished.
func (w *OnDemand) Kick() {
	if w.state.Load() != writerIdle {
		return
	}
	if w.state.CompareAndSwap(writerIdle, writerRunning) {
		go w.run()
	}
}

// Idle reports whether the writer should exit: pending reports whether work
// remains. Only the running writer calls it. The state goes idle first, so
// that a Kick from now on starts a writer; if work is left, this writer
// takes it back unless such a Kick already started another.
func (w *OnDemand) Idle(pending func() bool) bool {
	w.state.Store(writerIdle)
	if !pending() {
		return true
	}
	return !w.state.CompareAndSwap(writerIdle, writerRunning)
}

// Finish marks the peer ended: Kick starts no writer from now on. Only the
// running writer calls it.
func (w *OnDemand) Finish() { w.state.Store(writerFinished) }

// Ending reports whether the lifecycle's Close or Fail has begun.
func (l *Lifecycle) Ending() bool {
	select {
	case <-l.closing:
		return true
	default:
		return false
	}
}
