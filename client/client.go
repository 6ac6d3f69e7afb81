// Package client is a Go WAMP v2 client: it connects by URL over WebSocket
// or RawSocket (TCP, TLS or a Unix socket) with any serializer, joins a
// realm, and calls, registers, publishes and subscribes with
// context.Context. The CLI, the load generator, the tests and Go devices use
// it.
//
// A Client has two goroutines: the transport's writer and its own reader,
// which dispatches answers to waiting requests and runs event handlers in
// order. Event handlers must not block on the router (start a goroutine for
// that); invocation handlers each run in their own goroutine.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/rawsocket"
	"github.com/switchyard/switchyard/transport/websocket"
)

// Config configures a connection. The zero value joins realm "realm1" with
// JSON, anonymously.
type Config struct {
	// Realm to join (default "realm1").
	Realm string
	// Serializer is "json", "msgpack" or "cbor" (default "json").
	Serializer string
	// TLSConfig is used for wss://, rss:// and tcps:// URLs.
	TLSConfig *tls.Config
	// AuthMethods, AuthID and AuthExtra go into HELLO.Details.
	AuthMethods []string
	AuthID      string
	AuthExtra   spec.Dict
	// Authenticate answers a CHALLENGE; required when AuthMethods names a
	// method that challenges.
	Authenticate func(ctx context.Context, ch *spec.Challenge) (*spec.Authenticate, error)
	// Transport tunes the connection (queue limits, max message size).
	Transport transport.Options
	// Logger receives the client's logs (nil → discard).
	Logger *slog.Logger
	// Dialer, if set, makes the TCP connection (a local address to dial
	// from, socket options); nil means a zero net.Dialer.
	Dialer *net.Dialer

	// Dial opens a new transport. Connect uses it instead of dialing its
	// URL, and reconnecting uses it to redial; Join with Reconnect needs it,
	// since a given peer cannot be reopened.
	Dial func(ctx context.Context) (transport.Peer, error)
	// Reconnect, when set, keeps the client alive across lost connections:
	// it redials with capped exponential backoff and jitter, joins again
	// with the same credentials and re-establishes every registration and
	// subscription. Requests made while it is down fail with
	// ErrDisconnected. Only Close (or running out of MaxAttempts) ends it.
	Reconnect *Reconnect
	// OnStateChange, when set, is told of each change of the connection's
	// state, in order, from the client's own goroutine: it must return
	// quickly and must not call Close.
	OnStateChange func(state State, err error)
}

// Error is a WAMP ERROR or ABORT received from the router.
type Error struct {
	URI         spec.URI
	Details     spec.Dict
	Arguments   spec.List
	ArgumentsKw spec.Dict
}

func (e *Error) Error() string {
	if len(e.Arguments) > 0 {
		if s, ok := e.Arguments[0].(string); ok {
			return "wamp: " + string(e.URI) + ": " + s
		}
	}
	return "wamp: " + string(e.URI)
}

// ErrClosed is returned by requests on a client whose session has ended.
var ErrClosed = errors.New("client: session closed")

// ErrDisconnected is returned by requests made while a reconnecting client
// has no session, and by requests in flight when the connection was lost:
// they may or may not have reached the router.
var ErrDisconnected = errors.New("client: disconnected (reconnecting)")

// session is one joined transport. A reconnecting client gets a new one
// for each connection; everything else in Client outlives it.
type session struct {
	peer    transport.Peer
	ser     serializer.Serializer
	id      spec.ID
	details spec.Dict
}

// lost is handed to requests waiting when their session is lost.
type lost struct{}

func (lost) Type() spec.MessageType { return 0 }

// Client is one WAMP session or, with Config.Reconnect, a succession of
// sessions that looks like one to its user.
type Client struct {
	cfg    Config
	log    *slog.Logger
	cur    atomic.Pointer[session] // the current session (the last one while down)
	life   context.Context         // ends when Close starts: stops redialing
	stop   context.CancelFunc
	reqIDs spec.IDGen // session scope: reset for each new session
	ownIDs spec.IDGen // the IDs a reconnecting client's Register and Subscribe return

	mu            sync.Mutex // guards the fields below
	up            bool       // a session is joined (false while reconnecting)
	waiting       map[spec.ID]chan spec.Message
	progress      map[spec.ID]func(*Result)
	subscriptions map[spec.ID][]*subscriber // by the router's current ID
	registrations map[spec.ID]*registration // by the router's current ID
	subIDs        map[spec.ID]spec.ID       // ID Subscribe returned → current ID
	regIDs        map[spec.ID]spec.ID       // ID Register returned → current ID
	// Handlers of SUBSCRIBE and REGISTER requests in flight, installed by the
	// reader as it reads SUBSCRIBED / REGISTERED, so that no EVENT or
	// INVOCATION that follows at once finds no handler.
	pendingSubs map[spec.ID][]*subscriber
	pendingRegs map[spec.ID]*registration
	invocations map[spec.ID]context.CancelFunc
	closed      bool
	closeErr    error

	leaving  atomic.Bool    // Close has sent (or is sending) GOODBYE
	handlers sync.WaitGroup // invocation handler goroutines
	done     chan struct{}  // closed when the client has ended for good
}

// Connect dials url, joins the realm and returns the established session.
// Schemes: ws, wss (WebSocket); rs, tcp, rss, tcps (RawSocket over TCP,
// plain or TLS); unix (RawSocket over a Unix socket: unix:///path).
func Connect(ctx context.Context, rawURL string, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.Dial == nil {
		ser, ok := serializer.ByName(cfg.Serializer)
		if !ok {
			return nil, fmt.Errorf("client: unknown serializer %q", cfg.Serializer)
		}
		if _, err := url.Parse(rawURL); err != nil {
			return nil, fmt.Errorf("client: parse URL: %w", err)
		}
		cfg.Dial = func(ctx context.Context) (transport.Peer, error) { return dial(ctx, rawURL, ser, cfg) }
	}
	peer, err := cfg.Dial(ctx)
	if err != nil {
		return nil, err
	}
	return Join(ctx, peer, cfg)
}

func (cfg Config) withDefaults() Config {
	if cfg.Realm == "" {
		cfg.Realm = "realm1"
	}
	if cfg.Serializer == "" {
		cfg.Serializer = "json"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// Join opens a session on an established transport, such as one end of
// transport.Pipe for a router embedded in the same process. On failure the
// peer is closed.
func Join(ctx context.Context, peer transport.Peer, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.Reconnect != nil && cfg.Dial == nil {
		peer.Close("no Dial to reconnect with")
		return nil, errors.New("client: Config.Reconnect needs Config.Dial")
	}
	sess, err := join(ctx, peer, cfg)
	if err != nil {
		peer.Close("join failed")
		return nil, err
	}
	c := &Client{
		cfg:           cfg,
		log:           cfg.Logger,
		up:            true,
		waiting:       make(map[spec.ID]chan spec.Message),
		progress:      make(map[spec.ID]func(*Result)),
		subscriptions: make(map[spec.ID][]*subscriber),
		registrations: make(map[spec.ID]*registration),
		subIDs:        make(map[spec.ID]spec.ID),
		regIDs:        make(map[spec.ID]spec.ID),
		pendingSubs:   make(map[spec.ID][]*subscriber),
		pendingRegs:   make(map[spec.ID]*registration),
		invocations:   make(map[spec.ID]context.CancelFunc),
		done:          make(chan struct{}),
	}
	c.life, c.stop = context.WithCancel(context.Background())
	c.cur.Store(sess)
	go c.run(sess)
	return c, nil
}

func dial(ctx context.Context, rawURL string, ser serializer.Serializer, cfg Config) (transport.Peer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("client: parse URL: %w", err)
	}
	tlsConfig := cfg.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	rs := rawsocket.DialOptions{Options: cfg.Transport, Serializer: ser, Dialer: cfg.Dialer}
	switch strings.ToLower(u.Scheme) {
	case "ws":
		return websocket.Dial(ctx, rawURL, websocket.DialOptions{Options: cfg.Transport, Serializer: ser, Dialer: cfg.Dialer})
	case "wss":
		return websocket.Dial(ctx, rawURL, websocket.DialOptions{Options: cfg.Transport, Serializer: ser, TLSConfig: tlsConfig, Dialer: cfg.Dialer})
	case "rs", "tcp":
		return rawsocket.Dial(ctx, "tcp", u.Host, rs)
	case "rss", "tcps":
		rs.TLSConfig = tlsConfig
		return rawsocket.Dial(ctx, "tcp", u.Host, rs)
	case "unix":
		path := u.Path
		if path == "" {
			path = u.Opaque
		}
		return rawsocket.Dial(ctx, "unix", path, rs)
	}
	return nil, fmt.Errorf("client: unsupported URL scheme %q", u.Scheme)
}

// clientRoles is what the client announces: every feature it implements.
var clientRoles = spec.Dict{
	spec.RoleCaller: spec.Dict{"features": spec.Dict{
		spec.FeatureProgressiveCallResults: true,
		spec.FeatureCallCanceling:          true,
		spec.FeatureCallTimeout:            true,
	}},
	spec.RoleCallee: spec.Dict{"features": spec.Dict{
		spec.FeatureProgressiveCallResults:   true,
		spec.FeatureCallCanceling:            true,
		spec.FeatureCallerIdentification:     true,
		spec.FeaturePatternBasedRegistration: true,
		spec.FeatureSharedRegistration:       true,
	}},
	spec.RolePublisher: spec.Dict{"features": spec.Dict{
		spec.FeaturePublisherExclusion:       true,
		spec.FeaturePublisherIdentification:  true,
		spec.FeatureSubscriberBlackWhiteList: true,
	}},
	spec.RoleSubscriber: spec.Dict{"features": spec.Dict{
		spec.FeaturePatternBasedSubscription: true,
		spec.FeaturePublisherIdentification:  true,
	}},
}

// join says HELLO on peer and answers challenges until WELCOME.
func join(ctx context.Context, peer transport.Peer, cfg Config) (*session, error) {
	ser := peer.Serializer()
	send := func(m spec.Message) error {
		frame, err := ser.Encode(nil, m)
		if err != nil {
			return fmt.Errorf("encode %s: %w", m.Type(), err)
		}
		return peer.Send(frame)
	}
	details := spec.Dict{"roles": clientRoles, "agent": "switchyard-client"}
	if len(cfg.AuthMethods) > 0 {
		methods := make([]any, len(cfg.AuthMethods))
		for i, m := range cfg.AuthMethods {
			methods[i] = m
		}
		details["authmethods"] = methods
	}
	if cfg.AuthID != "" {
		details["authid"] = cfg.AuthID
	}
	if cfg.AuthExtra != nil {
		details["authextra"] = cfg.AuthExtra
	}
	if err := send(&spec.Hello{Realm: spec.URI(cfg.Realm), Details: details}); err != nil {
		return nil, fmt.Errorf("client: send HELLO: %w", err)
	}
	for {
		m, err := peer.Recv(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: join %s: %w", cfg.Realm, err)
		}
		switch m := m.(type) {
		case *spec.Welcome:
			return &session{peer: peer, ser: ser, id: m.Session, details: m.Details}, nil
		case *spec.Abort:
			return nil, &Error{URI: m.Reason, Details: m.Details, Arguments: m.Arguments, ArgumentsKw: m.ArgumentsKw}
		case *spec.Challenge:
			if cfg.Authenticate == nil {
				return nil, fmt.Errorf("client: router challenged with %q and no Authenticate is configured", m.AuthMethod)
			}
			answer, err := cfg.Authenticate(ctx, m)
			if err != nil {
				return nil, fmt.Errorf("client: authenticate: %w", err)
			}
			if err := send(answer); err != nil {
				return nil, fmt.Errorf("client: send AUTHENTICATE: %w", err)
			}
		default:
			return nil, fmt.Errorf("client: unexpected %s during join", m.Type())
		}
	}
}

// ID returns the session ID the router assigned (to the current session,
// when reconnecting: it changes with each one).
func (c *Client) ID() spec.ID { return c.cur.Load().id }

// Details returns WELCOME.Details of the current session.
func (c *Client) Details() spec.Dict { return c.cur.Load().details }

// Done is closed when the client has ended: its session ended (and, with
// Reconnect, Close was called or reconnecting gave up).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the session ended, once Done is closed.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// send sends m on the current session.
func (c *Client) send(m spec.Message) error { return c.sendOn(c.cur.Load(), m) }

// sendOn sends m on sess, unless sess is no longer current: an answer to an
// invocation of a lost session means nothing to the next one.
func (c *Client) sendOn(sess *session, m spec.Message) error {
	if _, bye := m.(*spec.Goodbye); !bye && c.leaving.Load() {
		return ErrClosed // nothing may follow our GOODBYE
	}
	if c.cur.Load() != sess {
		return ErrDisconnected
	}
	frame, err := sess.ser.Encode(nil, m)
	if err != nil {
		return fmt.Errorf("client: encode %s: %w", m.Type(), err)
	}
	return sess.peer.Send(frame)
}

// localID is the ID a new registration or subscription is known by to its
// user: the client's own when reconnecting, else 0 (the router's ID).
func (c *Client) localID() spec.ID {
	if c.cfg.Reconnect == nil {
		return 0
	}
	return c.ownIDs.Next()
}

// usable says why no request may be sent now, under c.mu.
func (c *Client) usable() error {
	switch {
	case c.closed:
		return ErrClosed
	case !c.up:
		return ErrDisconnected
	}
	return nil
}

// request sends m (built with a fresh request ID) and waits for the answer.
func (c *Client) request(ctx context.Context, build func(id spec.ID) spec.Message) (spec.Message, error) {
	ch := make(chan spec.Message, 1)
	c.mu.Lock()
	if err := c.usable(); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	// The ID is drawn under the lock that also orders sends, so request IDs
	// reach the router in sequence, as the spec requires.
	id := c.reqIDs.Next()
	c.waiting[id] = ch
	err := c.send(build(id))
	c.mu.Unlock()
	if err != nil {
		c.forget(id)
		return nil, err
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return nil, ErrClosed
		}
		if _, gone := m.(lost); gone {
			return nil, ErrDisconnected
		}
		return m, nil
	case <-ctx.Done():
		c.forget(id)
		return nil, ctx.Err()
	}
}

func (c *Client) forget(id spec.ID) {
	c.mu.Lock()
	delete(c.waiting, id)
	delete(c.progress, id)
	delete(c.pendingSubs, id)
	delete(c.pendingRegs, id)
	c.mu.Unlock()
}

// deliver hands an answer to the request waiting for it.
func (c *Client) deliver(id spec.ID, m spec.Message) {
	c.mu.Lock()
	ch := c.waiting[id]
	delete(c.waiting, id)
	delete(c.progress, id)
	delete(c.pendingSubs, id)
	delete(c.pendingRegs, id)
	c.mu.Unlock()
	if ch != nil {
		ch <- m
	}
}

// read reads sess until it ends, dispatching what arrives, and returns why
// it ended.
func (c *Client) read(sess *session) error {
	for {
		m, err := sess.peer.Recv(context.Background())
		if err != nil {
			return err
		}
		switch m := m.(type) {
		case *spec.Result:
			if optBool(m.Details, "progress") {
				c.mu.Lock()
				fn := c.progress[m.Request]
				c.mu.Unlock()
				if fn != nil {
					fn(resultOf(m))
				}
				continue
			}
			c.deliver(m.Request, m)
		case *spec.Error:
			c.deliver(m.Request, m)
		case *spec.Published:
			c.deliver(m.Request, m)
		case *spec.Subscribed:
			c.mu.Lock()
			if subs := c.pendingSubs[m.Request]; subs != nil {
				c.subscriptions[m.Subscription] = append(c.subscriptions[m.Subscription], subs...)
			}
			c.mu.Unlock()
			c.deliver(m.Request, m)
		case *spec.Unsubscribed:
			if m.Details == nil {
				c.deliver(m.Request, m)
			}
		case *spec.Registered:
			c.mu.Lock()
			if reg := c.pendingRegs[m.Request]; reg != nil {
				c.registrations[m.Registration] = reg
			}
			c.mu.Unlock()
			c.deliver(m.Request, m)
		case *spec.Unregistered:
			if m.Details == nil {
				c.deliver(m.Request, m)
			}
		case *spec.Event:
			c.dispatchEvent(m)
		case *spec.Invocation:
			c.dispatchInvocation(sess, m)
		case *spec.Interrupt:
			c.mu.Lock()
			cancel := c.invocations[m.Request]
			c.mu.Unlock()
			if cancel != nil {
				cancel()
			}
		case *spec.Goodbye:
			if m.Reason != spec.CloseGoodbyeAndOut {
				c.sendOn(sess, &spec.Goodbye{Details: spec.Dict{}, Reason: spec.CloseGoodbyeAndOut})
			}
			return &Error{URI: m.Reason, Details: m.Details}
		case *spec.Abort:
			return &Error{URI: m.Reason, Details: m.Details}
		}
	}
}

// shutdown fails every waiting request and closes the transport.
func (c *Client) shutdown(cause error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.up = false
	c.closeErr = cause
	waiting := c.waiting
	c.waiting = map[spec.ID]chan spec.Message{}
	for _, cancel := range c.invocations {
		cancel()
	}
	c.mu.Unlock()
	for _, ch := range waiting {
		close(ch)
	}
	c.cur.Load().peer.Close("session ended")
	c.notify(StateClosed, cause)
}

// Close leaves the realm with GOODBYE, waits for the router's reply (bounded
// by ctx), waits for running invocation handlers and closes the transport.
// A reconnecting client stops reconnecting.
func (c *Client) Close(ctx context.Context) error {
	c.leaving.Store(true)
	c.stop()
	c.mu.Lock()
	up := c.up
	c.mu.Unlock()
	if up {
		_ = c.send(&spec.Goodbye{Details: spec.Dict{}, Reason: spec.CloseNormal})
		t := time.NewTimer(5 * time.Second)
		select {
		case <-c.done:
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	c.cur.Load().peer.Close("client closed")
	<-c.done
	c.handlers.Wait()
	return nil
}

func optBool(d spec.Dict, key string) bool {
	v, _ := d[key].(bool)
	return v
}
