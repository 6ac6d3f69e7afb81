package rawsocket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/internal/peerutil"
)

// writeBufferSize is the size of the pooled bufio.Writer the writer borrows
// while it has frames to write. An idle connection holds no write buffer.
const writeBufferSize = 16 << 10

var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufferSize) }}

var (
	errPongTimeout  = errors.New("rawsocket: keepalive: no traffic after PING")
	errWriteTimeout = errors.New("rawsocket: write timed out")
)

// aLongTimeAgo is a deadline in the past: setting it interrupts a blocked
// read at once.
var aLongTimeAgo = time.Unix(1, 0)

// peer is one RawSocket connection, server or client side; after the
// handshake both behave alike.
//
// Goroutines: the session's reader calls Recv; the writer goroutine is the
// only one that writes to conn, PONG and PING frames included. The writer
// runs on demand: kick starts it when there is something to write (a frame,
// a PONG, a keepalive PING, the close), and it exits once the queue is
// empty. An idle connection — most of an IoT fleet — then holds one
// goroutine instead of two (about 5 KiB less per connection, measured).
// Send, Close, Done and Info may be called from any goroutine.
//
// Lock order: peerutil.RecvWatch.mu → peerutil.Lifecycle.mu →
// peer.kaMu → peerutil.OnDemand.mu → transport.Queue.mu. None is held
// across I/O.
type peer struct {
	// writeDeadline is the write deadline last set; writer goroutine only.
	writeDeadline time.Time

	conn net.Conn // as accepted or dialled (may be *tls.Conn)
	raw  net.Conn // innermost connection: closing it never blocks
	ser  serializer.Serializer
	// rawPayloads: decode with serializer.DecodeRaw (set by the server).
	rawPayloads bool
	info        transport.Info
	opts        transport.Options
	maxSend     int

	q     *transport.Queue
	life  peerutil.Lifecycle
	watch peerutil.RecvWatch

	// Read state, owned by the reader goroutine (Recv).
	fr      frameReader
	readErr error // sticky: once reading failed, Recv keeps returning it
	// interruptErr is the error of the Recv context that interrupted a
	// read, stored before the read deadline is moved into the past.
	interruptErr atomic.Pointer[error]
	// active is set by the reader on every frame and cleared by the
	// writer's keepalive: a peer that sent nothing for an interval is pinged.
	active atomic.Bool
	// seen is set by the reader on every frame and cleared by the idle
	// sweeper (Quiet): a peer that sent nothing for a sweep period is
	// parked. Setting it costs a load per frame, a store once a period.
	seen atomic.Bool
	pk   parkState // see park.go

	// Write state, owned by the writer goroutine.
	ctl, frames [][]byte
	pingCount   uint32

	writer  peerutil.OnDemand
	pingDue atomic.Bool // the keepalive asks the writer for a PING

	kaMu         sync.Mutex // guards the keepalive fields below
	ka           *time.Timer
	kaStopped    bool
	awaitingPong bool // a PING was sent and no traffic seen since
}

var _ transport.Peer = (*peer)(nil)

// newPeer wraps a connection whose handshake is done and starts its writer.
// br is the read buffer, possibly already holding the first frames. srv is
// nil on the dial side.
func newPeer(conn net.Conn, br *bufio.Reader, s serializer.Serializer, maxRecv, maxSend int, opts transport.Options, srv *serverSide) *peer {
	p := &peer{
		conn:    conn,
		raw:     peerutil.RawConn(conn),
		ser:     s,
		opts:    opts,
		maxSend: maxSend,
		q:       transport.NewQueue(opts.QueueMaxBytes, opts.QueueMaxFrames),
		fr:      frameReader{br: br, limit: maxRecv},
	}
	p.info = transport.Info{
		Transport:  "rawsocket",
		Protocol:   "wamp.2." + s.Name(),
		RemoteAddr: peerutil.RemoteAddr(conn),
		TLS:        peerutil.IsTLS(conn),
		TLSState:   peerutil.TLSState(conn),
		MaxRecv:    maxRecv,
		MaxSend:    maxSend,
	}
	p.life.Init()
	p.writer.SetRun(p.writeLoop)
	p.watch.Init(p.interrupt)
	p.active.Store(true)
	p.seen.Store(true)
	p.initPark(srv)
	if opts.KeepaliveEnabled() {
		p.kaMu.Lock() // the timer's callback reads p.ka under kaMu
		p.ka = time.AfterFunc(opts.PingInterval, p.keepalive)
		p.kaMu.Unlock()
	}
	return p
}

// kick makes sure a writer goroutine runs; see peerutil.OnDemand.
func (p *peer) kick() { p.writer.Kick() }

// Serializer returns the serializer chosen in the handshake.
func (p *peer) Serializer() serializer.Serializer { return p.ser }

// Info describes the connection.
func (p *peer) Info() transport.Info { return p.info }

// Done is closed once the connection is closed and the writer has exited.
func (p *peer) Done() <-chan struct{} { return p.life.Done() }

// Send queues frame for the writer. A frame above the peer's announced
// limit is refused with transport.ErrFrameTooLarge and the peer stays open;
// a full queue fails the peer with transport.ErrSlowConsumer.
func (p *peer) Send(frame []byte) error {
	if len(frame) > p.maxSend {
		return transport.ErrFrameTooLarge
	}
	err := p.q.Push(frame)
	switch err {
	case nil:
		p.kick()
	case transport.ErrSlowConsumer:
		p.fail(err)
	}
	return err
}

// Close flushes what is queued (within CloseTimeout) and closes the
// connection. It does not wait: Done reports the end. RawSocket has no
// close frame, so reason is only logged.
func (p *peer) Close(reason string) error {
	if p.life.Close(reason) {
		p.q.Close()
		p.logEvent(slog.LevelDebug, "closing", "reason", reason)
		p.kick() // the writer flushes and closes
	}
	return nil
}

// fail ends the peer at once: the connection is closed under the reader
// and the writer, without a flush. Closing the innermost connection never
// blocks, so fail is safe on Send's path.
func (p *peer) fail(err error) {
	if !p.life.Fail(err) {
		return
	}
	p.q.Close()
	p.unpark()
	p.raw.Close()
	p.kick() // the writer ends the peer
	var fe *FrameError
	var tl *errFrameTooLarge
	switch {
	case errors.As(err, &fe), errors.As(err, &tl):
		p.logEvent(slog.LevelWarn, "connection failed: protocol violation", "error", err)
	case errors.Is(err, transport.ErrSlowConsumer):
		// The router counts and logs slow consumers.
	default:
		p.logEvent(slog.LevelDebug, "connection failed", "error", err)
	}
}

// interrupt runs when the context of a blocked Recv ends: the read is cut
// short by a deadline in the past. Reading is over (a read interrupted
// mid-frame, or mid TLS record, cannot resume) but Send still works, so the
// router may still say ABORT before closing.
func (p *peer) interrupt(err error) {
	p.interruptErr.Store(&err)
	p.conn.SetReadDeadline(aLongTimeAgo)
}

// Recv returns the next message. See transport.Peer. Besides:
//   - a frame that does not decode returns an error wrapping
//     *spec.ProtocolError and the peer stays usable;
//   - PING frames are answered (by the writer) and PONGs absorbed here;
//   - a framing violation (reserved bits or type, a frame above our limit)
//     fails the connection and returns *FrameError or a size error;
//   - when ctx ends during the read, Recv returns an error wrapping
//     ctx.Err(); the peer can no longer be read, but Send works until Close;
//   - the remote end closing returns an error wrapping io.EOF, and the peer
//     closes gracefully; after Close or a failure, errors wrap
//     transport.ErrClosed.
//
// Every error but a decode error is sticky. A server-side peer whose
// handler allowed parking (ResumeWith) may also return transport.ErrParked;
// see transport.Parker.
func (p *peer) Recv(ctx context.Context) (spec.Message, error) {
	for {
		if p.readErr != nil {
			return nil, p.readErr
		}
		if err := p.watch.Watch(ctx); err != nil {
			return nil, fmt.Errorf("rawsocket: recv: %w", err)
		}
		m, err := p.recv()
		p.watch.Unwatch()
		if err == errParkNow {
			if p.park() {
				return nil, transport.ErrParked
			}
			continue
		}
		return m, err
	}
}

func (p *peer) recv() (spec.Message, error) {
	if p.fr.br == nil {
		p.readBuffer() // resumed after a park
	}
	for {
		typ, payload, err := p.fr.next()
		if err != nil {
			if isDeadline(err) {
				switch p.kicked() {
				case kickRetry:
					continue
				case kickPark:
					return nil, errParkNow
				}
			}
			p.fr.release()
			p.readErr = p.readFailed(err)
			return nil, p.readErr
		}
		if !p.active.Load() {
			p.active.Store(true)
		}
		if !p.seen.Load() {
			p.seen.Store(true)
		}
		p.opts.Meter.Received(frameHeaderSize + len(payload))
		switch typ {
		case frameMessage:
			m, err := p.decode(payload)
			p.fr.release()
			if err != nil {
				return nil, decodeError(err)
			}
			return m, nil
		case framePing:
			pong := make([]byte, len(payload))
			copy(pong, payload)
			p.fr.release()
			switch err := p.q.PushControl(pong); err {
			case nil:
				p.kick()
			case transport.ErrSlowConsumer:
				p.fail(err)
			}
		default: // framePong: the keepalive only needed to see traffic.
			p.fr.release()
		}
	}
}

// decode decodes a message frame. A server's peer, whose messages go to
// a router, keeps the payloads the router forwards unread in their wire
// form (serializer.DecodeRaw).
func (p *peer) decode(b []byte) (spec.Message, error) {
	if p.rawPayloads {
		return serializer.DecodeRaw(p.ser, b)
	}
	return p.ser.Decode(b)
}

// decodeError makes sure a decode error wraps *spec.ProtocolError, as
// transport.Peer promises, whatever the serializer returned.
func decodeError(err error) error {
	var pe *spec.ProtocolError
	if !errors.As(err, &pe) {
		err = fmt.Errorf("%w: %w", &spec.ProtocolError{Reason: err.Error()}, err)
	}
	return fmt.Errorf("rawsocket: decode: %w", err)
}

// readFailed classifies a read error, ends the peer accordingly and returns
// the error Recv reports from now on.
func (p *peer) readFailed(err error) error {
	if ip := p.interruptErr.Load(); ip != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("rawsocket: recv: %w", *ip)
	}
	if p.life.IsClosed() {
		if cause := p.life.Err(); cause != nil {
			return fmt.Errorf("rawsocket: %w: %w", transport.ErrClosed, cause)
		}
		return fmt.Errorf("rawsocket: %w", transport.ErrClosed)
	}
	var fe *FrameError
	var tl *errFrameTooLarge
	switch {
	case errors.As(err, &fe), errors.As(err, &tl):
		p.fail(err)
		return err
	case err == io.EOF:
		p.Close("connection closed by peer")
		return fmt.Errorf("rawsocket: connection closed by peer: %w", io.EOF)
	default:
		err = fmt.Errorf("rawsocket: read: %w", err)
		p.fail(err)
		return err
	}
}

// writeLoop is the peer's writer goroutine, started by kick: it writes
// queued frames in batches (PONGs first), sends a keepalive PING when one is
// due, and exits when nothing is left. On Close it flushes the queue before
// closing the connection; on a failure it closes at once. The goroutine that
// ends the peer closes Done.
func (p *peer) writeLoop() {
	for {
		select {
		case <-p.life.Killed():
			p.end(false)
			return
		default:
		}
		select {
		case <-p.life.Closing():
			if err := p.flush(time.Now().Add(p.opts.CloseTimeout)); err != nil {
				p.fail(err)
				p.end(false)
				return
			}
			p.end(true)
			return
		default:
		}
		if p.pingDue.Swap(false) {
			if err := p.ping(); err != nil {
				p.fail(err)
				p.end(false)
				return
			}
		}
		// Let the goroutines that are about to queue more run first: under
		// load a batch then carries more frames per write(2) (in `bench rpc`
		// at window 16, 0.12 writes per call instead of 0.15), and with
		// nothing else runnable Gosched returns at once.
		runtime.Gosched()
		if err := p.flush(time.Time{}); err != nil {
			p.fail(err)
			p.end(false)
			return
		}
		if p.writer.Idle(p.hasWork) {
			return
		}
	}
}

// hasWork reports whether the writer has work left.
func (p *peer) hasWork() bool {
	n, _ := p.q.Len()
	return n > 0 || p.pingDue.Load() || p.life.Ending()
}

// end finishes the peer, once, from the writer goroutine.
func (p *peer) end(graceful bool) {
	p.writer.Finish()
	p.kaMu.Lock()
	p.kaStopped = true
	if p.ka != nil {
		p.ka.Stop()
	}
	p.kaMu.Unlock()
	p.finish(graceful)
}

// keepalive runs on its timer: a peer that sent nothing during the last
// interval is pinged, and one that then stays silent for PongTimeout fails.
func (p *peer) keepalive() {
	p.kaMu.Lock()
	if p.kaStopped {
		p.kaMu.Unlock()
		return
	}
	silent := false
	switch {
	case p.active.Swap(false):
		p.awaitingPong = false
		p.ka.Reset(p.opts.PingInterval)
	case p.awaitingPong:
		silent = true
	default:
		p.awaitingPong = true
		p.pingDue.Store(true)
		p.ka.Reset(p.opts.PongTimeout)
	}
	p.kaMu.Unlock()
	if silent {
		p.fail(errPongTimeout)
		return
	}
	if p.pingDue.Load() {
		p.kick()
	}
}

// flush writes every queued frame, batch after batch, until the queue is
// empty, then flushes the socket buffer. Each batch must be written within
// WriteTimeout, and everything before closeBy if it is set.
func (p *peer) flush(closeBy time.Time) error {
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(p.conn)
	defer func() {
		bw.Reset(nil)
		writers.Put(bw)
	}()
	for {
		p.ctl, p.frames = p.q.Take(p.ctl, p.frames)
		if len(p.ctl) == 0 && len(p.frames) == 0 {
			break
		}
		p.setWriteDeadline(closeBy)
		for _, c := range p.ctl {
			if err := writeFrame(bw, framePong, c); err != nil {
				return p.writeError(err)
			}
		}
		n := 0
		for _, c := range p.ctl {
			n += frameHeaderSize + len(c)
		}
		for _, f := range p.frames {
			if err := writeFrame(bw, frameMessage, f); err != nil {
				return p.writeError(err)
			}
			n += frameHeaderSize + len(f)
		}
		p.opts.Meter.Sent(n)
		p.q.Release()
		// Do not pin frames already written while idle.
		clear(p.ctl)
		clear(p.frames)
	}
	if bw.Buffered() == 0 {
		return nil
	}
	p.setWriteDeadline(closeBy)
	if err := bw.Flush(); err != nil {
		return p.writeError(err)
	}
	return nil
}

// ping writes a keepalive PING.
func (p *peer) ping() error {
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(p.conn)
	defer func() {
		bw.Reset(nil)
		writers.Put(bw)
	}()
	p.pingCount++
	var payload [4]byte
	payload[0], payload[1], payload[2], payload[3] = byte(p.pingCount>>24), byte(p.pingCount>>16), byte(p.pingCount>>8), byte(p.pingCount)
	p.setWriteDeadline(time.Time{})
	if err := writeFrame(bw, framePing, payload[:]); err != nil {
		return p.writeError(err)
	}
	if err := bw.Flush(); err != nil {
		return p.writeError(err)
	}
	return nil
}

// setWriteDeadline bounds the next writes by WriteTimeout (or closeBy).
// Moving a socket's deadline costs a timer update, which profiles showed at
// 7% of a busy writer: the deadline is moved only once less than half of
// WriteTimeout is left, so a stuck write fails after between a half and a
// whole WriteTimeout.
func (p *peer) setWriteDeadline(closeBy time.Time) {
	now := time.Now()
	d := now.Add(p.opts.WriteTimeout)
	if !closeBy.IsZero() && closeBy.Before(d) {
		d = closeBy
	} else if p.writeDeadline.Sub(now) > p.opts.WriteTimeout/2 {
		return
	}
	p.writeDeadline = d
	p.conn.SetWriteDeadline(d)
}

func (p *peer) writeError(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errWriteTimeout
	}
	return fmt.Errorf("rawsocket: write: %w", err)
}

// finish closes the connection and Done. After a graceful flush the
// connection itself is closed (a TLS connection then says close_notify);
// otherwise the innermost one, which cannot block.
func (p *peer) finish(graceful bool) {
	p.q.Close()
	p.watch.Stop()
	p.unpark()
	if graceful {
		p.conn.SetDeadline(time.Now().Add(p.opts.CloseTimeout))
		p.conn.Close()
	}
	p.raw.Close()
	p.life.Finish()
	if p.pk.srv != nil && p.pk.srv.onFinish != nil {
		p.pk.srv.onFinish(p)
	}
}

// logEvent logs a rare event of this connection. The peer keeps no logger of
// its own (slog's With allocates one per connection): the attributes are
// added here.
func (p *peer) logEvent(level slog.Level, msg string, args ...any) {
	p.opts.Logger.Log(context.Background(), level, msg, append([]any{"transport", "rawsocket", "remote", p.info.RemoteAddr}, args...)...)
}
