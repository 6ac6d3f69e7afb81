package router

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/switchyard/switchyard/auth"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// Realm is a routing namespace: sessions in one realm see only each other.
type Realm struct {
	name   spec.URI
	router *Router
	broker *broker
	dealer *dealer

	// auth is swapped whole by a reload (see Reload); read it with
	// realm.auth.Load() once per decision.
	auth atomic.Pointer[realmAuth]
	// auto: created by AutoCreateRealms, so a reload leaves it alone.
	auto bool

	stats realmStats

	// cluster links the realm to the other nodes; nil on a single node.
	cluster ClusterLink

	internalOnce sync.Once // creates the internal caller session
	internal     *session
	internalPeer *internalPeer

	// routeMu is held shared while a message is routed and exclusively by
	// closeAll, which must see routing at rest.
	routeMu sync.RWMutex

	mu       sync.RWMutex // guards the fields below
	sessions map[spec.ID]*session
	closing  bool
}

func newRealm(r *Router, rc RealmConfig) (*Realm, error) {
	return newRealmWith(r, rc, *r.listeners.Load())
}

// newRealmWith creates a realm whose listeners restrict authentication
// methods as listeners say.
func newRealmWith(r *Router, rc RealmConfig, listeners map[string]*auth.Listener) (*Realm, error) {
	realm := &Realm{
		name:     rc.Name,
		router:   r,
		sessions: make(map[spec.ID]*session),
	}
	realm.broker = newBroker(realm, rc.History)
	realm.dealer = newDealer(realm)
	ra, err := buildRealmAuth(r, realm, rc.Auth, listeners)
	if err != nil {
		return nil, fmt.Errorf("router: realm %s: %w", rc.Name, err)
	}
	realm.auth.Store(ra)
	if r.opts.Cluster != nil {
		realm.cluster = r.opts.Cluster.Link(realm)
		if rpc, ok := realm.cluster.(ClusterRPC); ok {
			realm.dealer.cluster = newClusterState(rpc)
		}
		realm.cluster.Attach()
	}
	return realm, nil
}

// Name returns the realm's URI.
func (realm *Realm) Name() spec.URI { return realm.name }

// SessionCount returns the number of sessions joined to the realm.
func (realm *Realm) SessionCount() int {
	realm.mu.RLock()
	defer realm.mu.RUnlock()
	return len(realm.sessions)
}

func (realm *Realm) join(s *session) bool {
	realm.mu.Lock()
	defer realm.mu.Unlock()
	if realm.closing {
		return false
	}
	// Session IDs are random over 2^53: a collision is astronomically rare,
	// but two sessions must never share one, on this node or (as far as
	// this node knows) on another node of its cluster.
	for realm.sessions[s.id] != nil || (realm.cluster != nil && realm.cluster.SessionKnown(s.id)) {
		s.id = spec.GlobalID()
	}
	realm.sessions[s.id] = s
	return true
}

// leave removes s from the realm, then publishes what its leaving means:
// the meta events of its subscriptions and registrations, its testaments,
// and wamp.session.on_leave.
func (realm *Realm) leave(s *session) {
	realm.mu.Lock()
	delete(realm.sessions, s.id)
	realm.mu.Unlock()
	if realm.cluster != nil {
		realm.cluster.SessionLeft(s.id)
	}
	realm.emit(realm.broker.removeSession(s))
	realm.emit(realm.dealer.removeSession(s))
	realm.publishTestaments(s)
	realm.emitIfHeard("wamp.session.on_leave", func() spec.List { return spec.List{int64(s.id), s.AuthID, s.AuthRole} })
}

// metaEvent is a meta API event waiting to be published once the lock that
// decided it is released.
type metaEvent struct {
	topic spec.URI
	args  spec.List
}

// emit publishes meta events from the router itself.
func (realm *Realm) emit(events []metaEvent) {
	for _, e := range events {
		realm.broker.publishFrom(nil, &spec.Publish{Options: spec.Dict{}, Topic: e.topic, Arguments: e.args}, false)
	}
}

// emitIfHeard publishes a meta event whose arguments are built only if
// someone may receive it. Every session's connect cycle says on_join and
// on_leave; on a single node where nobody subscribes to them, building the
// session's details and the publication is most of what that costs.
func (realm *Realm) emitIfHeard(topic spec.URI, args func() spec.List) {
	if realm.cluster == nil && !realm.broker.hasSubscribers(topic) {
		return
	}
	realm.emit([]metaEvent{{topic, args()}})
}

// closeAll says GOODBYE to every session, for shutdown.
//
// It waits for the messages being routed, then, with routing held still:
// marks every session closing (later messages are ignored, so nothing more
// is acknowledged), answers every call in flight with wamp.error.canceled,
// and queues the GOODBYEs. Whatever a client had acknowledged is thereby
// queued to its subscribers ahead of their GOODBYE, and no call is left
// without an answer.
func (realm *Realm) closeAll(reason spec.URI, message string) {
	realm.routeMu.Lock()
	defer realm.routeMu.Unlock()
	realm.mu.Lock()
	realm.closing = true
	sessions := make([]*session, 0, len(realm.sessions))
	for _, s := range realm.sessions {
		sessions = append(sessions, s)
	}
	realm.mu.Unlock()
	for _, s := range sessions {
		s.closing.Store(true)
	}
	for _, s := range sessions {
		realm.dealer.failCallsOf(s, message)
	}
	for _, s := range sessions {
		s.sayGoodbye(reason, message)
	}
}

// welcomeDetails is WELCOME.Details: the router's roles with exactly the
// features that work, and the session's effective identity.
func (realm *Realm) welcomeDetails(s *session) spec.Dict {
	d := spec.Dict{
		"agent":        realm.router.opts.Agent,
		"realm":        string(realm.name),
		"authid":       s.AuthID,
		"authrole":     s.AuthRole,
		"authmethod":   s.AuthMethod,
		"authprovider": s.AuthProvider,
		"roles":        routerRoles,
	}
	if s.AuthExtra != nil {
		d["authextra"] = s.AuthExtra
	}
	return d
}

// brokerFeatures and dealerFeatures are announced in WELCOME. Each name is
// here only once its behaviour is implemented and tested.
var (
	brokerFeatures = []string{
		spec.FeaturePublisherExclusion,
		spec.FeaturePublisherIdentification,
		spec.FeatureSubscriberBlackWhiteList,
		spec.FeaturePatternBasedSubscription,
		spec.FeatureSessionMetaAPI,
		spec.FeatureSubscriptionMetaAPI,
		spec.FeatureEventRetention,
		spec.FeatureEventHistory,
		spec.FeatureSubscriptionRevocation,
		spec.FeaturePayloadPassthruMode,
	}
	dealerFeatures = []string{
		spec.FeatureProgressiveCallResults,
		spec.FeatureCallerIdentification,
		spec.FeaturePatternBasedRegistration,
		spec.FeatureSharedRegistration,
		spec.FeatureSessionMetaAPI,
		spec.FeatureRegistrationMetaAPI,
		spec.FeatureTestamentMetaAPI,
		spec.FeatureCallCanceling,
		spec.FeatureCallTimeout,
		spec.FeatureRegistrationRevocation,
		spec.FeatureProgressiveCallInvocations,
		spec.FeaturePayloadPassthruMode,
	}
)

// routerRoles is WELCOME.Details.roles, the same for every session: built
// once rather than as four maps per session (a connect-cycle profile showed
// them among the handshake's largest allocations), and encoded once in
// every format (serializer.Constant): 22 features with their keys sorted
// were three quarters of a WELCOME's encoding (BenchmarkEncodeWelcome).
var routerRoles = serializer.MustConstant(spec.Dict{
	spec.RoleBroker: spec.Dict{"features": featureDict(brokerFeatures)},
	spec.RoleDealer: spec.Dict{"features": featureDict(dealerFeatures)},
})

func featureDict(names []string) spec.Dict {
	d := make(spec.Dict, len(names))
	for _, n := range names {
		d[n] = true
	}
	return d
}
