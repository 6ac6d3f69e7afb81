package cluster

import (
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// Meta procedures across nodes: the session kill procedures and the
// subscription and registration meta procedures. The caller's node
// authorizes the call, runs it on its own part of the realm and sends the
// same CALL, in MessagePack with the realm under x_sy_realm, to every live
// node's meta-call subject; each node runs it on its own sessions,
// subscriptions or registrations and answers with a RESULT or an ERROR.
// The asking node waits at most AckTimeout/2 for all of them at once and
// leaves out a node that does not answer (router/cluster_meta.go merges
// the answers).

func (s subjects) metaCallOf(token string) string { return s.prefix + ".mcall." + token }

// encodeMetaCall encodes a meta call for the other nodes.
func encodeMetaCall(realm string, c *spec.Call) ([]byte, error) {
	return serializer.MessagePack.Encode(nil, &spec.Call{
		Request:     1,
		Options:     spec.Dict{keyRealm: realm},
		Procedure:   c.Procedure,
		Arguments:   c.Arguments,
		ArgumentsKw: c.ArgumentsKw,
	})
}

// decodeMetaCall decodes what encodeMetaCall made.
func decodeMetaCall(b []byte) (string, *spec.Call, error) {
	m, err := serializer.MessagePack.Decode(b)
	if err != nil {
		return "", nil, fmt.Errorf("cluster: meta call: %w", err)
	}
	c, ok := m.(*spec.Call)
	if !ok {
		return "", nil, fmt.Errorf("cluster: meta call is a %s, not a CALL", m.Type())
	}
	realm, _ := c.Options[keyRealm].(string)
	if realm == "" {
		return "", nil, errors.New("cluster: meta call without realm")
	}
	if !spec.IsReservedURI(c.Procedure) {
		return "", nil, errors.New("cluster: meta call of a procedure outside wamp.")
	}
	return realm, c, nil
}

// encodeMetaAnswer encodes one node's answer as a RESULT or an ERROR.
func encodeMetaAnswer(a router.MetaAnswer) ([]byte, error) {
	if a.Error != "" {
		return serializer.MessagePack.Encode(nil, &spec.Error{RequestType: spec.TypeCall, Request: 1, Details: spec.Dict{}, Error: a.Error})
	}
	return serializer.MessagePack.Encode(nil, &spec.Result{Request: 1, Details: spec.Dict{}, Arguments: a.Arguments})
}

// decodeMetaAnswer decodes what encodeMetaAnswer made.
func decodeMetaAnswer(b []byte) (router.MetaAnswer, error) {
	m, err := serializer.MessagePack.Decode(b)
	if err != nil {
		return router.MetaAnswer{}, fmt.Errorf("cluster: meta answer: %w", err)
	}
	switch r := m.(type) {
	case *spec.Result:
		return router.MetaAnswer{Arguments: r.Arguments}, nil
	case *spec.Error:
		if r.Error == "" {
			return router.MetaAnswer{}, errors.New("cluster: meta answer: ERROR without URI")
		}
		return router.MetaAnswer{Error: r.Error}, nil
	default:
		return router.MetaAnswer{}, fmt.Errorf("cluster: meta answer is a %s", m.Type())
	}
}

// onMetaCall runs another node's meta call on this node's part of the realm.
func (n *Node) onMetaCall(m *nats.Msg) {
	realm, c, err := decodeMetaCall(m.Data)
	if err != nil {
		n.log.Warn("cluster: malformed meta call dropped", "error", err)
		return
	}
	n.mu.RLock()
	l := n.realms[spec.URI(realm)]
	n.mu.RUnlock()
	a := router.MetaAnswer{Error: spec.ErrNoSuchRealm}
	if l != nil {
		a = l.realm.RemoteMeta(c)
	}
	b, err := encodeMetaAnswer(a)
	if err != nil {
		n.log.Warn("cluster: meta answer not encodable", "procedure", c.Procedure, "error", err)
		return
	}
	_ = m.Respond(b)
}

// RemoteMeta implements router.ClusterMeta: it asks every live node at
// once and waits at most AckTimeout/2.
func (l *link) RemoteMeta(c *spec.Call) []router.MetaAnswer {
	n := l.n
	data, err := encodeMetaCall(l.name, c)
	if err != nil {
		n.log.Warn("cluster: meta call not encodable", "procedure", c.Procedure, "error", err)
		return nil
	}
	n.mu.RLock()
	targets := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		targets = append(targets, p)
	}
	n.mu.RUnlock()
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		out []router.MetaAnswer
	)
	for _, p := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply, err := n.nc.Request(n.subj.metaCallOf(p.token), data, n.opts.AckTimeout/2)
			if err != nil {
				n.log.Warn("cluster: a node did not answer a meta call", "peer", p.name, "procedure", c.Procedure, "error", err)
				return
			}
			a, err := decodeMetaAnswer(reply.Data)
			if err != nil {
				n.log.Warn("cluster: malformed meta answer dropped", "peer", p.name, "error", err)
				return
			}
			mu.Lock()
			out = append(out, a)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}
