package router

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// conn is one transport connection. It carries one session at a time: after
// GOODBYE the same transport may open a new session with HELLO.
//
// The reader's state lives here rather than on its stack, so that a
// transport that parks idle connections (transport.Parker) can end the
// reader goroutine and resume on a fresh one: an idle connection then
// holds no goroutine at all.
type conn struct {
	router   *Router
	peer     transport.Peer
	listener string // the name of the listener it came through, or ""
	current  atomic.Pointer[session]

	// Reader state, owned by whichever goroutine reads the connection.
	ctx          context.Context
	parker       transport.Parker // nil: the transport cannot park
	parks        bool             // the connection may park (parker.CanPark)
	s            *session         // the established session, if any
	afterGoodbye bool             // the transport carried a session that said GOODBYE
}

// serve reads the connection until it ends, or until its reader parks;
// then resume, on a new goroutine, reads on.
func (c *conn) serve(ctx context.Context) {
	c.ctx = ctx
	c.parker, _ = c.peer.(transport.Parker)
	c.parks = c.parker != nil && c.parker.CanPark()
	c.read()
}

// read runs the connection's sessions one after the other. It returns
// when the transport is done (and then ends the connection) or when the
// reader parked (and then touches nothing more: resume may already run).
func (c *conn) read() {
	for {
		if c.s == nil {
			if c.parker != nil {
				c.parker.ResumeWith(nil) // no parking during a handshake
			}
			if c.parks {
				c.s = c.handshake(c.ctx, c.afterGoodbye)
			} else {
				c.s = c.handshakeOnFreshStack(c.ctx, c.afterGoodbye)
			}
			if c.s == nil {
				c.end()
				return
			}
			if c.parker != nil {
				c.parker.ResumeWith(c.read)
			}
		}
		switch c.s.run(c.ctx) {
		case runParked:
			return
		case runReuse:
			c.s = nil
			c.current.Store(nil)
			c.afterGoodbye = true
		default:
			c.s = nil
			c.current.Store(nil)
			c.end()
			return
		}
	}
}

// end closes the transport and forgets the connection.
func (c *conn) end() {
	c.peer.Close("session ended")
	c.router.untrack(c)
}

// handshakeOnFreshStack runs the handshake on a short-lived goroutine and
// waits for it. Decoding HELLO, authenticating and encoding WELCOME need a
// deep stack once; run on the reader goroutine they would leave it grown
// (8 KiB) for the life of the connection, which for an idle IoT fleet is
// most of the router's memory. The helper's stack is freed when it ends.
//
// Only connections that never park take this detour. One that parks gives
// its reader goroutine, stack and all, back once it is idle, so its
// handshake runs on the reader: the fresh goroutine's stack grew three
// times per session (uprobe on runtime.morestack over 2,000 RawSocket
// connect cycles: 4.9 growths per session, 2.0 without it), and idle
// memory at 10,000 sessions is no higher.
func (c *conn) handshakeOnFreshStack(ctx context.Context, afterGoodbye bool) *session {
	var s *session
	done := make(chan struct{})
	go func() {
		defer close(done)
		s = c.handshake(ctx, afterGoodbye)
	}()
	<-done
	return s
}

// abort sends ABORT; the caller then ends the transport.
func (c *conn) abort(reason spec.URI, message string) {
	c.send(abortMsg(reason, message))
}

// recv receives a message outside of a session (handshake), counting it.
func (c *conn) recv(ctx context.Context) (spec.Message, error) {
	m, err := c.peer.Recv(ctx)
	if err == nil {
		c.router.stats.Received.add(m.Type())
	}
	return m, err
}

// send encodes and queues a message outside of a session (handshake).
func (c *conn) send(m spec.Message) error {
	frame, err := c.peer.Serializer().Encode(nil, m)
	if err != nil {
		return err
	}
	if err := c.peer.Send(frame); err != nil {
		return err
	}
	c.router.stats.Sent.add(m.Type())
	return nil
}

// handshake waits for HELLO and answers WELCOME or ABORT. It returns the
// established session, or nil when the transport should close.
//
// afterGoodbye says the transport just carried a session that ended with
// GOODBYE: messages of that session still in flight (a YIELD its callee
// finished, a PUBLISH sent as it left) are dropped instead of being taken
// for a protocol violation.
func (c *conn) handshake(ctx context.Context, afterGoodbye bool) *session {
	r := c.router
	hctx, cancel := context.WithTimeout(ctx, r.opts.HandshakeTimeout)
	defer cancel()
	m, err := c.recv(hctx)
	for err == nil && afterGoodbye && lateMessage(m) {
		c.logger().Debug("dropped a message of the session that said GOODBYE", "type", m.Type().String())
		m, err = c.recv(hctx)
	}
	if err != nil {
		var pe *spec.ProtocolError
		switch {
		case errors.As(err, &pe):
			r.stats.ProtocolErrors.Add(1)
			c.logger().Warn("protocol violation before HELLO", "error", pe.Reason)
			c.abort(spec.ErrProtocolViolation, pe.Reason)
		case hctx.Err() != nil && ctx.Err() == nil:
			r.stats.HandshakeTimeout.Add(1)
			c.logger().Info("no HELLO before the handshake deadline")
		}
		return nil
	}
	hello, ok := m.(*spec.Hello)
	if !ok {
		r.stats.ProtocolErrors.Add(1)
		c.logger().Warn("protocol violation: first message is not HELLO", "type", m.Type().String())
		c.abort(spec.ErrProtocolViolation, m.Type().String()+" received before HELLO")
		return nil
	}
	if err := spec.Validate(hello); err != nil {
		r.stats.ProtocolErrors.Add(1)
		c.logger().Warn("protocol violation in HELLO", "error", err)
		c.abort(spec.ErrProtocolViolation, err.Error())
		return nil
	}
	if !spec.ValidURI(hello.Realm, spec.Loose, spec.MatchExact) {
		c.logger().Info("HELLO with an invalid realm", "realm", hello.Realm)
		c.abort(spec.ErrInvalidURI, "invalid realm URI")
		return nil
	}
	roles, _ := hello.Details["roles"].(map[string]any)
	if !hasClientRole(roles) {
		r.stats.ProtocolErrors.Add(1)
		c.logger().Warn("protocol violation: HELLO announces no client role")
		c.abort(spec.ErrProtocolViolation, "HELLO.Details.roles must announce at least one of publisher, subscriber, caller, callee")
		return nil
	}
	realm, err := r.realmFor(hello.Realm)
	if err != nil {
		c.abort(spec.CloseSystemShutdown, "router shutting down")
		return nil
	}
	if realm == nil {
		c.logger().Info("HELLO for an unknown realm", "realm", hello.Realm)
		c.abort(spec.ErrNoSuchRealm, "no realm "+string(hello.Realm))
		return nil
	}
	sessionID := spec.GlobalID()
	id, refusal := c.authenticateHello(hctx, realm, hello, sessionID)
	if refusal != nil {
		c.send(refusal)
		return nil
	}
	s := newSession(c, realm, roles, id, sessionID)
	if !realm.join(s) {
		c.abort(spec.CloseSystemShutdown, "realm closing")
		return nil
	}
	// Published before WELCOME so that Shutdown, which closes connections
	// without a session, never mistakes this one for idle.
	c.current.Store(s)
	r.stats.SessionsOpened.Add(1)
	realm.stats.countOpened(c.peer.Info().Transport)
	s.send(&spec.Welcome{Session: s.id, Details: realm.welcomeDetails(s)})
	if s.logs(slog.LevelDebug) {
		s.logger().Debug("session joined", "authid", s.AuthID, "authrole", s.AuthRole)
	}
	if realm.cluster != nil {
		realm.cluster.SessionJoined(s.id, s.AuthID, s.AuthRole)
	}
	realm.emitIfHeard("wamp.session.on_join", func() spec.List { return spec.List{s.details()} })
	return s
}

// lateMessage reports whether m is something a session sends in its normal
// course, which may still arrive just after its GOODBYE.
func lateMessage(m spec.Message) bool {
	switch m.(type) {
	case *spec.Yield, *spec.Error, *spec.Publish, *spec.Call, *spec.Cancel,
		*spec.Subscribe, *spec.Unsubscribe, *spec.Register, *spec.Unregister:
		return true
	}
	return false
}

func hasClientRole(roles map[string]any) bool {
	for _, role := range [...]string{spec.RolePublisher, spec.RoleSubscriber, spec.RoleCaller, spec.RoleCallee} {
		if _, ok := roles[role].(map[string]any); ok {
			return true
		}
	}
	return false
}

// session is one WAMP session within a realm.
type session struct {
	id    spec.ID
	conn  *conn
	peer  transport.Peer
	ser   serializer.Serializer
	realm *Realm
	auth.Identity
	// trusted sessions (the router's internal caller) skip authorization.
	trusted bool
	// warnedOption: a request with an invalid option was logged at Warn;
	// later ones go to Debug. Reader-goroutine-only.
	warnedOption bool
	// features the client announced (a bit set rather than the HELLO's
	// roles dict: an idle session should cost little memory).
	features featureSet

	// Reader-goroutine-only state.
	lastRequest spec.ID // watermark of the client's session-scope request IDs

	// invocations counts INVOCATION request IDs sent to this session.
	invocations spec.IDGen
	closing     atomic.Bool // a router-initiated GOODBYE was sent
	leaveOnce   sync.Once
	stopTimer   atomic.Pointer[time.Timer]

	// The maps below are made on first use: most sessions never need some
	// of them, and an idle session should cost little memory.

	// Guarded by broker.mu: this session's subscriptions.
	subscriptions map[spec.ID]*subscription
	// Guarded by dealer.mu: this session's registrations.
	registrations map[spec.ID]*registration

	mu      sync.Mutex        // guards the fields below
	calls   map[spec.ID]*call // as caller: by CALL.Request
	pending map[spec.ID]*call // as callee: by INVOCATION.Request
	left    bool              // the session has left; no new calls attach to it
	// testaments by scope ("detached", "destroyed"), published on leave.
	testaments map[string][]testament
}

func newSession(c *conn, realm *Realm, roles spec.Dict, id auth.Identity, sessionID spec.ID) *session {
	s := &session{
		id:       sessionID,
		conn:     c,
		peer:     c.peer,
		ser:      c.peer.Serializer(),
		realm:    realm,
		Identity: id,
	}
	s.features = announcedFeatures(roles)
	return s
}

// runEnd is how session.run ends.
type runEnd int

const (
	runOver   runEnd = iota // the session is over, and so is the transport
	runReuse                // the client said GOODBYE: the transport may carry a new session
	runParked               // the transport parked the reader; the session goes on
)

// run routes the session's messages until it ends or the transport parks
// its reader (transport.ErrParked): then it returns at once, leaving the
// session in place for the resumed reader.
func (s *session) run(ctx context.Context) (end runEnd) {
	r := s.realm.router
	defer func() {
		if end != runParked {
			s.leave()
		}
	}()
	for {
		m, err := s.peer.Recv(ctx)
		if err != nil {
			if err == transport.ErrParked {
				return runParked
			}
			var pe *spec.ProtocolError
			if errors.As(err, &pe) {
				s.violation(pe.Reason)
			} else if !s.closing.Load() && s.logs(slog.LevelInfo) {
				s.logger().Info("session left: transport closed", "error", err)
			}
			return runOver
		}
		r.stats.Received.add(m.Type())
		// Messages are routed under the realm's route lock (shared), so that
		// a shutdown can wait for the ones in flight and then cut every
		// session off at one instant: whatever was acknowledged before it is
		// queued ahead of the GOODBYEs.
		s.realm.routeMu.RLock()
		next, reuse := s.handle(m)
		s.realm.routeMu.RUnlock()
		if !next {
			if reuse {
				return runReuse
			}
			return runOver
		}
	}
}

// handle routes one message. next is false when the session ends, and reuse
// then says whether the transport may carry a new session.
func (s *session) handle(m spec.Message) (next, reuse bool) {
	if s.closing.Load() {
		// We said GOODBYE; only the peer's GOODBYE (or ABORT) matters now.
		switch m.(type) {
		case *spec.Goodbye, *spec.Abort:
			return false, false
		}
		return true, false
	}
	if err := spec.Validate(m); err != nil {
		var pe *spec.ProtocolError
		if errors.As(err, &pe) {
			s.violation(pe.Reason)
		} else {
			s.violation(err.Error())
		}
		return false, false
	}
	switch m := m.(type) {
	case *spec.Goodbye:
		// Leave first: once the client reads goodbye_and_out, nothing of
		// the session remains in the realm.
		s.leave()
		s.send(&spec.Goodbye{Details: spec.Dict{}, Reason: spec.CloseGoodbyeAndOut})
		// A goodbye is the normal end, as a join is its start: both Debug.
		if s.logs(slog.LevelDebug) {
			s.logger().Debug("session left", "reason", m.Reason)
		}
		return false, true
	case *spec.Abort:
		s.logger().Info("session aborted by peer", "reason", m.Reason)
		return false, false
	case *spec.Publish:
		if !s.sequential(m.Request) {
			return false, false
		}
		if s.refusedOptions(m) {
			return true, false
		}
		return s.realm.broker.publish(s, m), false
	case *spec.Subscribe:
		if !s.sequential(m.Request) {
			return false, false
		}
		if s.refusedOptions(m) {
			return true, false
		}
		s.realm.broker.subscribe(s, m)
	case *spec.Unsubscribe:
		if !s.sequential(m.Request) {
			return false, false
		}
		s.realm.broker.unsubscribe(s, m)
	case *spec.Call:
		switch s.callRequest(m.Request) {
		case requestNew:
			if s.refusedOptions(m) {
				return true, false
			}
			return s.realm.dealer.call(s, m), false
		case requestContinuation:
			s.realm.dealer.continueCall(s, m)
		default:
			return false, false
		}
	case *spec.Register:
		if !s.sequential(m.Request) {
			return false, false
		}
		if s.refusedOptions(m) {
			return true, false
		}
		s.realm.dealer.register(s, m)
	case *spec.Unregister:
		if !s.sequential(m.Request) {
			return false, false
		}
		s.realm.dealer.unregister(s, m)
	case *spec.Yield:
		return s.realm.dealer.yield(s, m), false
	case *spec.Error:
		if m.RequestType != spec.TypeInvocation {
			s.violation("ERROR for request type " + m.RequestType.String() + " is not valid from a client")
			return false, false
		}
		return s.realm.dealer.calleeError(s, m), false
	case *spec.Cancel:
		s.realm.dealer.cancel(s, m)
	default:
		s.violation(m.Type().String() + " is not valid in an established session")
		return false, false
	}
	return true, false
}

// sequential enforces the spec's session-scope request IDs: each request
// from the client counts up by one (wrapping after 2^53). It sends ABORT
// and returns false on a violation.
func (s *session) sequential(id spec.ID) bool {
	want := s.lastRequest + 1
	if want > spec.MaxID {
		want = 1
	}
	if id != want && !s.realm.router.opts.LenientRequestIDs {
		s.violation("request ID " + strconv.FormatUint(uint64(id), 10) + " is not sequential (expected " + strconv.FormatUint(uint64(want), 10) + ")")
		return false
	}
	s.lastRequest = id
	return true
}

type requestKind int

const (
	requestViolation requestKind = iota
	requestNew
	requestContinuation
)

// callRequest classifies a CALL's request ID with the spec's watermark rule
// for progressive call invocations: the next ID is a new call, an ID at or
// below the watermark continues (or, if over, is discarded by) an earlier
// call, and anything above the next ID is a violation.
func (s *session) callRequest(id spec.ID) requestKind {
	if s.realm.router.opts.LenientRequestIDs {
		// IDs carry no order: a continuation is recognised by its open call.
		s.mu.Lock()
		c := s.calls[id]
		s.mu.Unlock()
		if c != nil {
			return requestContinuation
		}
		s.lastRequest = id
		return requestNew
	}
	if id <= s.lastRequest {
		return requestContinuation
	}
	if s.sequential(id) {
		return requestNew
	}
	return requestViolation
}

// featureSet holds the Advanced Profile features a client announced that
// the router acts on.
type featureSet uint32

const (
	callerProgressiveInvocations featureSet = 1 << iota
	callerPassthru
	calleeCanceling
	calleeProgress // progressive results, and call canceling, as the spec demands
	calleeProgressiveInvocations
	calleeTimeout
	calleeRevocation
	calleePassthru
	subscriberRevocation
	subscriberPassthru
	publisherPassthru
)

// has reports whether every feature in f was announced.
func (fs featureSet) has(f featureSet) bool { return fs&f == f }

func announcedFeatures(roles spec.Dict) featureSet {
	var fs featureSet
	set := func(f featureSet, role, feature string) {
		if spec.HasFeature(roles, role, feature) {
			fs |= f
		}
	}
	set(callerProgressiveInvocations, spec.RoleCaller, spec.FeatureProgressiveCallInvocations)
	set(callerPassthru, spec.RoleCaller, spec.FeaturePayloadPassthruMode)
	set(calleeCanceling, spec.RoleCallee, spec.FeatureCallCanceling)
	set(calleeProgressiveInvocations, spec.RoleCallee, spec.FeatureProgressiveCallInvocations)
	set(calleeTimeout, spec.RoleCallee, spec.FeatureCallTimeout)
	set(calleeRevocation, spec.RoleCallee, spec.FeatureRegistrationRevocation)
	set(calleePassthru, spec.RoleCallee, spec.FeaturePayloadPassthruMode)
	set(subscriberRevocation, spec.RoleSubscriber, spec.FeatureSubscriptionRevocation)
	set(subscriberPassthru, spec.RoleSubscriber, spec.FeaturePayloadPassthruMode)
	set(publisherPassthru, spec.RolePublisher, spec.FeaturePayloadPassthruMode)
	// The spec makes progressive results depend on call canceling: a
	// callee that cannot be interrupted cannot be told to stop streaming.
	if fs.has(calleeCanceling) && spec.HasFeature(roles, spec.RoleCallee, spec.FeatureProgressiveCallResults) {
		fs |= calleeProgress
	}
	return fs
}

// logger returns the connection's logger. It is built on use, not kept:
// logging is rare and an idle connection should cost little memory.
func (c *conn) logger() *slog.Logger {
	info := c.peer.Info()
	return c.router.log.With("remote", info.RemoteAddr, "transport", info.Transport)
}

// logs reports whether the router logs at level. The lines every session
// writes (joined, left) check it first: building the session's logger costs
// two handler clones and their attributes, per session, even when the line
// is then dropped (a connect-cycle profile showed slog's With among the
// handshake's largest costs under --log-level warn).
func (s *session) logs(level slog.Level) bool {
	return s.realm.router.log.Enabled(context.Background(), level)
}

// logger returns the session's logger, built on use like conn.logger.
func (s *session) logger() *slog.Logger {
	return s.conn.logger().With("realm", string(s.realm.name), "session", uint64(s.id))
}

// violation answers a protocol violation: ABORT, logged once, transport
// closed by the caller's return.
func (s *session) violation(reason string) {
	s.realm.router.stats.ProtocolErrors.Add(1)
	s.logger().Warn("protocol violation", "error", reason)
	s.send(&spec.Abort{Details: spec.Dict{"message": reason}, Reason: spec.ErrProtocolViolation})
}

// send encodes m for this session's serializer and queues it.
func (s *session) send(m spec.Message) error {
	frame, err := s.ser.Encode(make([]byte, 0, s.encodeCap(m)), m)
	if err != nil {
		s.logger().Error("cannot encode message", "type", m.Type().String(), "error", err)
		return err
	}
	if e, ok := m.(*spec.Error); ok {
		s.realm.router.stats.errors.add(e.Error)
	}
	return s.sendFrame(m.Type(), frame)
}

// encodeCap is the starting capacity of m's frame when s encodes it. A
// WELCOME carries the router's roles (640–820 B encoded), which 128 B would
// grow three times. An INVOCATION or RESULT without details whose payload
// passes through in this serializer's own encoding is its head (at most
// rawHeadMax bytes) and the payload: sized to fit, a small call's frames
// take a 64 B allocation instead of 128 B, and the collector runs that much
// less often under load.
func (s *session) encodeCap(m spec.Message) int {
	var raw *spec.Raw
	switch m := m.(type) {
	case *spec.Welcome:
		return 1024
	case *spec.Invocation:
		if m.Details == nil {
			raw = &m.Raw
		}
	case *spec.Result:
		if m.Details == nil {
			raw = &m.Raw
		}
	}
	if raw != nil && raw.Bytes != nil && raw.Format == s.ser.Name() {
		return rawHeadMax + len(raw.Bytes)
	}
	return 128
}

// rawHeadMax bounds the encoded head of an INVOCATION or RESULT without
// details, in any serializer: JSON's `[68,9007199254740991,9007199254740991,{},`
// and the closing bracket are 42 bytes.
const rawHeadMax = 48

// sendFrame queues an encoded frame of message type t, counting it and what
// goes wrong. A slow consumer's transport closes itself; its reader then
// ends the session.
func (s *session) sendFrame(t spec.MessageType, frame []byte) error {
	err := s.peer.Send(frame)
	stats := &s.realm.router.stats
	switch {
	case err == nil:
		stats.Sent.add(t)
	case errors.Is(err, transport.ErrSlowConsumer):
		stats.SlowConsumers.Add(1)
		s.logger().Warn("slow consumer disconnected: outbound queue full")
	case errors.Is(err, transport.ErrFrameTooLarge):
		stats.OversizeDropped.Add(1)
	}
	return err
}

// close ends the session from the router's side: GOODBYE now, and the
// transport is closed when the peer answers or GoodbyeTimeout passes.
func (s *session) close(reason spec.URI, message string) {
	if !s.closing.CompareAndSwap(false, true) {
		return
	}
	s.sayGoodbye(reason, message)
	// Its subscriptions, registrations and calls end now, not when the peer
	// gets round to answering (leave repeats this for anything added since).
	s.realm.emit(s.realm.broker.removeSession(s))
	s.realm.emit(s.realm.dealer.removeSession(s))
}

// sayGoodbye queues GOODBYE and arms the timer that closes the transport if
// the peer never answers. The session must already be marked closing.
func (s *session) sayGoodbye(reason spec.URI, message string) {
	details := spec.Dict{}
	if message != "" {
		details["message"] = message
	}
	s.send(&spec.Goodbye{Details: details, Reason: reason})
	peer := s.peer
	t := time.AfterFunc(s.realm.router.opts.GoodbyeTimeout, func() { peer.Close("no GOODBYE reply") })
	s.stopTimer.Store(t)
}

// leave removes the session from its realm: subscriptions, registrations
// and in-flight calls end with it. It runs once, on the reader goroutine.
func (s *session) leave() {
	s.leaveOnce.Do(func() {
		if t := s.stopTimer.Load(); t != nil {
			t.Stop()
		}
		s.realm.leave(s)
		s.realm.router.stats.SessionsClosed.Add(1)
	})
}

// details describes the session for meta events and disclosure.
func (s *session) details() spec.Dict {
	info := s.peer.Info()
	return spec.Dict{
		"session":      int64(s.id),
		"authid":       s.AuthID,
		"authrole":     s.AuthRole,
		"authmethod":   s.AuthMethod,
		"authprovider": s.AuthProvider,
		"transport": spec.Dict{
			"type":     info.Transport,
			"protocol": info.Protocol,
			"peer":     info.RemoteAddr,
		},
	}
}
