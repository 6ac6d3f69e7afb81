package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// RelayOptions configure a [Relay]. The zero value gives each connection
// the router's own transport defaults, which is what makes the comparison
// fair.
type RelayOptions struct {
	// QueueMaxBytes and QueueMaxFrames bound each connection's outbound
	// queue (0: the transport defaults). A connection past them is closed,
	// as the router closes a slow consumer.
	QueueMaxBytes, QueueMaxFrames int
	// ReadBufferSize is each connection's read buffer (0: the router's
	// transport.DefaultReadBufferSize).
	ReadBufferSize int
	// Logger receives connection failures (nil: discard).
	Logger *slog.Logger
}

// relayWriteBuffer is the write buffer a connection borrows while it has
// frames to write: the router's RawSocket peers use the same size and the
// same borrowing, so idle connections cost the relay what they cost the
// router's transport.
const relayWriteBuffer = 16 << 10

var relayWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, relayWriteBuffer) }}

// relayWelcome is WELCOME.Details for every session the relay accepts. It
// has the shape and size of a full router's — an identity, and roles with
// their features — because the client decodes it, and the connect
// scenario's client work must be the same against the relay as against a
// router. Shared and read-only.
var relayWelcome = func() spec.Dict {
	features := func(names ...string) spec.Dict {
		d := spec.Dict{}
		for _, n := range names {
			d[n] = true
		}
		return spec.Dict{"features": d}
	}
	return spec.Dict{
		"agent":        "switchyard-bench-relay",
		"realm":        "realm1",
		"authid":       "relay-0123456789abcdef",
		"authrole":     "anonymous",
		"authmethod":   "anonymous",
		"authprovider": "static",
		"roles": spec.Dict{
			spec.RoleBroker: features(spec.FeaturePublisherExclusion, spec.FeaturePublisherIdentification,
				spec.FeatureSubscriberBlackWhiteList, spec.FeaturePatternBasedSubscription, spec.FeatureSessionMetaAPI,
				spec.FeatureSubscriptionMetaAPI, spec.FeatureEventRetention, spec.FeatureEventHistory,
				spec.FeatureSubscriptionRevocation, spec.FeaturePayloadPassthruMode),
			spec.RoleDealer: features(spec.FeatureProgressiveCallResults, spec.FeatureCallerIdentification,
				spec.FeaturePatternBasedRegistration, spec.FeatureSharedRegistration, spec.FeatureSessionMetaAPI,
				spec.FeatureRegistrationMetaAPI, spec.FeatureTestamentMetaAPI, spec.FeatureCallCanceling,
				spec.FeatureCallTimeout, spec.FeatureRegistrationRevocation, spec.FeatureProgressiveCallInvocations,
				spec.FeaturePayloadPassthruMode),
		},
	}
}()

// Relay is the baseline: a RawSocket server that forwards frames between
// connections without decoding them, rewriting only their heads (see the
// package documentation). It knows one procedure and one topic: every CALL
// goes to a callee (each caller is pinned to one, round robin) and every
// PUBLISH to every subscriber. Connections of different serializers are
// served by decoding and encoding, which the generator never asks for.
//
// Each connection has a reader goroutine and a writer goroutine, owned by
// the Relay and joined by Close. Lock order: relayConn.fifoMu →
// transport.Queue's lock; Relay.mu is a leaf.
type Relay struct {
	opts RelayOptions
	ln   net.Listener
	log  *slog.Logger
	wg   sync.WaitGroup

	callees atomic.Pointer[[]*relayConn] // copy on write
	subs    atomic.Pointer[[]*relayConn] // copy on write
	roleMu  sync.Mutex                   // serializes the copies
	rr      atomic.Uint64
	// The one registration and the one subscription every callee and
	// subscriber shares, with random IDs as a router's.
	registration, subscription spec.ID

	mu     sync.Mutex // Protects the fields below.
	conns  map[*relayConn]struct{}
	closed bool
}

// ListenRelay listens on address ("127.0.0.1:0", or a socket path for
// network "unix") and serves until Close.
func ListenRelay(network, address string, opts RelayOptions) (*Relay, error) {
	if opts.ReadBufferSize <= 0 {
		opts.ReadBufferSize = transport.DefaultReadBufferSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, fmt.Errorf("bench: relay: %w", err)
	}
	r := &Relay{
		opts: opts, ln: ln, log: opts.Logger.With("component", "relay"), conns: map[*relayConn]struct{}{},
		registration: spec.GlobalID(), subscription: spec.GlobalID(),
	}
	r.callees.Store(&[]*relayConn{})
	r.subs.Store(&[]*relayConn{})
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// URL is the relay's address as a bench target URL.
func (r *Relay) URL() string {
	a := r.ln.Addr()
	if a.Network() == "unix" {
		return "unix://" + a.String()
	}
	return "tcp://" + a.String()
}

// Close stops accepting, closes every connection and waits for every
// goroutine of the relay to end.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closed = true
	conns := make([]*relayConn, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	err := r.ln.Close()
	for _, c := range conns {
		c.conn.Close()
	}
	r.wg.Wait()
	return err
}

func (r *Relay) accept() {
	defer r.wg.Done()
	acceptLoop(r.ln, func(nc net.Conn) bool {
		c := &relayConn{r: r, conn: nc, closing: make(chan struct{}), written: make(chan struct{})}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.closed {
			return false
		}
		r.conns[c] = struct{}{}
		r.wg.Add(1)
		go c.serve()
		return true
	})
}

// relayConn is one connection of the relay.
type relayConn struct {
	r       *Relay
	conn    net.Conn
	br      *bufio.Reader
	ser     serializer.Serializer
	format  string
	env     envelope
	q       *transport.Queue
	closing chan struct{} // closed once: the writer flushes and closes
	written chan struct{} // closed when the writer has ended
	once    sync.Once
	dead    atomic.Bool

	// callee is the connection a caller's CALLs go to (reader only).
	callee *relayConn

	// fifo holds, for a callee, the caller of each CALL forwarded to it, in
	// the order they were queued: the callee answers in that order.
	fifoMu      sync.Mutex
	fifo        ring
	invocations uint64 // INVOCATION request IDs, under fifoMu
}

// pending is a call forwarded to a callee: who made it, with which ID.
type pending struct {
	caller  *relayConn
	request uint64
}

func (c *relayConn) serve() {
	defer c.r.wg.Done()
	defer c.end()
	if !c.handshake() {
		return
	}
	c.q = transport.NewQueue(c.r.opts.QueueMaxBytes, c.r.opts.QueueMaxFrames)
	go c.writeLoop()
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
			return
		}
		typ := hdr[0] & 0x07
		n := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
		if hdr[0]&0x08 != 0 {
			n = 1 << 24
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.br, payload); err != nil {
			return
		}
		switch typ {
		case 0:
			c.route(payload)
		case 1: // PING: answer with a PONG carrying the same payload
			c.push(payload, true)
		}
	}
}

// handshake answers the client's RawSocket handshake, accepting any of the
// three serializers and announcing the largest receive limit.
func (c *relayConn) handshake() bool {
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	c.br = bufio.NewReaderSize(c.conn, c.r.opts.ReadBufferSize)
	var req [4]byte
	if _, err := io.ReadFull(c.br, req[:]); err != nil || req[0] != 0x7F {
		return false
	}
	id := req[1] & 0x0F
	ser, ok := serializer.ByRawSocketID(id)
	if !ok || req[2] != 0 || req[3] != 0 {
		c.conn.Write([]byte{0x7F, 1 << 4, 0, 0}) // serializer unsupported
		return false
	}
	if _, err := c.conn.Write([]byte{0x7F, 0xF0 | id, 0, 0}); err != nil {
		return false
	}
	c.conn.SetDeadline(time.Time{})
	c.ser, c.format, c.env = ser, ser.Name(), envelopeFor(ser.Name())
	return true
}

// route forwards one message frame by its type code alone, rewriting only
// its head (see envelope).
func (c *relayConn) route(frame []byte) {
	mt, ok := peekType(c.format, frame)
	if !ok {
		c.control(frame)
		return
	}
	switch mt {
	case spec.TypeCall:
		h, ok := parseHead(c.env, frame, 2) // Options, Procedure
		if !ok {
			c.malformed()
			return
		}
		c.forwardCall(frame, h)
	case spec.TypeYield:
		h, ok := parseHead(c.env, frame, 1) // Options
		if !ok {
			c.malformed()
			return
		}
		c.fifoMu.Lock()
		pc := c.fifo.pop()
		c.fifoMu.Unlock()
		switch {
		case pc.caller == nil:
		case pc.caller.format == c.format:
			pc.caller.push(rewrite3(c.env, frame, h, uint64(spec.TypeResult), pc.request), false)
		default:
			c.transcode(frame, pc.caller, func(m spec.Message) spec.Message {
				y, _ := m.(*spec.Yield)
				if y == nil {
					return nil
				}
				return &spec.Result{Request: spec.ID(pc.request), Details: emptyDict, Arguments: y.Arguments, ArgumentsKw: y.ArgumentsKw}
			})
		}
	case spec.TypeError:
		// A callee's error: rare, and never part of a measured run.
		c.fifoMu.Lock()
		pc := c.fifo.pop()
		c.fifoMu.Unlock()
		if m, err := c.ser.Decode(frame); err == nil && pc.caller != nil {
			if e, ok := m.(*spec.Error); ok {
				pc.caller.sendMessage(&spec.Error{RequestType: spec.TypeCall, Request: spec.ID(pc.request), Details: emptyDict, Error: e.Error, Arguments: e.Arguments, ArgumentsKw: e.ArgumentsKw})
			}
		}
	case spec.TypePublish:
		h, ok := parseHead(c.env, frame, 2) // Options, Topic
		if !ok {
			c.malformed()
			return
		}
		// One EVENT, shared by every subscriber's queue, as the router
		// shares one encoding per subscription. Every PUBLISH is
		// acknowledged: the generator always asks.
		pub := uint64(spec.GlobalID())
		event := rewrite4(c.env, frame, h, uint64(spec.TypeEvent), uint64(c.r.subscription), pub)
		for _, s := range *c.r.subs.Load() {
			switch {
			case s == c:
			case s.format == c.format:
				s.push(event, false)
			default:
				c.transcode(frame, s, func(m spec.Message) spec.Message {
					p, _ := m.(*spec.Publish)
					if p == nil {
						return nil
					}
					return &spec.Event{Subscription: c.r.subscription, Publication: spec.ID(pub), Details: emptyDict, Arguments: p.Arguments, ArgumentsKw: p.ArgumentsKw}
				})
			}
		}
		c.push(build3(c.env, uint64(spec.TypePublished), h.id, pub), false)
	default:
		c.control(frame)
	}
}

// transcode sends to another connection a message built from frame when
// the two connections use different serializers: the relay then decodes
// and encodes like a router. The generator never mixes serializers, so
// this path is never measured; it only keeps the relay correct.
func (c *relayConn) transcode(frame []byte, to *relayConn, build func(spec.Message) spec.Message) {
	if out := transcoded(c.ser, to.ser, frame, build); out != nil {
		to.push(out, false)
	}
}

func transcoded(from, to serializer.Serializer, frame []byte, build func(spec.Message) spec.Message) []byte {
	m, err := from.Decode(frame)
	if err != nil {
		return nil
	}
	if m = build(m); m == nil {
		return nil
	}
	out, err := to.Encode(nil, m)
	if err != nil {
		return nil
	}
	return out
}

func (c *relayConn) malformed() {
	c.r.log.Info("malformed message; closing", "remote", c.conn.RemoteAddr().String())
	c.kill()
}

func (c *relayConn) forwardCall(frame []byte, h header) {
	callee := c.callee
	if callee == nil || callee.dead.Load() {
		callee = c.r.pickCallee()
		c.callee = callee
	}
	if callee == nil {
		c.sendMessage(&spec.Error{RequestType: spec.TypeCall, Request: spec.ID(h.id), Details: emptyDict, Error: spec.ErrNoSuchProcedure})
		return
	}
	callee.fifoMu.Lock()
	callee.invocations++
	var inv []byte
	if callee.format == c.format {
		inv = rewrite4(c.env, frame, h, uint64(spec.TypeInvocation), callee.invocations, uint64(c.r.registration))
	} else {
		inv = transcoded(c.ser, callee.ser, frame, func(m spec.Message) spec.Message {
			call, _ := m.(*spec.Call)
			if call == nil {
				return nil
			}
			return &spec.Invocation{Request: spec.ID(callee.invocations), Registration: c.r.registration, Details: emptyDict, Arguments: call.Arguments, ArgumentsKw: call.ArgumentsKw}
		})
	}
	if inv == nil {
		callee.fifoMu.Unlock()
		c.malformed()
		return
	}
	callee.fifo.push(pending{caller: c, request: h.id})
	err := callee.q.Push(inv)
	if err != nil {
		callee.fifo.dropLast()
	}
	callee.fifoMu.Unlock()
	if errors.Is(err, transport.ErrSlowConsumer) {
		callee.kill()
	}
}

// control decodes and answers what is not forwarded: session setup and
// teardown.
func (c *relayConn) control(frame []byte) {
	m, err := c.ser.Decode(frame)
	if err != nil {
		c.r.log.Info("undecodable frame; closing", "remote", c.conn.RemoteAddr().String(), "error", err)
		c.kill()
		return
	}
	switch m := m.(type) {
	case *spec.Hello:
		c.sendMessage(&spec.Welcome{Session: spec.GlobalID(), Details: relayWelcome})
	case *spec.Register:
		c.r.addRole(&c.r.callees, c)
		c.sendMessage(&spec.Registered{Request: m.Request, Registration: c.r.registration})
	case *spec.Subscribe:
		c.r.addRole(&c.r.subs, c)
		c.sendMessage(&spec.Subscribed{Request: m.Request, Subscription: c.r.subscription})
	case *spec.Goodbye:
		c.sendMessage(&spec.Goodbye{Details: emptyDict, Reason: spec.CloseGoodbyeAndOut})
		c.shutdown()
	}
}

func (c *relayConn) sendMessage(m spec.Message) {
	frame, err := c.ser.Encode(nil, m)
	if err != nil {
		c.r.log.Error("cannot encode", "type", m.Type().String(), "error", err)
		return
	}
	c.push(frame, false)
}

// push queues a frame for the writer; a full queue closes the connection,
// as the router treats a slow consumer.
func (c *relayConn) push(frame []byte, control bool) {
	var err error
	if control {
		err = c.q.PushControl(frame)
	} else {
		err = c.q.Push(frame)
	}
	if errors.Is(err, transport.ErrSlowConsumer) {
		c.kill()
	}
}

// writeLoop is the connection's only writer: it writes what is queued in
// batches, like the router's RawSocket writer.
func (c *relayConn) writeLoop() {
	defer close(c.written)
	defer c.conn.Close()
	var ctl, frames [][]byte
	flush := func() error {
		bw := relayWriters.Get().(*bufio.Writer)
		bw.Reset(c.conn)
		defer func() {
			bw.Reset(nil)
			relayWriters.Put(bw)
		}()
		for {
			ctl, frames = c.q.Take(ctl, frames)
			if len(ctl) == 0 && len(frames) == 0 {
				break
			}
			for _, f := range ctl {
				writeRawFrame(bw, 2, f)
			}
			for _, f := range frames {
				if err := writeRawFrame(bw, 0, f); err != nil {
					return err
				}
			}
			c.q.Release()
		}
		return bw.Flush()
	}
	for {
		select {
		case <-c.q.Ready():
			if err := flush(); err != nil {
				c.kill()
				return
			}
		case <-c.closing:
			c.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
			flush()
			return
		}
	}
}

// writeRawFrame writes one RawSocket frame of type typ.
func writeRawFrame(bw *bufio.Writer, typ byte, payload []byte) error {
	n := len(payload)
	b0 := typ
	if n == 1<<24 {
		b0 |= 0x08
		n = 0
	}
	bw.WriteByte(b0)
	bw.WriteByte(byte(n >> 16))
	bw.WriteByte(byte(n >> 8))
	bw.WriteByte(byte(n))
	_, err := bw.Write(payload)
	return err
}

// shutdown ends the connection gracefully: the writer flushes what is
// queued, then closes.
func (c *relayConn) shutdown() {
	c.once.Do(func() {
		if c.q != nil {
			c.q.Close()
		}
		close(c.closing)
	})
}

// kill ends the connection at once.
func (c *relayConn) kill() {
	c.dead.Store(true)
	c.shutdown()
	c.conn.Close()
}

// end runs when the reader stops: it lets the writer flush (for at most
// two seconds) and waits for it, so that the reader owns the writer.
func (c *relayConn) end() {
	c.dead.Store(true)
	c.r.removeRole(&c.r.callees, c)
	c.r.removeRole(&c.r.subs, c)
	if c.q == nil {
		c.conn.Close()
	} else {
		c.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		c.shutdown()
		<-c.written
	}
	c.r.mu.Lock()
	delete(c.r.conns, c)
	c.r.mu.Unlock()
}

func (r *Relay) pickCallee() *relayConn {
	cs := *r.callees.Load()
	if len(cs) == 0 {
		return nil
	}
	return cs[int(r.rr.Add(1)-1)%len(cs)]
}

func (r *Relay) addRole(list *atomic.Pointer[[]*relayConn], c *relayConn) {
	r.roleMu.Lock()
	defer r.roleMu.Unlock()
	old := *list.Load()
	for _, x := range old {
		if x == c {
			return
		}
	}
	next := append(append(make([]*relayConn, 0, len(old)+1), old...), c)
	list.Store(&next)
}

func (r *Relay) removeRole(list *atomic.Pointer[[]*relayConn], c *relayConn) {
	r.roleMu.Lock()
	defer r.roleMu.Unlock()
	old := *list.Load()
	next := make([]*relayConn, 0, len(old))
	for _, x := range old {
		if x != c {
			next = append(next, x)
		}
	}
	if len(next) != len(old) {
		list.Store(&next)
	}
}

// ring is a FIFO of pending calls that grows as needed.
type ring struct {
	buf  []pending
	head int
	n    int
}

func (q *ring) push(p pending) {
	if q.n == len(q.buf) {
		nb := make([]pending, max(16, 2*len(q.buf)))
		for i := 0; i < q.n; i++ {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = p
	q.n++
}

func (q *ring) pop() pending {
	if q.n == 0 {
		return pending{}
	}
	p := q.buf[q.head]
	q.buf[q.head] = pending{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return p
}

func (q *ring) dropLast() {
	if q.n > 0 {
		q.n--
		q.buf[(q.head+q.n)%len(q.buf)] = pending{}
	}
}
