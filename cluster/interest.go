package cluster

import (
	"errors"
	"strings"
	"time"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/spec"
)

// Interest: the subscription patterns a node has subscribers for, per realm.
// A node counts its own subscribers per pattern and tells the others only
// when a pattern appears (0 → 1) or disappears (1 → 0). A publishing node
// sends a publication to each node whose interest matches its topic, once;
// the receiving broker then matches it against its subscriptions exactly.

type interestKey struct {
	realm, match, topic string
}

// localInterest is one of this node's own patterns.
type localInterest struct {
	count   int
	pending *ackWaiter // the announcement still waiting for acknowledgements
}

// ackWaiter waits for every node alive at an announcement to acknowledge it.
type ackWaiter struct {
	expect  map[string]bool
	done    chan struct{}
	refused bool // a node refused a registration proposal (rpc.go)
	held    bool // a node that acknowledged a proposal has callees of it
}

// refuseLocked marks the proposal refused and ends the wait.
func (w *ackWaiter) refuseLocked() {
	w.refused = true
	if len(w.expect) > 0 {
		clear(w.expect)
		close(w.done)
	}
}

func (w *ackWaiter) ackLocked(token string) {
	if !w.expect[token] {
		return
	}
	delete(w.expect, token)
	if len(w.expect) == 0 {
		close(w.done)
	}
}

// interestSet is another node's patterns in one realm. It errs only on the
// side of sending: prefix and wildcard patterns are scanned, which is
// cheap for the handful of patterns nodes usually hold; the receiver's
// broker does the exact matching.
type interestSet struct {
	exact    map[string]struct{}
	prefix   map[string]struct{}
	wildcard map[string][]string // pattern → its components
}

func (p *peer) apply(realm, match, topic string, add bool) {
	set := p.interest[realm]
	if set == nil {
		if !add {
			return
		}
		set = &interestSet{exact: map[string]struct{}{}, prefix: map[string]struct{}{}, wildcard: map[string][]string{}}
		p.interest[realm] = set
	}
	switch match {
	case spec.MatchPrefix:
		if add {
			set.prefix[topic] = struct{}{}
		} else {
			delete(set.prefix, topic)
		}
	case spec.MatchWildcard:
		if add {
			set.wildcard[topic] = strings.Split(topic, ".")
		} else {
			delete(set.wildcard, topic)
		}
	default:
		if add {
			set.exact[topic] = struct{}{}
		} else {
			delete(set.exact, topic)
		}
	}
}

func (p *peer) interested(realm, topic string) bool {
	set := p.interest[realm]
	if set == nil {
		return false
	}
	if _, ok := set.exact[topic]; ok {
		return true
	}
	for pre := range set.prefix {
		if strings.HasPrefix(topic, pre) {
			return true
		}
	}
	if len(set.wildcard) == 0 {
		return false
	}
	parts := strings.Split(topic, ".")
	for _, pat := range set.wildcard {
		if wildcardMatch(pat, parts) {
			return true
		}
	}
	return false
}

// wildcardMatch: an empty pattern component matches any one component.
func wildcardMatch(pattern, parts []string) bool {
	if len(pattern) != len(parts) {
		return false
	}
	for i, c := range pattern {
		if c != "" && c != parts[i] {
			return false
		}
	}
	return true
}

// link is one realm's link to the cluster (router.ClusterLink).
type link struct {
	n     *Node
	realm *router.Realm
	name  string
}

var _ router.ClusterLink = (*link)(nil)

// Link implements router.Cluster. A realm a reload prepares but does not
// commit also gets a link: it does not displace the live realm's, and a
// realm that takes a subscriber claims the name (AddInterest).
func (n *Node) Link(realm *router.Realm) router.ClusterLink {
	return &link{n: n, realm: realm, name: string(realm.Name())}
}

// Attach makes the realm known to the node's handlers of other nodes'
// messages; see router.ClusterLink. Before it, the router is still wiring
// the realm (its dealer's cluster state), which those handlers read.
func (l *link) Attach() {
	n := l.n
	n.mu.Lock()
	if n.realms[spec.URI(l.name)] == nil {
		n.realms[spec.URI(l.name)] = l
	}
	peers := make([]string, 0, len(n.peers))
	for tok := range n.peers {
		peers = append(peers, tok)
	}
	n.mu.Unlock()
	for _, tok := range peers {
		n.requestKept(tok, l.name) // kept.go
	}
}

func (l *link) AddInterest(match string, topic spec.URI) {
	n := l.n
	k := interestKey{l.name, match, string(topic)}
	n.mu.Lock()
	n.realms[spec.URI(l.name)] = l
	li := n.local[k]
	if li == nil {
		li = &localInterest{}
		n.local[k] = li
	}
	li.count++
	w := li.pending
	if li.count == 1 {
		n.seq++
		w = &ackWaiter{expect: make(map[string]bool, len(n.peers)), done: make(chan struct{})}
		for tok := range n.peers {
			w.expect[tok] = true
		}
		if len(w.expect) == 0 {
			close(w.done)
			w = nil
		} else {
			li.pending = w
			n.waiters[n.seq] = w
		}
		c := &control{Kind: kindInterest, Name: n.opts.Name, Token: n.token, Seq: n.seq, Realm: l.name, Match: match, Topic: string(topic), Add: true}
		if err := n.nc.PublishRequest(n.subj.control, n.subj.ack, c.encode()); err != nil {
			n.log.Warn("cluster: subscription not announced", "topic", topic, "error", err)
		}
		seq := n.seq
		if w != nil {
			defer func() {
				n.mu.Lock()
				delete(n.waiters, seq)
				if li.pending == w {
					li.pending = nil
				}
				n.mu.Unlock()
			}()
		}
	}
	n.mu.Unlock()
	if w == nil {
		return
	}
	t := time.NewTimer(n.opts.AckTimeout)
	defer t.Stop()
	select {
	case <-w.done:
	case <-t.C:
		n.log.Warn("cluster: some nodes did not acknowledge a new subscription in time", "topic", topic, "after", n.opts.AckTimeout)
	}
}

func (l *link) RemoveInterest(match string, topic spec.URI) {
	n := l.n
	k := interestKey{l.name, match, string(topic)}
	n.mu.Lock()
	defer n.mu.Unlock()
	li := n.local[k]
	if li == nil {
		return
	}
	li.count--
	if li.count > 0 {
		return
	}
	delete(n.local, k)
	n.seq++
	c := &control{Kind: kindInterest, Name: n.opts.Name, Token: n.token, Seq: n.seq, Realm: l.name, Match: match, Topic: string(topic)}
	n.removalLocked(k, c)
	if err := n.nc.Publish(n.subj.control, c.encode()); err != nil {
		n.log.Warn("cluster: unsubscription not announced", "topic", topic, "error", err)
	}
}

// Publish sends e once to every node with matching interest. It does not
// wait: NATS buffers the message and keeps each node's order. The peers are
// chosen under the read lock and sent to outside it, so a NATS connection
// that pushes back never holds up an interest change.
func (l *link) Publish(e *router.RemoteEvent, broadcast bool) {
	n := l.n
	topic := string(e.Topic)
	var stack [8]string
	targets := stack[:0]
	n.mu.RLock()
	for _, p := range n.peers {
		if broadcast || p.interested(l.name, topic) {
			targets = append(targets, p.events)
		}
	}
	n.mu.RUnlock()
	if len(targets) == 0 {
		return
	}
	data, err := encodeEvent(l.name, e)
	if err != nil {
		n.log.Warn("cluster: publication not encodable for other nodes", "topic", topic, "error", err)
		return
	}
	for _, subj := range targets {
		if err := n.nc.Publish(subj, data); err != nil {
			n.log.Warn("cluster: publication not sent", "subject", subj, "topic", topic, "error", err)
		}
	}
}

// Flush waits until NATS has taken every message published so far.
func (l *link) Flush() error {
	if err := l.n.Err(); err != nil {
		return err
	}
	if err := l.n.nc.FlushTimeout(l.n.opts.AckTimeout); err != nil {
		return errors.New("cluster: publication not confirmed by NATS: " + err.Error())
	}
	return nil
}

func (l *link) Err() error { return l.n.Err() }
