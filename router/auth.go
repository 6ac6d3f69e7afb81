package router

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// realmAuth is a realm's authentication and authorization, built once when
// the realm is created (dynamic authorizers keep their caches in it).
type realmAuth struct {
	cfg        *auth.RealmConfig
	authorizer auth.Authorizer
	build      auth.BuildOptions
	listeners  map[string]*auth.Listener // by name; read-only

	mu      sync.Mutex               // guards methods
	methods map[string]*auth.Methods // by listener name, built on first use
}

// buildRealmAuth builds a realm's authentication and authorization with
// the given listeners (by name); a reload builds a new one and swaps it in.
func buildRealmAuth(r *Router, realm *Realm, cfg *auth.RealmConfig, listeners map[string]*auth.Listener) (*realmAuth, error) {
	if cfg == nil {
		cfg = auth.AnonymousRealm(realm.name)
	}
	ra := &realmAuth{
		cfg:       cfg,
		listeners: listeners,
		methods:   make(map[string]*auth.Methods),
		build:     auth.BuildOptions{Caller: realm, RateLimiter: r.opts.RateLimiter},
	}
	authorizer, err := cfg.Authorizer(ra.build)
	if err != nil {
		return nil, err
	}
	ra.authorizer = authorizer
	// Build the unrestricted method set now, so a bad realm fails at start.
	if _, err := ra.methodsFor(""); err != nil {
		return nil, err
	}
	return ra, nil
}

// methodsFor returns the authentication methods allowed on a listener.
func (ra *realmAuth) methodsFor(listener string) (*auth.Methods, error) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if m, ok := ra.methods[listener]; ok {
		return m, nil
	}
	var l *auth.Listener
	if listener != "" {
		l = ra.listeners[listener]
	}
	m, err := ra.cfg.Authenticators(l, ra.build)
	if err != nil {
		return nil, err
	}
	ra.methods[listener] = m
	return m, nil
}

// challenger sends CHALLENGE on a connection in its handshake and waits for
// the AUTHENTICATE.
type challenger struct {
	c *conn
}

// errClientAborted: the client sent ABORT instead of AUTHENTICATE.
var errClientAborted = errors.New("router: the client aborted the authentication")

func (ch challenger) Challenge(ctx context.Context, method string, extra spec.Dict) (*spec.Authenticate, error) {
	if err := ch.c.send(&spec.Challenge{AuthMethod: method, Extra: extra}); err != nil {
		return nil, fmt.Errorf("router: send CHALLENGE: %w", err)
	}
	m, err := ch.c.recv(ctx)
	if err != nil {
		return nil, fmt.Errorf("router: waiting for AUTHENTICATE: %w", err)
	}
	switch m := m.(type) {
	case *spec.Authenticate:
		return m, nil
	case *spec.Abort:
		return nil, errClientAborted
	}
	return nil, &spec.ProtocolError{Reason: m.Type().String() + " received while waiting for AUTHENTICATE"}
}

// authenticateHello runs the realm's authentication for a HELLO. It returns
// the identity, or the ABORT to send.
func (c *conn) authenticateHello(ctx context.Context, realm *Realm, hello *spec.Hello, sessionID spec.ID) (auth.Identity, *spec.Abort) {
	r := c.router
	ra := realm.auth.Load()
	methods, err := ra.methodsFor(c.listener)
	if err != nil {
		c.logger().Error("cannot build authentication methods", "realm", realm.name, "listener", c.listener, "error", err)
		return auth.Identity{}, abortMsg(spec.ErrAuthenticationFailed, "authentication is misconfigured")
	}
	a, err := methods.Select(auth.RequestedMethods(hello.Details))
	if err != nil {
		r.stats.AuthFailures.Add(1)
		realm.stats.countAuth("", AuthFailure)
		c.logger().Info("no acceptable authentication method", "realm", realm.name, "offered", hello.Details["authmethods"])
		reason, msg := auth.Refusal(err)
		return auth.Identity{}, abortMsg(reason, msg)
	}
	info := c.peer.Info()
	req := auth.NewRequest(realm.name, hello.Details, sessionID, info.RemoteAddr, info.TLSState)
	id, err := a.Authenticate(ctx, req, challenger{c})
	if err != nil {
		var pe *spec.ProtocolError
		if errors.As(err, &pe) {
			r.stats.ProtocolErrors.Add(1)
			c.logger().Warn("protocol violation during authentication", "error", pe.Reason)
			return auth.Identity{}, abortMsg(spec.ErrProtocolViolation, pe.Reason)
		}
		r.stats.AuthFailures.Add(1)
		realm.stats.countAuth(a.Method(), AuthFailure)
		// The error has the details (never a secret); the client gets the
		// reason only, so it cannot probe for valid authids.
		c.logger().Info("authentication failed", "realm", realm.name, "method", a.Method(), "authid", req.AuthID, "error", err)
		reason, msg := auth.Refusal(err)
		return auth.Identity{}, abortMsg(reason, msg)
	}
	if !ra.cfg.HasRole(id.AuthRole) {
		realm.stats.countAuth(a.Method(), AuthFailure)
		c.logger().Info("authenticated into a role the realm does not define", "realm", realm.name, "authid", id.AuthID, "authrole", id.AuthRole)
		return auth.Identity{}, abortMsg(spec.ErrNoSuchRole, "no role "+id.AuthRole+" in realm "+string(realm.name))
	}
	realm.stats.countAuth(a.Method(), AuthSuccess)
	return id, nil
}

func abortMsg(reason spec.URI, message string) *spec.Abort {
	return &spec.Abort{Details: spec.Dict{"message": message}, Reason: reason}
}

// authorize asks the realm's authorizer whether s may act on uri. On a
// denial or a failure it answers the request with ERROR (when answer is
// true) and returns false.
func (s *session) authorize(action auth.Action, uri spec.URI, reqType spec.MessageType, req spec.ID, answer bool) (auth.Decision, bool) {
	if s.trusted {
		return auth.Decision{Allow: true}, true
	}
	// No deadline here: static roles never wait, and Realm.Call bounds
	// the calls of dynamic authorizers itself.
	d, err := s.realm.auth.Load().authorizer.Authorize(context.Background(), &s.Identity, s.id, action, uri)
	switch {
	case err != nil:
		s.logger().Warn("authorizer failed", "action", string(action), "uri", uri, "error", err)
		if answer {
			s.sendError(reqType, req, spec.ErrAuthorizationFailed, "the authorizer failed")
		}
		return d, false
	case !d.Allow:
		if answer {
			s.sendError(reqType, req, spec.ErrNotAuthorized, "role "+s.AuthRole+" may not "+string(action)+" "+string(uri))
		}
		return d, false
	}
	return d, true
}

// internalCallTimeout bounds the router's own calls (dynamic authorizers and
// authenticators) when the caller set no deadline.
const internalCallTimeout = 5 * time.Second

// listenerHandler serves the connections of one named listener, whose
// allowed authentication methods may be restricted.
type listenerHandler struct {
	r    *Router
	name string
}

func (h listenerHandler) ServePeer(ctx context.Context, p transport.Peer) {
	h.r.serve(ctx, p, h.name)
}

// Handler returns the transport.Handler for the named listener of
// Options.Listeners: its connections may use only the authentication
// methods that listener allows.
func (r *Router) Handler(listener string) transport.Handler {
	return listenerHandler{r: r, name: listener}
}
