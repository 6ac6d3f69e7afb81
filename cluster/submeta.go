package cluster

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// Subscriptions across nodes, as the meta API sees them.
//
// IDs. One node gives all subscribers of a (topic, match) one subscription
// ID. In a cluster every node derives that ID from (realm, match, topic),
// so subscribers on different nodes hold the same ID with no coordination,
// and wamp.subscription.get on any node finds it. Unlike on one node, a
// subscription deleted and created again gets the same ID back.
//
// on_create and on_delete. A node says on_create for its new subscription
// only if no other node has subscribers to it (their interest, interest.go,
// says so), and on_delete for its last subscriber's leaving only if no
// other node has any left. Otherwise it keeps the on_delete pending: the
// other node whose last subscriber leaves later sees this node's removal
// and says it (its interest announcement carries Said), or, when both left
// before hearing of each other, the one whose subscriber left last (by its
// clock; the larger token on a tie) says the kept event once every removal
// is known, so that on_delete follows its own on_unsubscribe. Residual races, documented in
// docs/CLUSTER.md: first subscribers on two nodes within one control round
// trip both say on_create; last subscribers on three or more nodes leaving
// within one round trip can say on_delete more than once (never not at all).

// subscriptionID is the cluster-wide ID of a subscription: 53 bits of a
// SHA-256 of the realm, the match policy and the topic.
func subscriptionID(realm, match, topic string) spec.ID {
	return derivedID(realm, match, topic)
}

// registrationID is the cluster-wide ID of a registration: as a
// subscription's, with a prefix so that a procedure and a topic of the
// same URI do not share an ID (harmless, but confusing in the meta API).
func registrationID(realm, match, procedure string) spec.ID {
	return derivedID("registration", realm, match, procedure)
}

// derivedID is 53 bits of a SHA-256 of parts, each followed by a zero
// byte but the last (URIs hold no zero bytes), never 0.
func derivedID(parts ...string) spec.ID {
	h := sha256.New()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	id := spec.ID(binary.BigEndian.Uint64(h.Sum(sum[:0])) & uint64(spec.MaxID-1))
	if id == 0 {
		id = 1
	}
	return id
}

// pendingDelete is an on_delete this node keeps while other nodes still
// have subscribers.
type pendingDelete struct {
	l           *link
	session, id spec.ID
	at          int64 // when the last subscriber left, Unix nanoseconds
	// others are the nodes whose last subscribers left, not saying
	// on_delete, while this one was pending, with when: the last says it.
	others map[string]int64
}

// later reports whether a removal at (at, token) is later than one at
// (bat, btoken).
func later(at int64, token string, bat int64, btoken string) bool {
	if at != bat {
		return at > bat
	}
	return token > btoken
}

// holdsLocked reports whether another node has subscribers to k's pattern.
// Called with n.mu held.
func (n *Node) heldElsewhereLocked(k interestKey) bool {
	for _, p := range n.peers {
		if p.holds(k.realm, k.match, k.topic) {
			return true
		}
	}
	return false
}

// holds reports whether the peer has subscribers to exactly this pattern.
func (p *peer) holds(realm, match, topic string) bool {
	set := p.interest[realm]
	if set == nil {
		return false
	}
	var ok bool
	switch match {
	case spec.MatchPrefix:
		_, ok = set.prefix[topic]
	case spec.MatchWildcard:
		_, ok = set.wildcard[topic]
	default:
		_, ok = set.exact[topic]
	}
	return ok
}

// SubscriptionID implements router.ClusterMeta.
func (l *link) SubscriptionID(match string, topic spec.URI) spec.ID {
	return subscriptionID(l.name, match, string(topic))
}

// SubscriptionCreated implements router.ClusterMeta.
func (l *link) SubscriptionCreated(match string, topic spec.URI) bool {
	n := l.n
	k := interestKey{l.name, match, string(topic)}
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.pending, k) // subscribed again here: nothing was deleted
	return !n.heldElsewhereLocked(k)
}

// SubscriptionDeleted implements router.ClusterMeta.
func (l *link) SubscriptionDeleted(match string, topic spec.URI, session, id spec.ID) bool {
	n := l.n
	k := interestKey{l.name, match, string(topic)}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.heldElsewhereLocked(k) {
		delete(n.pending, k)
		return true
	}
	n.pending[k] = &pendingDelete{l: l, session: session, id: id, at: time.Now().UnixNano(), others: map[string]int64{}}
	return false
}

// removalLocked fills in this node's announcement that it lost k's
// pattern: whether it said on_delete, and if not, when its subscriber left.
// Called with n.mu held.
func (n *Node) removalLocked(k interestKey, c *control) {
	if d := n.pending[k]; d != nil {
		c.At = d.at
		return
	}
	c.Said = true
}

// peerRemovedLocked settles a pending on_delete when another node announces
// that it lost the pattern: it returns the event for this node to say, or
// nil. Called with n.mu held, after the peer's interest is updated.
func (n *Node) peerRemovedLocked(p *peer, c *control) *pendingDelete {
	k := interestKey{c.Realm, c.Match, c.Topic}
	d := n.pending[k]
	if d == nil {
		return nil
	}
	if c.Said {
		delete(n.pending, k) // the other node said it
		return nil
	}
	d.others[p.token] = c.At
	if n.local[k] != nil || n.heldElsewhereLocked(k) {
		return nil
	}
	delete(n.pending, k)
	for tok, at := range d.others {
		if later(at, tok, d.at, n.token) {
			return nil // that node says it
		}
	}
	return d
}

// forgetPendingLocked drops the pending on_deletes no live node can settle
// any more (the nodes holding the pattern are gone). Called with n.mu held.
func (n *Node) forgetPendingLocked() {
	for k := range n.pending {
		if n.local[k] == nil && !n.heldElsewhereLocked(k) {
			delete(n.pending, k)
		}
	}
}
