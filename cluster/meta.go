package cluster

import (
	"errors"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// Session meta across nodes. A node answers a request on its meta subject
// (the realm's name as payload) with the details of its own sessions in that
// realm, as a MessagePack-encoded RESULT whose arguments are the details
// dicts: integers stay integers, which JSON would not promise. The asking
// node asks every live node at once and waits at most AckTimeout/2.

func (s subjects) metaOf(token string) string { return s.prefix + ".meta." + token }

// onMetaRequest answers another node's question about this node's sessions.
func (n *Node) onMetaRequest(m *nats.Msg) {
	n.mu.RLock()
	l := n.realms[spec.URI(m.Data)]
	n.mu.RUnlock()
	args := spec.List{}
	if l != nil {
		for _, d := range l.realm.LocalSessions() {
			args = append(args, d)
		}
	}
	b, err := serializer.MessagePack.Encode(nil, &spec.Result{Request: 1, Details: spec.Dict{}, Arguments: args})
	if err != nil {
		n.log.Warn("cluster: session details not encodable", "error", err)
		return
	}
	_ = m.Respond(b)
}

// decodeSessions decodes an answer of onMetaRequest.
func decodeSessions(b []byte) ([]spec.Dict, error) {
	m, err := serializer.MessagePack.Decode(b)
	if err != nil {
		return nil, err
	}
	r, ok := m.(*spec.Result)
	if !ok {
		return nil, errNotResult
	}
	out := make([]spec.Dict, 0, len(r.Arguments))
	for _, a := range r.Arguments {
		if d, ok := a.(map[string]any); ok {
			if _, ok := spec.AsID(d["session"]); ok {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

type metaError string

func (e metaError) Error() string { return string(e) }

const errNotResult = metaError("cluster: session details are not a RESULT")

// RemoteSessions implements router.ClusterLink. A node that does not answer
// in time (a busy one: answering lists every session's details) is
// answered for from the sessions it announced: ID, authid and authrole, so
// that a count or a list stays whole under load, and only the details of
// its sessions are thinner. A node nobody answers for at all (no responders:
// it died and is not yet declared failed) is left out with its sessions.
func (l *link) RemoteSessions() []spec.Dict {
	n := l.n
	n.mu.RLock()
	targets := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		targets = append(targets, p)
	}
	n.mu.RUnlock()
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		out []spec.Dict
	)
	for _, p := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ds, err := l.askSessions(p)
			switch {
			case errors.Is(err, nats.ErrNoResponders):
				// Nobody listens for it: the node is gone (killed, not yet
				// declared failed here), and so are its sessions.
				n.log.Warn("cluster: a node did not say which sessions it has; it is gone", "peer", p.name)
				return
			case err != nil:
				ds = l.announcedSessions(p)
				n.log.Warn("cluster: a node did not say which sessions it has; counting those it announced", "peer", p.name, "sessions", len(ds), "error", err)
			}
			mu.Lock()
			out = append(out, ds...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// announcedSessions returns the realm's sessions p announced, as the
// details a silent node is answered for with.
func (l *link) announcedSessions(p *peer) []spec.Dict {
	l.n.mu.RLock()
	defer l.n.mu.RUnlock()
	ds := make([]spec.Dict, 0, len(p.sessions[l.name]))
	for _, s := range p.sessions[l.name] {
		ds = append(ds, spec.Dict{"session": int64(s.ID), "authid": s.AuthID, "authrole": s.AuthRole})
	}
	return ds
}

// askSessions asks p for the details of its sessions in the realm, waiting
// at most AckTimeout/2.
func (l *link) askSessions(p *peer) ([]spec.Dict, error) {
	reply, err := l.n.nc.Request(l.n.subj.metaOf(p.token), []byte(l.name), l.n.opts.AckTimeout/2)
	if err != nil {
		return nil, err
	}
	return decodeSessions(reply.Data)
}

// SessionJoined implements router.ClusterLink.
func (l *link) SessionJoined(id spec.ID, authID, authRole string) {
	l.sessionChange(&control{Kind: kindJoined, Realm: l.name, Session: uint64(id), AuthID: authID, AuthRole: authRole})
}

// SessionLeft implements router.ClusterLink.
func (l *link) SessionLeft(id spec.ID) {
	l.sessionChange(&control{Kind: kindLeft, Realm: l.name, Session: uint64(id)})
}

func (l *link) sessionChange(c *control) {
	n := l.n
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seq++
	c.Name, c.Token, c.Seq = n.opts.Name, n.token, n.seq
	if err := n.nc.Publish(n.subj.control, c.encode()); err != nil {
		n.log.Warn("cluster: session change not announced", "error", err)
	}
}

// SessionKnown implements router.ClusterLink.
func (l *link) SessionKnown(id spec.ID) bool {
	n := l.n
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, p := range n.peers {
		if _, ok := p.sessions[l.name][id]; ok {
			return true
		}
	}
	return false
}
