package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/internal/bufpool"
	"github.com/switchyard/switchyard/transport/internal/peerutil"
)

const (
	// readChunk is the first read buffer for a message; it grows (pooled)
	// as the message's bytes arrive.
	readChunk = 4 << 10
	// maxBatch is how many bytes of queued frames the writer packs into
	// one batched message. Peers' read limits are unknown, and a few tens
	// of KiB already amortize the per-message cost.
	maxBatch = 64 << 10
	// maxCloseReason is the longest close reason a close frame carries.
	maxCloseReason = 123
	// writeBufferSize is the pooled buffer a peer's writer frames the
	// queued messages into, to write them in one system call; it is held
	// only while writing. Larger messages are written beside it (writev)
	// by a server; a client, which must mask them, copies them.
	writeBufferSize = 16 << 10
)

var (
	errPongTimeout  = errors.New("websocket: keepalive: no pong")
	errWriteTimeout = errors.New("websocket: write timed out")
)

// peer is one WAMP-over-WebSocket connection, server or client side.
//
// Goroutines: the session's reader calls Recv; the writer goroutine
// (writeLoop, run on demand by kick) is the only one writing messages; the keepalive ping runs on
// a timer goroutine owned by the peer (it is stopped, and waited for, in
// finish). Pings and close frames are answered from within Recv, by the
// wsConn.
//
// Lock order: peerutil.RecvWatch.mu → peerutil.Lifecycle.mu →
// transport.Queue.mu; keepaliveMu is a leaf. None is held across I/O.
type peer struct {
	c *wsConn // reads frames, answers and writes control frames; a server's may park
	// onFinish, on the server side, runs once the peer is done (after
	// Done is closed): the handler's bookkeeping for the connection.
	onFinish func(*peer)
	// wire is where the writer writes the data frames it built itself,
	// and c its control frames.
	wire *wire
	op   byte // the data frames' opcode: text for JSON, binary otherwise
	// client: the client side, whose data frames are masked.
	client bool
	raw    net.Conn
	ser    serializer.Serializer
	// rawPayloads: decode with serializer.DecodeRaw (set by the server).
	rawPayloads bool
	batched     bool
	info        transport.Info
	opts        transport.Options

	q     *transport.Queue
	life  peerutil.Lifecycle
	watch peerutil.RecvWatch

	// Read state, owned by the reader goroutine.
	rbuf         *[]byte  // pooled buffer holding the current message
	pending      [][]byte // messages of a batch not yet returned (alias rbuf)
	readErr      error
	interruptErr atomic.Pointer[error]
	active       atomic.Bool

	// Write state, owned by the writer goroutine.
	ctl, frames [][]byte
	hdr         [maxClientFrameHeader]byte // a frame header written beside its payload
	vec         [2][]byte                  // header and payload of such a frame
	bufs        net.Buffers                // vec, as written (writev)

	// The writer runs on demand (see kick): an idle connection holds no
	// writer goroutine.
	writer peerutil.OnDemand

	// Keepalive: a timer whose function pings. pingCancel ends a ping in
	// progress when the peer finishes (a context per ping, not one per peer
	// for its whole life: that would cost every idle connection memory).
	keepaliveMu      sync.Mutex // Protects the three fields below.
	keepaliveStopped bool
	keepalive        *time.Timer
	pingCancel       context.CancelFunc
	keepaliveWG      sync.WaitGroup
}

var _ transport.Peer = (*peer)(nil)

// newPeer wraps an upgraded connection. w is the wire under c's writes;
// onFinish (server side, may be nil) runs once the peer is done.
func newPeer(c *wsConn, netConn net.Conn, w *wire, s serializer.Serializer, batched bool, info transport.Info, opts transport.Options, onFinish func(*peer)) *peer {
	p := &peer{
		c:        c,
		onFinish: onFinish,
		wire:     w,
		op:       opBinary,
		client:   c.client,
		raw:      peerutil.RawConn(netConn),
		ser:      s,
		batched:  batched,
		info:     info,
		opts:     opts,
		q:        transport.NewQueue(opts.QueueMaxBytes, opts.QueueMaxFrames),
	}
	if !s.Binary() {
		p.op = opText
	}
	p.life.Init()
	p.writer.SetRun(p.writeLoop)
	p.watch.Init(p.interrupt)
	p.active.Store(true)
	if opts.KeepaliveEnabled() {
		p.keepaliveMu.Lock()
		p.keepalive = time.AfterFunc(opts.PingInterval, p.ping)
		p.keepaliveMu.Unlock()
	}
	return p
}

// kick makes sure a writer goroutine runs; see peerutil.OnDemand.
func (p *peer) kick() { p.writer.Kick() }

// Serializer returns the serializer of the negotiated subprotocol.
func (p *peer) Serializer() serializer.Serializer { return p.ser }

// Info describes the connection.
func (p *peer) Info() transport.Info { return p.info }

// Done is closed once the connection is closed and the writer has exited.
func (p *peer) Done() <-chan struct{} { return p.life.Done() }

// Send queues frame; see transport.Peer. WebSocket has no size
// negotiation: frames above our own MaxMessageSize are refused with
// transport.ErrFrameTooLarge.
func (p *peer) Send(frame []byte) error {
	if len(frame) > p.info.MaxSend {
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

// Close flushes the queue, then runs the WebSocket close handshake with
// status 1000 and reason (truncated to fit a close frame), all within
// CloseTimeout. It does not wait; see Done.
func (p *peer) Close(reason string) error {
	if p.life.Close(reason) {
		p.q.Close()
		p.logEvent(slog.LevelDebug, "closing", "reason", reason)
		p.kick() // the writer flushes and closes
	}
	return nil
}

// fail ends the peer at once, closing the innermost connection (which
// never blocks, unlike a TLS close).
func (p *peer) fail(err error) {
	if !p.life.Fail(err) {
		return
	}
	p.q.Close()
	p.unpark()
	p.raw.Close()
	p.kick() // the writer ends the peer
	var pe *spec.ProtocolError
	var fe *frameError
	switch {
	case errors.Is(err, transport.ErrSlowConsumer):
	case errors.As(err, &pe), errors.As(err, &fe):
		p.logEvent(slog.LevelWarn, "connection failed: protocol violation", "error", err)
	default:
		p.logEvent(slog.LevelDebug, "connection failed", "error", err)
	}
}

// interrupt runs when the context of a blocked Recv ends. The reader
// cannot abandon a read without closing the connection, so the peer is
// closed gracefully: queued frames are flushed, then the close handshake
// ends the read.
func (p *peer) interrupt(err error) {
	p.interruptErr.Store(&err)
	p.Close("recv: " + err.Error())
}

// Recv returns the next message; see transport.Peer. A batched message is
// split and its messages returned one by one. A frame that does not decode
// returns an error wrapping *spec.ProtocolError and the peer stays usable;
// a malformed batch fails the connection. When ctx ends during the read
// the peer is closed gracefully and Recv returns an error wrapping
// ctx.Err() once the close handshake is done (within CloseTimeout). The remote end closing returns an error wrapping io.EOF. All
// errors but decode errors are sticky. A server-side peer whose handler
// allowed parking (ResumeWith) may also return transport.ErrParked, between
// messages; see transport.Parker.
func (p *peer) Recv(ctx context.Context) (spec.Message, error) {
	if len(p.pending) > 0 {
		return p.next()
	}
	var err error
	for {
		if p.readErr != nil {
			return nil, p.readErr
		}
		if err := p.watch.Watch(ctx); err != nil {
			return nil, fmt.Errorf("websocket: recv: %w", err)
		}
		err = p.read()
		p.watch.Unwatch()
		if err != errParkNow {
			break
		}
		if p.c.park() {
			return nil, transport.ErrParked
		}
	}
	if err != nil {
		p.readErr = p.readFailed(err)
		return nil, p.readErr
	}
	if !p.active.Load() {
		p.active.Store(true)
	}
	msg := *p.rbuf
	if !p.batched {
		m, err := p.decode(msg)
		p.release()
		return m, decodeError(err)
	}
	p.pending, err = serializer.SplitBatch(p.ser, msg)
	if err != nil {
		p.release()
		err = fmt.Errorf("websocket: batch: %w", err)
		p.fail(err)
		p.readErr = err
		return nil, err
	}
	return p.next()
}

// next returns the next message of the current batch.
func (p *peer) next() (spec.Message, error) {
	m, err := p.decode(p.pending[0])
	p.pending[0] = nil
	p.pending = p.pending[1:]
	if len(p.pending) == 0 {
		p.pending = nil
		p.release()
	}
	return m, decodeError(err)
}

// read reads one whole WebSocket message into a pooled buffer (the
// connection enforces the read limit).
func (p *peer) read() error {
	bp, err := p.c.readMessage()
	if err != nil {
		return err
	}
	p.rbuf = bp
	p.opts.Meter.Received(len(*bp))
	return nil
}

func (p *peer) release() {
	if p.rbuf != nil {
		bufpool.Put(p.rbuf)
		p.rbuf = nil
	}
}

func decodeError(err error) error {
	if err == nil {
		return nil
	}
	var pe *spec.ProtocolError
	if !errors.As(err, &pe) {
		err = fmt.Errorf("%w: %w", &spec.ProtocolError{Reason: err.Error()}, err)
	}
	return fmt.Errorf("websocket: decode: %w", err)
}

// readFailed classifies a read error and ends the peer accordingly.
func (p *peer) readFailed(err error) error {
	if ip := p.interruptErr.Load(); ip != nil {
		return fmt.Errorf("websocket: recv: %w", *ip)
	}
	if status := closeStatus(err); status != -1 {
		// The remote end started the close handshake, and its close frame
		// was answered.
		p.Close("closed by peer")
		return fmt.Errorf("websocket: connection closed by peer (status %d): %w", int(status), io.EOF)
	}
	if p.life.IsClosed() {
		if cause := p.life.Err(); cause != nil {
			return fmt.Errorf("websocket: %w: %w", transport.ErrClosed, cause)
		}
		return fmt.Errorf("websocket: %w", transport.ErrClosed)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("websocket: connection lost: %w", err)
	} else {
		err = fmt.Errorf("websocket: read: %w", err)
	}
	p.fail(err)
	return err
}

// writeLoop is the peer's writer goroutine, started by kick: it writes
// what is queued and exits when nothing is left. On Close it flushes, runs
// the close handshake and ends the peer; on a failure it ends it at once.
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
			closeBy := time.Now().Add(p.opts.CloseTimeout)
			p.wire.limit(closeBy)
			if err := p.flush(closeBy); err != nil {
				p.fail(err)
				p.end(false)
				return
			}
			p.closeHandshake(closeBy)
			p.end(true)
			return
		default:
		}
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
	return n > 0 || p.life.Ending()
}

// end finishes the peer, once, from the writer goroutine.
func (p *peer) end(graceful bool) {
	p.writer.Finish()
	p.finish(graceful)
}

// flush writes everything queued: one WebSocket message per frame, or, on
// a batched subprotocol, frames packed into messages of up to maxBatch
// bytes.
func (p *peer) flush(closeBy time.Time) error {
	var batch *[]byte
	defer func() {
		if batch != nil {
			bufpool.Put(batch)
		}
	}()
	for {
		p.ctl, p.frames = p.q.Take(p.ctl, p.frames)
		if len(p.frames) == 0 && len(p.ctl) == 0 {
			return nil
		}
		switch {
		case !p.batched:
			// errSealed: the frames left after the close frame are dropped,
			// and not counted as sent.
			sent, err := p.writeFrames(p.frames)
			p.opts.Meter.Sent(sent)
			if err != nil && !errors.Is(err, errSealed) {
				return p.writeError(err)
			}
		default:
			if batch == nil {
				batch = bufpool.Get(maxBatch)
			}
			b := (*batch)[:0]
			for i, f := range p.frames {
				b = serializer.AppendBatched(p.ser, b, f)
				if i+1 == len(p.frames) || len(b)+len(p.frames[i+1]) > maxBatch {
					switch err := p.writeMessage(b); {
					case err == nil:
						p.opts.Meter.Sent(len(b))
					case !errors.Is(err, errSealed):
						return p.writeError(err)
					}
					b = b[:0]
				}
			}
			if cap(b) == cap(*batch) {
				*batch = b[:0]
			} else {
				// b outgrew the pooled buffer: keep the pool's sizes honest.
				bufpool.Put(batch)
				batch = nil
			}
		}
		p.q.Release()
		clear(p.frames)
	}
}

// writeFrames writes frames, one WebSocket message each, and returns how
// many of their payload bytes it wrote. Their frames are built in a pooled
// buffer, without allocating, and written in one system call per
// writeBufferSize bytes, where coder/websocket would make one per message
// (profiles of a 1 → 1,000 fan-out put those system calls at most of the
// writer's time). A message too large for the buffer goes alone
// (writeMessage).
func (p *peer) writeFrames(frames [][]byte) (sent int, err error) {
	bp := bufpool.Get(writeBufferSize)
	buf := (*bp)[:0]
	defer func() {
		*bp = buf[:0]
		bufpool.Put(bp)
	}()
	pending := 0 // payload bytes in buf
	for _, f := range frames {
		if len(buf)+maxClientFrameHeader+len(f) > cap(buf) {
			if len(buf) > 0 {
				if _, err := p.wire.Write(buf); err != nil {
					return sent, err
				}
				sent, pending, buf = sent+pending, 0, buf[:0]
			}
			if maxClientFrameHeader+len(f) > cap(buf) {
				if err := p.writeMessage(f); err != nil {
					return sent, err
				}
				sent += len(f)
				continue
			}
		}
		buf = p.appendFrame(buf, f)
		pending += len(f)
	}
	if len(buf) == 0 {
		return sent, nil
	}
	if _, err := p.wire.Write(buf); err != nil {
		return sent, err
	}
	return sent + pending, nil
}

// appendFrame appends the data frame carrying f, masked on the client side.
func (p *peer) appendFrame(dst, f []byte) []byte {
	if p.client {
		return appendMaskedFrame(dst, p.op, f)
	}
	return append(appendFrameHeader(dst, p.op, len(f)), f...)
}

// writeMessage writes one message: on the server side its header and
// payload in one writev, without copying the payload; on the client side,
// which must not mask the caller's bytes in place, as a masked copy.
func (p *peer) writeMessage(b []byte) error {
	if p.client {
		bp := bufpool.Get(maxClientFrameHeader + len(b))
		*bp = appendMaskedFrame((*bp)[:0], p.op, b)
		_, err := p.wire.Write(*bp)
		*bp = (*bp)[:0]
		bufpool.Put(bp)
		return err
	}
	p.vec[0] = appendFrameHeader(p.hdr[:0], p.op, len(b))
	p.vec[1] = b
	p.bufs = p.vec[:]
	err := p.wire.writeBuffers(&p.bufs)
	p.vec = [2][]byte{}
	p.bufs = nil
	return err
}

func (p *peer) writeError(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errWriteTimeout
	}
	return fmt.Errorf("websocket: write: %w", err)
}

// closeHandshake sends a close frame (1000 and the Close reason) and waits
// for the peer's, until closeBy at the latest.
func (p *peer) closeHandshake(closeBy time.Time) {
	reason := p.life.Reason()
	if len(reason) > maxCloseReason {
		reason = reason[:maxCloseReason]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	p.wire.limit(closeBy)
	t := time.AfterFunc(time.Until(closeBy), func() {
		p.unpark()
		p.raw.Close()
	})
	defer t.Stop()
	p.c.closeHandshake(statusNormal, reason, closeBy)
}

// ping runs on the keepalive timer's goroutine: if nothing arrived during
// the last interval, it pings and waits up to PongTimeout for the pong.
func (p *peer) ping() {
	p.keepaliveMu.Lock()
	if p.keepaliveStopped {
		p.keepaliveMu.Unlock()
		return
	}
	p.keepaliveWG.Add(1)
	p.keepaliveMu.Unlock()
	defer p.keepaliveWG.Done()

	if !p.active.Swap(false) {
		ctx, cancel := context.WithTimeout(context.Background(), p.opts.PongTimeout)
		p.keepaliveMu.Lock()
		if p.keepaliveStopped {
			p.keepaliveMu.Unlock()
			cancel()
			return
		}
		p.pingCancel = cancel
		p.keepaliveMu.Unlock()
		err := p.c.ping(ctx)
		p.keepaliveMu.Lock()
		p.pingCancel = nil
		stopped := p.keepaliveStopped
		p.keepaliveMu.Unlock()
		cancel()
		if err != nil {
			if !stopped {
				p.fail(errPongTimeout)
			}
			return
		}
	}
	p.keepaliveMu.Lock()
	if !p.keepaliveStopped {
		p.keepalive.Reset(p.opts.PingInterval)
	}
	p.keepaliveMu.Unlock()
}

// finish releases everything and closes Done: the keepalive is stopped and
// waited for, and the connection closed.
func (p *peer) finish(graceful bool) {
	p.q.Close()
	p.watch.Stop()
	p.keepaliveMu.Lock()
	p.keepaliveStopped = true
	if p.keepalive != nil {
		p.keepalive.Stop()
	}
	if p.pingCancel != nil {
		p.pingCancel() // a ping in progress ends now
	}
	p.keepaliveMu.Unlock()
	p.unpark()
	if !graceful {
		p.raw.Close()
	}
	p.c.closeNow()
	p.keepaliveWG.Wait()
	p.life.Finish()
	if p.onFinish != nil {
		p.onFinish(p)
	}
}

// logEvent logs a rare event of this connection. The peer keeps no logger of
// its own (slog's With allocates one per connection): the attributes are
// added here.
func (p *peer) logEvent(level slog.Level, msg string, args ...any) {
	p.opts.Logger.Log(context.Background(), level, msg, append([]any{"transport", "websocket", "remote", p.info.RemoteAddr}, args...)...)
}

// decode decodes one message. A server's peer, whose messages go to a
// router, keeps the payloads the router forwards unread in their wire form
// (serializer.DecodeRaw).
func (p *peer) decode(b []byte) (spec.Message, error) {
	if p.rawPayloads {
		return serializer.DecodeRaw(p.ser, b)
	}
	return p.ser.Decode(b)
}
