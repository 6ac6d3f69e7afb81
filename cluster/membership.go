package cluster

import (
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/spec"
)

// Membership. Every node publishes a heartbeat on the control subject every
// HeartbeatInterval, carrying its name, its incarnation token and the
// sequence number of its latest interest change. A node learns of another
// from its first heartbeat (or interest change) and then fetches that
// node's interest snapshot; it takes the other node as gone after FailAfter
// without a word from it, or at once on its goodbye.
//
// All control messages are handled by one NATS subscription, so one
// goroutine applies them in the order each node sent them: a gap in a
// node's sequence numbers means a missed change and is repaired by fetching
// its snapshot again.

// peer is another node, as this node knows it.
type peer struct {
	name     string
	token    string
	events   string // its events subject
	seq      uint64 // of its interest changes applied here
	lastSeen time.Time
	interest map[string]*interestSet                     // by realm
	sessions map[string]map[spec.ID]router.RemoteSession // by realm: its sessions
}

// setSession records a session joining (add) or leaving the peer.
func (p *peer) setSession(realm string, rs router.RemoteSession, add bool) {
	m := p.sessions[realm]
	if m == nil {
		if !add {
			return
		}
		m = make(map[spec.ID]router.RemoteSession)
		p.sessions[realm] = m
	}
	if add {
		m[rs.ID] = rs
	} else {
		delete(m, rs.ID)
	}
}

func (n *Node) subscribe() error {
	for _, s := range []struct {
		subject string
		handler nats.MsgHandler
	}{
		{n.subj.control, n.onControl},
		{n.subj.snap, n.onSnapshotRequest},
		{n.subj.kept, n.onKeptRequest},
		{n.subj.keptIn, n.onKeptReply},
		{n.subj.ack, n.onAck},
		{n.subj.events, n.onEvent},
		{n.subj.metaOf(n.token), n.onMetaRequest},
		{n.subj.metaCallOf(n.token), n.onMetaCall},
		{n.subj.rpcOf(n.token), n.onRPC},
	} {
		sub, err := n.nc.Subscribe(s.subject, s.handler)
		if err != nil {
			return err
		}
		// A publication burst must not be dropped by the client library's
		// default pending limits: the broker's own queues bound it.
		_ = sub.SetPendingLimits(-1, 256<<20)
		n.subs = append(n.subs, sub)
	}
	return n.nc.Flush()
}

// heartbeats is the node's one long-lived goroutine, owned by Close: it
// announces the node and drops the nodes that went silent.
func (n *Node) heartbeats() {
	defer close(n.done)
	t := time.NewTicker(n.opts.HeartbeatInterval)
	defer t.Stop()
	n.sendHeartbeat()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			n.sendHeartbeat()
			n.reap(time.Now())
			n.logReachability()
		}
	}
}

// logReachability logs once when the node loses the cluster and once when
// it has it back; /readyz says the same through Ready.
func (n *Node) logReachability() {
	err := n.Err()
	switch {
	case err != nil && !n.unreachable:
		n.log.Error("cluster unreachable: acknowledged publications are refused until it is back", "error", err)
	case err == nil && n.unreachable:
		n.log.Info("cluster reachable again")
	}
	n.unreachable = err != nil
}

func (n *Node) sendHeartbeat() {
	n.mu.RLock()
	seq := n.seq
	n.mu.RUnlock()
	n.sendControl(&control{Kind: kindHeartbeat, Seq: seq})
}

func (n *Node) sendControl(c *control) {
	c.Name, c.Token = n.opts.Name, n.token
	if err := n.nc.Publish(n.subj.control, c.encode()); err != nil {
		n.log.Debug("cluster: control message not sent", "kind", c.Kind, "error", err)
	}
}

// reap drops the peers not heard from for FailAfter.
func (n *Node) reap(now time.Time) {
	n.mu.Lock()
	var gone []*peer
	for tok, p := range n.peers {
		if now.Sub(p.lastSeen) > n.opts.FailAfter {
			gone = append(gone, p)
			n.dropPeerLocked(tok)
		}
	}
	n.mu.Unlock()
	for _, p := range gone {
		n.log.Warn("cluster: node gone silent, taken as failed", "peer", p.name, "after", n.opts.FailAfter)
		n.nodeLost(p.token)
		n.sessionsLost(p)
	}
}

// sessionsLost says wamp.session.on_leave, to this node's subscribers, for
// every session of a node that died. Called under no lock.
func (n *Node) sessionsLost(p *peer) {
	for realm, m := range p.sessions {
		n.mu.RLock()
		l := n.realms[spec.URI(realm)]
		n.mu.RUnlock()
		if l == nil || len(m) == 0 {
			continue
		}
		lost := make([]router.RemoteSession, 0, len(m))
		for _, rs := range m {
			lost = append(lost, rs)
		}
		l.realm.SessionsLost(lost)
	}
}

// dropPeerLocked forgets a peer and releases the interest changes waiting
// for its acknowledgement. Called with n.mu held.
func (n *Node) dropPeerLocked(token string) *peer {
	p := n.peers[token]
	delete(n.peers, token)
	for _, w := range n.waiters {
		w.ackLocked(token)
	}
	n.forgetPendingLocked()
	return p
}

// onControl handles a heartbeat, an interest change or a goodbye.
func (n *Node) onControl(m *nats.Msg) {
	c, err := decodeControl(m.Data)
	if err != nil {
		n.log.Warn("cluster: malformed control message dropped", "error", err)
		return
	}
	if c.Token == n.token {
		return
	}
	switch c.Kind {
	case kindBye:
		n.mu.Lock()
		_, known := n.peers[c.Token]
		n.dropPeerLocked(c.Token)
		n.mu.Unlock()
		n.nodeLost(c.Token)
		if known {
			n.log.Info("cluster: node left", "peer", c.Name)
		}
		return
	case kindHeartbeat, kindInterest, kindJoined, kindLeft, kindPropose, kindReg:
	default:
		return
	}
	n.mu.Lock()
	p := n.peers[c.Token]
	if p != nil {
		p.lastSeen = time.Now()
	}
	var fresh bool
	var say *pendingDelete
	switch {
	case p == nil:
		fresh = true
	case c.Kind == kindInterest && c.Seq == p.seq+1:
		p.apply(c.Realm, c.Match, c.Topic, c.Add)
		p.seq = c.Seq
		if !c.Add {
			say = n.peerRemovedLocked(p, c)
		}
	case (c.Kind == kindJoined || c.Kind == kindLeft) && c.Seq == p.seq+1:
		p.setSession(c.Realm, router.RemoteSession{ID: spec.ID(c.Session), AuthID: c.AuthID, AuthRole: c.AuthRole}, c.Kind == kindJoined)
		p.seq = c.Seq
	case (c.Kind == kindPropose || c.Kind == kindReg) && c.Seq == p.seq+1:
		p.seq = c.Seq
	case c.Seq > p.seq:
		fresh = true // missed a change: start again from a snapshot
	}
	n.mu.Unlock()
	if say != nil {
		say.l.realm.SayDeleted(say.session, say.id)
	}
	applied := true
	if fresh {
		applied = n.fetchSnapshot(c.Token, c.Name)
	}
	if applied && (c.Kind == kindPropose || c.Kind == kindReg) {
		n.registrationChange(c, m.Reply)
	}
	if applied && c.Kind == kindInterest && m.Reply != "" {
		_ = n.nc.Publish(m.Reply, (&control{Kind: kindAck, Name: n.opts.Name, Token: n.token, Seq: c.Seq}).encode())
	}
}

// fetchSnapshot asks a node for its whole interest and installs it. It
// reports whether the node's interest is now known.
func (n *Node) fetchSnapshot(token, name string) bool {
	reply, err := n.nc.Request(n.subj.snapOf(token), nil, n.opts.AckTimeout)
	if err != nil {
		n.log.Warn("cluster: could not fetch a node's subscriptions", "peer", name, "error", err)
		return false
	}
	snap, err := decodeSnapshot(reply.Data)
	if err != nil {
		n.log.Warn("cluster: malformed snapshot dropped", "peer", name, "error", err)
		return false
	}
	var replaced []*peer
	defer func() {
		for _, old := range replaced {
			n.nodeLost(old.token)
			n.sessionsLost(old)
		}
	}()
	installed, isNew := false, false
	defer func() {
		if installed {
			n.installRegistrations(token, snap.Regs)
		}
		if isNew {
			for _, realm := range n.realmNames() {
				n.requestKept(token, realm)
			}
		}
	}()
	n.mu.Lock()
	defer n.mu.Unlock() // runs before the sessionsLost above
	if n.closed {
		return false
	}
	p := n.peers[token]
	if p != nil && p.seq >= snap.Seq {
		return true
	}
	if p == nil {
		// A node restarted under the same name: its old incarnation is gone.
		for tok, old := range n.peers {
			if old.name == snap.Name {
				replaced = append(replaced, n.dropPeerLocked(tok))
			}
		}
		n.log.Info("cluster: node joined", "peer", snap.Name)
		isNew = true
	}
	p = &peer{name: snap.Name, token: token, events: n.subj.eventsOf(token), seq: snap.Seq, lastSeen: time.Now(),
		interest: make(map[string]*interestSet), sessions: make(map[string]map[spec.ID]router.RemoteSession)}
	for _, it := range snap.Interest {
		p.apply(it.Realm, it.Match, it.Topic, true)
	}
	for _, ss := range snap.Sessions {
		p.setSession(ss.Realm, router.RemoteSession{ID: spec.ID(ss.ID), AuthID: ss.AuthID, AuthRole: ss.AuthRole}, true)
	}
	n.peers[token] = p
	installed = true
	return true
}

// onSnapshotRequest answers another node with this node's whole interest.
func (n *Node) onSnapshotRequest(m *nats.Msg) {
	n.mu.RLock()
	snap := &snapshot{Name: n.opts.Name, Seq: n.seq, Interest: make([]pattern, 0, len(n.local))}
	for k := range n.local {
		snap.Interest = append(snap.Interest, pattern{Realm: k.realm, Match: k.match, Topic: k.topic})
	}
	links := make([]*link, 0, len(n.realms))
	for _, l := range n.realms {
		links = append(links, l)
	}
	n.mu.RUnlock()
	// Sessions are read after the sequence number, outside n.mu (lock
	// order: a realm's locks are never taken under it). A session change
	// racing with this is in the list or not, and its own message, with a
	// later sequence number, settles it.
	for _, l := range links {
		for _, r := range l.realm.LocalRegistrations() {
			snap.Regs = append(snap.Regs, snapReg{Realm: l.name, Match: r.Match, Procedure: string(r.Procedure), Invoke: r.Invoke, Callees: r.Callees, First: r.First, Last: r.Last})
		}
		for _, d := range l.realm.LocalSessions() {
			id, _ := spec.AsID(d["session"])
			authID, _ := d["authid"].(string)
			authRole, _ := d["authrole"].(string)
			snap.Sessions = append(snap.Sessions, snapSession{Realm: l.name, ID: uint64(id), AuthID: authID, AuthRole: authRole})
		}
	}
	_ = m.Respond(snap.encode())
}

// onAck counts another node's acknowledgement of an interest change.
func (n *Node) onAck(m *nats.Msg) {
	c, err := decodeControl(m.Data)
	if err != nil || c.Kind != kindAck {
		return
	}
	n.mu.Lock()
	if w := n.waiters[c.Seq]; w != nil {
		if c.Refuse {
			w.refuseLocked()
		}
		w.held = w.held || c.Held
		w.ackLocked(c.Token)
	}
	n.mu.Unlock()
}
