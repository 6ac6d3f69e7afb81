package router

import (
	"github.com/switchyard/switchyard/spec"
)

// The router's hooks for a cluster layer (package cluster): several nodes
// serving the same realms. A realm holds one ClusterLink, nil without
// clustering, so the single-node data path pays one nil check per
// publication and per new subscription, nothing more.

// Cluster links a router's realms to the other nodes of a cluster.
type Cluster interface {
	// Link returns the cluster link of a realm the router creates. It is
	// called once per realm, before the realm takes any session. The link
	// hands nothing from other nodes to the realm until Attach: the router
	// wires the realm to the link in between.
	Link(realm *Realm) ClusterLink
}

// ClusterLink is one realm's link to the other nodes.
//
// The broker calls AddInterest and RemoveInterest under no lock and with
// broker.mu held respectively, so RemoveInterest must not block or call back
// into the realm; Publish is called on the publisher's reader goroutine, in
// publication order, and must not block either.
type ClusterLink interface {
	// Attach starts handing the other nodes' messages for the realm to
	// it. The router calls it once, after it has wired the realm to the
	// link, so that no message finds the realm half built.
	Attach()
	// AddInterest counts one more local subscriber of topic under match.
	// When the node gains an interest it had not, AddInterest returns once
	// the other nodes know of it (or a bound passes), so that a publication
	// made anywhere after SUBSCRIBED reaches the new subscriber.
	AddInterest(match string, topic spec.URI)
	// RemoveInterest counts one local subscriber less.
	RemoveInterest(match string, topic spec.URI)
	// Publish hands a publication made on this node to the nodes that have
	// matching subscribers (every node when broadcast is set: retained and
	// historic events are kept by every node).
	Publish(e *RemoteEvent, broadcast bool)
	// Flush returns once every publication handed over so far has reached
	// the cluster, or an error saying why it could not.
	Flush() error
	// Err is nil while the cluster is reachable.
	Err() error
	// RemoteSessions returns the details (as wamp.session.get gives them)
	// of the realm's sessions on the other nodes, for the session meta
	// procedures. It waits a bounded time; nodes that do not answer in time
	// are left out. Called under no lock.
	RemoteSessions() []spec.Dict
	// SessionJoined and SessionLeft tell the other nodes of this node's
	// sessions, so that they can say wamp.session.on_leave for them if this
	// node dies. Called under no lock.
	SessionJoined(id spec.ID, authID, authRole string)
	SessionLeft(id spec.ID)
	// SessionKnown reports whether another node has a session with this ID
	// in the realm. Called with Realm.mu held: it must not call back.
	SessionKnown(id spec.ID) bool
	// ClusterMeta takes the meta procedures across nodes (cluster_meta.go).
	ClusterMeta
}

// SessionsLost publishes wamp.session.on_leave to this node's subscribers
// for sessions of another node that the cluster lost (the node died). Other
// nodes do the same for their own subscribers, so it is never forwarded.
func (realm *Realm) SessionsLost(sessions []RemoteSession) {
	for _, s := range sessions {
		realm.DeliverRemote(&RemoteEvent{
			Publication: spec.GlobalID(),
			Topic:       "wamp.session.on_leave",
			Options:     spec.Dict{},
			Arguments:   spec.List{int64(s.ID), s.AuthID, s.AuthRole},
		})
	}
}

// RemoteSession identifies a session of another node.
type RemoteSession struct {
	ID               spec.ID
	AuthID, AuthRole string
}

// LocalSessions returns the details of the realm's sessions on this node,
// sorted by session ID, for another node's session meta procedures.
func (realm *Realm) LocalSessions() []spec.Dict {
	ss := realm.sessionsWhere(func(*session) bool { return true })
	out := make([]spec.Dict, len(ss))
	for i, s := range ss {
		out[i] = s.details()
	}
	return out
}

// remoteSessionsWhere returns the details of the sessions on other nodes
// whose authrole keep accepts (nil: none without a cluster).
func (realm *Realm) remoteSessionsWhere(keep func(authrole string) bool) []spec.Dict {
	if realm.cluster == nil {
		return nil
	}
	var out []spec.Dict
	for _, d := range realm.cluster.RemoteSessions() {
		role, _ := d["authrole"].(string)
		if keep(role) {
			out = append(out, d)
		}
	}
	return out
}

// RemoteEvent is a publication crossing between nodes: what a receiving
// node's broker needs to deliver it to its own subscribers exactly as the
// publishing node delivered it to its own.
type RemoteEvent struct {
	Publication spec.ID
	Topic       spec.URI
	// Options are the PUBLISH options: the subscriber black- and
	// whitelists, payload passthru keys and retain are read from them.
	Options     spec.Dict
	Arguments   spec.List
	ArgumentsKw spec.Dict
	// Raw, when set, is the payload as its publisher encoded it (Arguments
	// and ArgumentsKw are then empty): the cluster carries it unread, and
	// the receiving node splices it into the EVENTs of subscribers using
	// that serializer.
	Raw spec.Raw
	// Disclose says the publisher is identified to subscribers.
	Disclose          bool
	Publisher         spec.ID
	PublisherAuthID   string
	PublisherAuthRole string
}

// ErrClusterUnreachable answers an acknowledged PUBLISH that this node could
// not hand to the cluster.
const ErrClusterUnreachable spec.URI = "switchyard.error.cluster_unreachable"

// DeliverRemote delivers a publication made on another node to this node's
// matching subscribers, and keeps it for retention and history as the
// publishing node does. It is never forwarded again.
func (realm *Realm) DeliverRemote(e *RemoteEvent) {
	realm.routeMu.RLock()
	defer realm.routeMu.RUnlock()
	b := realm.broker
	p := &publication{
		id:        e.Publication,
		topic:     e.Topic,
		args:      e.Arguments,
		kwargs:    e.ArgumentsKw,
		raw:       e.Raw,
		options:   e.Options,
		excludeMe: true,
		disclose:  e.Disclose,
		filter:    newDeliveryFilter(e.Options),
	}
	if p.disclose {
		p.publisher.id, p.publisher.authID, p.publisher.authRole = e.Publisher, e.PublisherAuthID, e.PublisherAuthRole
	}
	if e.Publisher != 0 {
		b.keep(p, optBool(e.Options, "retain", false)) // before delivery, as publishFrom
	}
	b.mu.RLock()
	b.index.matchAll(e.Topic, func(sub *subscription) { b.deliver(p, sub) })
	b.mu.RUnlock()
}

// publishRemote hands p to the cluster. Called after local delivery, so a
// local subscriber never waits for the cluster.
func (b *broker) publishRemote(l ClusterLink, p *publication, pub *session) {
	e := &RemoteEvent{
		Publication: p.id,
		Topic:       p.topic,
		Options:     p.options,
		Arguments:   p.args,
		ArgumentsKw: p.kwargs,
		Raw:         p.raw,
		Disclose:    p.disclose,
	}
	if p.raw.N > 0 {
		// The publisher's bytes go, even when a local subscriber had them
		// decoded.
		e.Arguments, e.ArgumentsKw = nil, nil
	}
	if p.disclose {
		e.Publisher, e.PublisherAuthID, e.PublisherAuthRole = p.publisher.id, p.publisher.authID, p.publisher.authRole
	}
	broadcast := false
	if pub != nil {
		// Receivers keep only client publications, as this node does.
		if e.Publisher == 0 {
			e.Publisher = pub.id
		}
		broadcast = optBool(p.options, "retain", false) || b.hasHistory(p.topic)
	}
	l.Publish(e, broadcast)
}

// hasHistory reports whether some history log keeps topic's events.
func (b *broker) hasHistory(topic spec.URI) bool {
	if b.history.Len() == 0 {
		return false
	}
	found := false
	b.history.matchAll(topic, func(*historyLog) { found = true })
	return found
}
