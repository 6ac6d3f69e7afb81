package rawsocket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/idle"
	"github.com/switchyard/switchyard/transport/internal/peerutil"
)

// DefaultHandshakeTimeout bounds the opening handshake: a client that has
// not sent its 4 octets by then (or a TLS client its TLS handshake) is
// dropped, so half-open connections cannot pile up.
const DefaultHandshakeTimeout = 10 * time.Second

var errServerClosed = errors.New("rawsocket: server closed")

// ServerOptions configure a [Server]. The zero value means defaults.
type ServerOptions struct {
	transport.Options
	// Serializers are the serializers offered; nil means all of JSON,
	// MessagePack and CBOR.
	Serializers []serializer.Serializer
	// HandshakeTimeout bounds the handshake; 0 means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxConns limits concurrent sessions; 0 means unlimited. A client past
	// the limit receives error handshake 4 (maximum connection count).
	MaxConns int
	// ParkIdle is the idle sweep period: a connection (TCP or Unix socket,
	// not TLS) that receives nothing for between one and two periods gives
	// back its reader goroutine and read buffer until input arrives (see
	// package transport/idle). 0 means idle.DefaultPeriod (1 s); negative
	// disables parking. Linux only; elsewhere connections keep their
	// readers.
	ParkIdle time.Duration
}

// Server accepts RawSocket connections (TCP, TLS, Unix sockets) and hands
// each one, after the handshake, to a [transport.Handler].
//
// Each connection runs in its own goroutine, which performs the handshake
// and then calls ServePeer; the peer's writer is the connection's second
// goroutine, running only while there is something to write. An idle
// connection (TCP or Unix socket) is parked after ParkIdle: it then holds
// no goroutine at all until input arrives (see package transport/idle). All methods are safe for concurrent use.
//
// Lock order: Server.mu → the peer's locks.
type Server struct {
	h       transport.Handler
	opts    ServerOptions
	log     *slog.Logger
	offered [16]serializer.Serializer // by RawSocket serializer id
	recvExp byte
	maxRecv int

	// baseCtx is every ServePeer's context, cancelled by Close.
	baseCtx context.Context
	cancel  context.CancelFunc

	sessions atomic.Int64 // established sessions, for MaxConns

	// parking parks the readers of idle connections; nil when disabled.
	parking *idle.Group
	readers sync.Pool // *bufio.Reader of ReadBufferSize, for resumed readers

	mu        sync.Mutex // Protects the fields below.
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]*peer // nil peer: still in the handshake
	shutdown  bool
	idle      chan struct{} // closed once shut down with no connection left
}

// NewServer returns a RawSocket server that serves peers with h.
func NewServer(h transport.Handler, opts ServerOptions) *Server {
	opts.Options = opts.Options.WithDefaults()
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	ss := opts.Serializers
	if ss == nil {
		ss = serializer.All()
	}
	s := &Server{
		h:         h,
		opts:      opts,
		log:       opts.Logger.With("transport", "rawsocket"),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[net.Conn]*peer),
	}
	for _, x := range ss {
		if id := serializer.RawSocketID(x); id > 0 && id < 16 {
			s.offered[id] = x
		}
	}
	limit := min(opts.MaxMessageSize, MaxFrameSize)
	s.recvExp = lengthExp(limit)
	s.maxRecv = lengthLimit(s.recvExp)
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	if opts.ParkIdle >= 0 && idle.Supported() {
		s.parking = idle.NewGroup(opts.ParkIdle)
	}
	size := opts.ReadBufferSize
	s.readers.New = func() any { return bufio.NewReaderSize(nil, size) }
	return s
}

// Serve accepts connections on ln until ln is closed or the server shuts
// down, and serves each in a new goroutine. It returns nil after Shutdown,
// Close or a Close of ln, and the accept error otherwise. Serve closes ln
// when it returns.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isShutdown() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if peerutil.TemporaryAcceptError(err) {
				// Out of file descriptors and the like: wait, as
				// net/http does, rather than spin or give up.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "error", err, "retry_in", backoff)
				select {
				case <-time.After(backoff):
				case <-s.baseCtx.Done():
					return nil
				}
				continue
			}
			return fmt.Errorf("rawsocket: accept: %w", err)
		}
		backoff = 0
		if !s.track(c) {
			c.Close()
			return nil
		}
		go s.serveTracked(c)
	}
}

// ServeConn serves one connection in the calling goroutine: the handshake,
// then the Handler's ServePeer. It returns when the session is over and the
// connection closed, or when the handler returned because the idle
// connection was parked (see transport.Parker): then a fresh goroutine
// serves the connection once input arrives. The one-port listener uses it for connections whose
// first byte was 0x7F (still unread in c).
func (s *Server) ServeConn(c net.Conn) {
	if !s.track(c) {
		c.Close()
		return
	}
	s.serveTracked(c)
}

func (s *Server) isShutdown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

// track registers c; it refuses once the server is shutting down.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	s.conns[c] = nil
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.shutdown && len(s.conns) == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

func (s *Server) serveTracked(c net.Conn) {
	p := s.handshake(c)
	if p == nil {
		s.untrack(c)
		return
	}
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		p.fail(errServerClosed)
		<-p.Done()
		return
	}
	s.conns[c] = p
	s.mu.Unlock()
	if p.canPark() {
		s.parking.Watch(p)
	}

	s.h.ServePeer(s.baseCtx, p)
	if p.pk.handedOff.Load() {
		// The reader parked: the handler resumes it later and closes the
		// peer; the peer's onFinish does the bookkeeping.
		return
	}
	p.Close("session ended")
	<-p.Done()
}

// finished is a peer's onFinish: the connection is over.
func (s *Server) finished(c net.Conn, p *peer, remote string) {
	if p.canPark() {
		s.parking.Forget(p)
	}
	s.sessions.Add(-1)
	s.opts.Limiter.Release(remote)
	s.untrack(c)
}

// handshake runs the server side of the opening handshake under
// HandshakeTimeout. It returns the peer, or nil when the connection was
// refused (and closed).
func (s *Server) handshake(c net.Conn) *peer {
	remote := peerutil.RemoteAddr(c)
	c.SetDeadline(time.Now().Add(s.opts.HandshakeTimeout))
	var req [4]byte
	if _, err := io.ReadFull(c, req[:]); err != nil {
		s.log.Info("handshake: read failed", "remote", remote, "error", err)
		c.Close()
		return nil
	}
	v := judge(req, s.serializer, s.recvExp)
	if v.ok {
		// A slot is taken now, released by serveTracked (or below).
		if n := s.sessions.Add(1); s.opts.MaxConns > 0 && n > int64(s.opts.MaxConns) {
			s.sessions.Add(-1)
			v = verdict{reply: refusal(CodeMaxConnections), code: CodeMaxConnections}
		} else if !s.opts.Limiter.Acquire(remote) {
			s.sessions.Add(-1)
			v = verdict{reply: refusal(CodeMaxConnections), code: CodeMaxConnections}
		}
	}
	if v.noReply {
		s.log.Info("handshake: not RawSocket (bad magic octet); closing", "remote", remote, "octet", int(req[0]))
		c.Close()
		return nil
	}
	if _, err := c.Write(v.reply[:]); err != nil || !v.ok {
		if err != nil {
			s.log.Info("handshake: write failed", "remote", remote, "error", err)
		} else {
			s.log.Info("handshake refused", "remote", remote, "code", int(v.code), "reason", v.code.String())
		}
		if v.ok {
			s.sessions.Add(-1)
			s.opts.Limiter.Release(remote)
		}
		c.Close()
		return nil
	}
	c.SetDeadline(time.Time{})
	br := bufio.NewReaderSize(c, s.opts.ReadBufferSize)
	srv := &serverSide{
		idle:     s.parking,
		readers:  &s.readers,
		onFinish: func(p *peer) { s.finished(c, p, remote) },
	}
	return newPeer(c, br, v.ser, s.maxRecv, v.sendLimit, s.opts.Options, srv)
}

func (s *Server) serializer(id byte) serializer.Serializer {
	if int(id) < len(s.offered) {
		return s.offered[id]
	}
	return nil
}

// Shutdown stops accepting connections and waits until every connection
// has ended, or ctx is done; then it closes the remaining connections at
// once (see Close) and returns ctx.Err(). It does not end sessions itself:
// the router's Shutdown says GOODBYE first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	for ln := range s.listeners {
		ln.Close()
	}
	if s.idle == nil && len(s.conns) > 0 {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.mu.Unlock()
	if idle == nil {
		s.stopParking()
		return nil
	}
	select {
	case <-idle:
		s.stopParking()
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close stops accepting connections, cancels the context given to
// ServePeer and closes every connection at once, without flushing. It does
// not wait for the connection goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.shutdown = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c, p := range s.conns {
		if p != nil {
			p.fail(errServerClosed)
		} else {
			peerutil.RawConn(c).Close()
		}
	}
	s.mu.Unlock()
	s.cancel()
	s.stopParking()
	return nil
}

// Parked returns how many of the server's connections are parked now
// (hold no reader goroutine).
func (s *Server) Parked() int {
	if s.parking == nil {
		return 0
	}
	return s.parking.Parked()
}

// stopParking ends the idle sweeper and poller; every parked connection
// has been woken by then (a peer unparks before it closes).
func (s *Server) stopParking() {
	if s.parking != nil {
		s.parking.Close()
	}
}
