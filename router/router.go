package router

import (
	"context"
	"errors"
	"github.com/switchyard/switchyard/auth"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// Options configures a Router. The zero value is a router with no realms and
// realm auto-creation off; see each field for its default.
type Options struct {
	// Realms are created at start.
	Realms []RealmConfig
	// AutoCreateRealms creates a realm on the first HELLO that names it,
	// instead of answering ABORT wamp.error.no_such_realm.
	AutoCreateRealms bool
	// MaxAutoRealms bounds auto-created realms (0 → 1024), so that a client
	// cannot grow the router without bound by inventing realm names.
	MaxAutoRealms int
	// MaxCallsPerSession bounds a session's calls in flight as a caller
	// (0 → 4096); further calls fail with ErrLimitExceeded until some end.
	MaxCallsPerSession int
	// MaxSubscriptionsPerSession and MaxRegistrationsPerSession bound what
	// one session may hold (0 → 10,000 each).
	MaxSubscriptionsPerSession int
	MaxRegistrationsPerSession int
	// DefaultCallTimeout is the timeout of calls that set none (0: none);
	// the dealer answers wamp.error.timeout when it passes.
	DefaultCallTimeout time.Duration
	// StrictURIs applies the spec's strict URI rules ([0-9a-z_] components)
	// instead of the loose ones.
	StrictURIs bool
	// LenientRequestIDs accepts non-sequential session-scope request IDs.
	// The spec requires them to count up by one; some old clients do not.
	LenientRequestIDs bool
	// HandshakeTimeout bounds the time from connect to WELCOME (0 → 10s).
	HandshakeTimeout time.Duration
	// GoodbyeTimeout bounds how long a router-initiated GOODBYE waits for the
	// peer's reply before the transport is closed (0 → 2s).
	GoodbyeTimeout time.Duration
	// Listeners restrict the authentication methods allowed per listener,
	// by name (see Handler).
	Listeners map[string]*auth.Listener
	// RateLimiter, if set, slows down repeated authentication failures
	// from one address, across all realms.
	RateLimiter *auth.RateLimiter
	// Agent is announced in WELCOME.Details.agent (default "switchyard").
	Agent string
	// Logger receives the router's logs (nil → slog.Default()).
	Logger *slog.Logger
	// Cluster, if set, makes this router one node of several serving the
	// same realms (see package cluster). Nil: a single node.
	Cluster Cluster
}

// RealmConfig configures one realm.
type RealmConfig struct {
	Name spec.URI
	// Auth is the realm's authentication and authorization; nil admits
	// anonymous sessions with every permission (the no-config default).
	Auth *auth.RealmConfig
	// History lists the topics whose events are kept for
	// wamp.subscription.get_events.
	History []HistoryConfig
}

func (o Options) withDefaults() Options {
	if o.MaxAutoRealms == 0 {
		o.MaxAutoRealms = 1024
	}
	if o.MaxCallsPerSession == 0 {
		o.MaxCallsPerSession = 4096
	}
	if o.MaxSubscriptionsPerSession == 0 {
		o.MaxSubscriptionsPerSession = 10000
	}
	if o.MaxRegistrationsPerSession == 0 {
		o.MaxRegistrationsPerSession = 10000
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.GoodbyeTimeout == 0 {
		o.GoodbyeTimeout = 2 * time.Second
	}
	if o.Agent == "" {
		o.Agent = "switchyard"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Stats are counters an operator cares about, kept with atomics so that
// exposing them (metrics, health) costs nothing on the hot path.
type Stats struct {
	SessionsOpened   atomic.Uint64
	SessionsClosed   atomic.Uint64
	ProtocolErrors   atomic.Uint64
	SlowConsumers    atomic.Uint64
	OversizeDropped  atomic.Uint64
	CallsInFlight    atomic.Int64
	AuthFailures     atomic.Uint64
	HandshakeTimeout atomic.Uint64
	// Received and Sent count messages by WAMP message code (see
	// TypeCounters.ByType); Sent counts what was queued to a client.
	Received TypeCounters
	Sent     TypeCounters
	errors   errorCounts
	// InvalidOptions counts requests refused for an option value the router
	// cannot honour (ERROR wamp.error.invalid_argument, or an unacknowledged
	// PUBLISH dropped).
	InvalidOptions atomic.Uint64
}

// ErrLimitExceeded answers a request past one of the router's per-session
// limits; the error's first argument names the limit.
const ErrLimitExceeded spec.URI = "switchyard.error.limit_exceeded"

// ErrShuttingDown is returned when a realm is requested during shutdown.
var ErrShuttingDown = errors.New("router: shutting down")

// Router routes WAMP sessions within realms. It implements
// transport.Handler: each accepted connection calls ServePeer.
type Router struct {
	opts  Options
	log   *slog.Logger
	rule  spec.URIRule
	stats Stats
	// listeners are Options.Listeners, replaced by a reload; realms created
	// later (auto-created, or added by a reload) take the current map.
	listeners atomic.Pointer[map[string]*auth.Listener]

	mu       sync.Mutex // guards the fields below
	realms   map[spec.URI]*Realm
	autoN    int
	conns    map[*conn]struct{}
	closing  bool
	drained  chan struct{} // closed when conns becomes empty during shutdown
	shutdown chan struct{} // closed when Shutdown starts
}

// New returns a router with the configured realms.
func New(opts Options) (*Router, error) {
	opts = opts.withDefaults()
	r := &Router{
		opts:     opts,
		log:      opts.Logger,
		realms:   make(map[spec.URI]*Realm),
		conns:    make(map[*conn]struct{}),
		shutdown: make(chan struct{}),
	}
	if opts.StrictURIs {
		r.rule = spec.Strict
	}
	listeners := opts.Listeners
	if listeners == nil {
		listeners = map[string]*auth.Listener{}
	}
	r.listeners.Store(&listeners)
	for _, rc := range opts.Realms {
		if err := r.AddRealm(rc); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Stats returns the router's live counters.
func (r *Router) Stats() *Stats { return &r.stats }

// AddRealm creates a realm.
func (r *Router) AddRealm(rc RealmConfig) error {
	if !spec.ValidURI(rc.Name, spec.Loose, spec.MatchExact) {
		return errors.New("router: invalid realm name " + string(rc.Name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.realms[rc.Name]; ok {
		return errors.New("router: realm " + string(rc.Name) + " already exists")
	}
	realm, err := newRealm(r, rc)
	if err != nil {
		return err
	}
	r.realms[rc.Name] = realm
	return nil
}

// Realm returns the named realm, or nil.
func (r *Router) Realm(name spec.URI) *Realm {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.realms[name]
}

// realmFor returns the realm a HELLO names, creating it when auto-creation
// is on. It returns nil when the realm does not exist.
func (r *Router) realmFor(name spec.URI) (*Realm, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return nil, ErrShuttingDown
	}
	if realm, ok := r.realms[name]; ok {
		return realm, nil
	}
	if !r.opts.AutoCreateRealms || r.autoN >= r.opts.MaxAutoRealms {
		return nil, nil
	}
	realm, err := newRealm(r, RealmConfig{Name: name})
	if err != nil {
		return nil, err
	}
	realm.auto = true
	r.realms[name] = realm
	r.autoN++
	r.log.Info("realm auto-created", "realm", name)
	return realm, nil
}

func (r *Router) track(c *conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Router) untrack(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, c)
	if r.closing && len(r.conns) == 0 && r.drained != nil {
		close(r.drained)
		r.drained = nil
	}
}

// ServePeer runs WAMP sessions on p until the transport closes. It blocks,
// and is the session's reader goroutine: messages are routed inline. On a
// transport that parks idle connections (transport.Parker) it returns
// when the reader parks; a fresh goroutine reads on when input arrives,
// and closes p at the end. Every
// authentication method a realm configures is allowed; see Handler for
// listeners with restrictions.
func (r *Router) ServePeer(ctx context.Context, p transport.Peer) {
	r.serve(ctx, p, "")
}

func (r *Router) serve(ctx context.Context, p transport.Peer, listener string) {
	c := &conn{router: r, peer: p, listener: listener}
	if !r.track(c) {
		p.Close("router shutting down")
		return
	}
	c.serve(ctx) // closes p and untracks c once the connection is over
}

// Shutdown says GOODBYE wamp.close.system_shutdown to every session, lets
// their queues drain, and returns when every connection is closed or ctx is
// done, in which case the remaining connections are closed at once.
func (r *Router) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		return nil
	}
	r.closing = true
	close(r.shutdown)
	drained := make(chan struct{})
	if len(r.conns) == 0 {
		close(drained)
	} else {
		r.drained = drained
	}
	realms := make([]*Realm, 0, len(r.realms))
	for _, realm := range r.realms {
		realms = append(realms, realm)
	}
	r.mu.Unlock()

	for _, realm := range realms {
		realm.closeAll(spec.CloseSystemShutdown, "router shutting down")
	}
	// Connections that have not joined a realm have nobody to say GOODBYE to.
	r.mu.Lock()
	for c := range r.conns {
		if c.current.Load() == nil {
			c.peer.Close("router shutting down")
		}
	}
	r.mu.Unlock()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
	}
	r.mu.Lock()
	peers := make([]transport.Peer, 0, len(r.conns))
	for c := range r.conns {
		peers = append(peers, c.peer)
	}
	r.mu.Unlock()
	for _, p := range peers {
		p.Close("shutdown deadline")
	}
	return ctx.Err()
}
