package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// Slow is the slow-consumer scenario: one subscriber stops reading while
// Subscribers others keep up. The router must disconnect the stalled one
// once its outbound queue passes its limit, deliver every event to the
// others, and keep its memory bounded meanwhile.
//
// The stalled subscriber is a plain socket with a small receive buffer
// (for RawSocket over TCP or a Unix socket) so that the router's queue, not
// the kernel's buffers, absorbs the backlog. The run watches
// wamp.session.on_leave to see the router drop it, publishes After more
// events to show the others are unaffected, then reads what the stalled
// connection still holds to see how it ended.
type Slow struct {
	Common
	Subscribers int // subscribers that keep up (default 8)
	Window      int // as in Fanout (default 16)
	Payload     int // bytes per event (default 1024)
	// After is how many publications follow the stalled session's
	// departure (default 1,000).
	After int64
	Topic string // default "bench.slow"
}

// Name implements Scenario.
func (*Slow) Name() string { return "slow" }

func (o *Slow) setDefaults() {
	o.Common.setDefaults(200_000, 20*time.Second)
	if o.Subscribers <= 0 {
		o.Subscribers = 8
	}
	if o.Window <= 0 {
		o.Window = 16
	}
	if o.Payload <= 0 {
		o.Payload = 1024
	}
	if o.After <= 0 {
		o.After = 1000
	}
	if o.Topic == "" {
		o.Topic = "bench.slow"
	}
}

// Run implements Scenario.
func (o *Slow) Run(ctx context.Context, t Target) (*Result, error) {
	o.setDefaults()
	ep, d, err := o.prepare(ctx, t, transport.Options{})
	if err != nil {
		return nil, err
	}
	res := newResult(o.Name(), t, ep, o.Serializer, "events", map[string]any{
		"subscribers": o.Subscribers, "window": o.Window, "payload": o.Payload,
		"after": o.After, "count": o.Count, "duration_s": o.Duration.Seconds(),
	})
	r := &fanRun{
		ctx: ctx, window: o.Window, payload: payloadOf(o.Payload), topic: spec.URI(o.Topic),
		meter: o.Meter, label: t.Label + " slow", count: o.Count, duration: o.Duration, drain: 5 * time.Second,
	}
	defer r.close()
	if err := r.setup(ctx, d, o.Realm, 1, o.Subscribers, o.SetupTimeout); err != nil {
		return nil, err
	}
	setup, cancel := context.WithTimeout(ctx, o.SetupTimeout)
	defer cancel()
	meta, err := d.join(setup, o.Realm)
	if err != nil {
		return nil, setupError("meta session", 0, err)
	}
	r.sessions.add(meta)
	if err := meta.subscribe(setup, "wamp.session.on_leave"); err != nil {
		meta = nil
		res.note("no session meta events (%v): the stalled subscriber is checked only at the end", err)
	}
	st, err := dialStalled(setup, ep, d, o.Realm, o.Topic)
	if err != nil {
		return nil, setupError("stalled subscriber", 0, err)
	}
	defer st.close()

	var detectedAt atomic.Int64 // publications sent when on_leave arrived
	detectedAt.Store(-1)
	var detectedWhen atomic.Int64 // unix nanoseconds
	if meta != nil {
		r.readers.Add(1)
		go func() {
			defer r.readers.Done()
			watchLeave(meta, st.id, func() {
				detectedWhen.Store(time.Now().UnixNano())
				detectedAt.Store(r.total.Load())
			})
		}()
	}
	r.stop = func(total int64) bool {
		at := detectedAt.Load()
		return at >= 0 && total >= at+o.After
	}
	m := startMeasure(t.pids(), true)
	r.run()
	start := r.start
	r.finish(res, m)

	ss := &SlowStats{}
	if at := detectedAt.Load(); at >= 0 {
		ss.PublishedBeforeDetection = at
		ss.DetectedAfter = time.Duration(detectedWhen.Load() - start.UnixNano()).Seconds()
	}
	drainCtx, stopDrain := context.WithTimeout(ctx, 15*time.Second)
	defer stopDrain()
	ss.Disconnected, ss.HowClosed = st.drain(drainCtx)
	if p := res.Process; p != nil {
		ss.RSSGrowth = p.RSSPeak - p.RSSBefore
	}
	res.Slow = ss
	if ctxDone(ctx) {
		return res, ctx.Err()
	}
	return res, nil
}

// watchLeave reads the meta session until it ends, calling seen when
// wamp.session.on_leave names session id.
func watchLeave(s *session, id spec.ID, seen func()) {
	for {
		msg, err := s.peer.Recv(context.Background())
		if err != nil {
			var pe *spec.ProtocolError
			if errors.As(err, &pe) {
				continue
			}
			return
		}
		switch msg := msg.(type) {
		case *spec.Event:
			if len(msg.Arguments) > 0 {
				if n, ok := asInt(msg.Arguments[0]); ok && spec.ID(n) == id && seen != nil {
					seen()
					seen = nil
				}
			}
		case *spec.Goodbye:
			s.answerGoodbye()
			return
		case *spec.Abort:
			return
		}
	}
}

// stalled is a subscriber that reads nothing after SUBSCRIBED.
type stalled struct {
	id spec.ID
	// RawSocket over TCP or a Unix socket: our own socket.
	conn net.Conn
	br   *bufio.Reader
	ser  serializer.Serializer
	// Otherwise (WebSocket, TLS): a transport peer nobody reads.
	s *session
}

// stalledReadBuffer is the stalled socket's receive buffer: small, so the
// backlog piles up in the router's queue rather than in our kernel.
const stalledReadBuffer = 4 << 10

func dialStalled(ctx context.Context, ep endpoint, d *dialer, realm, topic string) (*stalled, error) {
	if ep.websocket || ep.tls {
		s, err := d.join(ctx, realm)
		if err != nil {
			return nil, err
		}
		if err := s.subscribe(ctx, topic); err != nil {
			s.peer.Close("setup failed")
			return nil, err
		}
		return &stalled{id: s.id, s: s}, nil
	}
	nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, stalledReadBuffer)
		})
		return errors.Join(err, serr)
	}}
	c, err := nd.DialContext(ctx, ep.network, ep.address)
	if err != nil {
		return nil, fmt.Errorf("bench: dial %s: %w", ep.url, err)
	}
	st := &stalled{conn: c, br: bufio.NewReader(c), ser: d.ser}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if err := st.setup(realm, topic); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return st, nil
}

// setup performs the handshake, HELLO and SUBSCRIBE on the raw socket.
func (st *stalled) setup(realm, topic string) error {
	id := serializer.RawSocketID(st.ser)
	if _, err := st.conn.Write([]byte{0x7F, 0xF0 | id, 0, 0}); err != nil {
		return fmt.Errorf("bench: stalled subscriber handshake: %w", err)
	}
	var rep [4]byte
	if _, err := io.ReadFull(st.br, rep[:]); err != nil {
		return fmt.Errorf("bench: stalled subscriber handshake: %w", err)
	}
	if rep[0] != 0x7F || rep[1]&0x0F != id {
		return fmt.Errorf("bench: stalled subscriber handshake refused (% x)", rep)
	}
	if err := st.write(&spec.Hello{Realm: spec.URI(realm), Details: spec.Dict{"roles": helloRoles}}); err != nil {
		return err
	}
	m, err := st.read()
	if err != nil {
		return err
	}
	w, ok := m.(*spec.Welcome)
	if !ok {
		return fmt.Errorf("bench: stalled subscriber: %s instead of WELCOME", m.Type())
	}
	st.id = w.Session
	if err := st.write(&spec.Subscribe{Request: 1, Options: emptyDict, Topic: spec.URI(topic)}); err != nil {
		return err
	}
	for {
		m, err := st.read()
		if err != nil {
			return err
		}
		switch m := m.(type) {
		case *spec.Subscribed:
			return nil
		case *spec.Error:
			return fmt.Errorf("bench: stalled subscriber: subscribe: %s", m.Error)
		}
	}
}

func (st *stalled) write(m spec.Message) error {
	frame, err := st.ser.Encode(nil, m)
	if err != nil {
		return fmt.Errorf("bench: encode %s: %w", m.Type(), err)
	}
	bw := bufio.NewWriterSize(st.conn, len(frame)+4)
	writeRawFrame(bw, 0, frame)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("bench: stalled subscriber: send %s: %w", m.Type(), err)
	}
	return nil
}

// read reads one message frame, skipping PINGs (which a stalled reader
// would not answer either).
func (st *stalled) read() (spec.Message, error) {
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(st.br, hdr[:]); err != nil {
			return nil, err
		}
		n := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
		if hdr[0]&0x08 != 0 {
			n = 1 << 24
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(st.br, payload); err != nil {
			return nil, err
		}
		if hdr[0]&0x07 != 0 {
			continue
		}
		return st.ser.Decode(payload)
	}
}

// drain reads what the stalled connection holds until it ends (the router
// closed it) or stays quiet for two seconds while open (it did not).
func (st *stalled) drain(ctx context.Context) (closed bool, how string) {
	const quiet = 2 * time.Second
	frames := 0
	if st.s != nil {
		for {
			rctx, cancel := context.WithTimeout(ctx, quiet)
			msg, err := st.s.peer.Recv(rctx)
			cancel()
			switch {
			case err == nil:
				frames++
				switch msg.(type) {
				case *spec.Goodbye, *spec.Abort:
					return true, fmt.Sprintf("the router sent %s after %d queued messages", msg.Type(), frames)
				}
				continue
			case errors.Is(err, context.DeadlineExceeded):
				return false, fmt.Sprintf("still open: nothing for %s after %d messages", quiet, frames)
			default:
				return true, fmt.Sprintf("connection closed after %d queued messages (%v)", frames, err)
			}
		}
	}
	for {
		st.conn.SetReadDeadline(time.Now().Add(quiet))
		msg, err := st.read()
		if err == nil {
			frames++
			switch msg.(type) {
			case *spec.Goodbye, *spec.Abort:
				return true, fmt.Sprintf("the router sent %s after %d queued messages", msg.Type(), frames)
			}
			if ctxDone(ctx) {
				return false, fmt.Sprintf("still receiving after %d messages", frames)
			}
			continue
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return false, fmt.Sprintf("still open: nothing for %s after %d messages", quiet, frames)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return true, fmt.Sprintf("connection closed by the router (EOF after %d queued messages)", frames)
		default:
			var pe *spec.ProtocolError
			if errors.As(err, &pe) {
				continue
			}
			return true, fmt.Sprintf("connection closed by the router after %d queued messages (%v)", frames, err)
		}
	}
}

func (st *stalled) close() {
	if st.s != nil {
		st.s.peer.Close("bench over")
		<-st.s.peer.Done()
		return
	}
	st.conn.Close()
}
