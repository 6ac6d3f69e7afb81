package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/spec"
)

// Retained events and event history for a node that joins late. Every node
// keeps the cluster's retained and historic publications (they are handed
// to every node), but a node that starts, or restarts, after they were
// published has missed them. So a node asks for what another keeps of a
// realm whenever the two meet: when it first sees that node (for each realm
// it serves) and when it attaches a realm (of each node it knows). The
// question goes to that node's kept subject with this node's kept-reply
// subject as the reply, so that nobody waits for it: the answer is merged
// (router.Realm.AddKept: the newer retained event of a topic wins, history
// logs unite by publication ID) when it comes. The answer is one NATS
// message, so it is bounded by the server's maximum payload: a node keeping
// more sends its newest events that fit and says it left some out, which
// the asking node logs.

// keyKept carries a kept event's [retained, history, stored at (Unix ns)]
// in its options.
const keyKept = "x_sy_kept"

// keptRequest asks for what a node keeps of one realm.
type keptRequest struct {
	Realm string `json:"r"`
}

// keptReply is the answer on the kept subject: each event as encodeEvent
// makes it, with keyKept added.
type keptReply struct {
	Name      string   `json:"n"`
	Token     string   `json:"k"`
	Realm     string   `json:"r"`
	Events    [][]byte `json:"e"`
	Truncated bool     `json:"t,omitempty"`
}

// keptKey names one kept request: the node asked and the realm.
type keptKey struct{ token, realm string }

// fetchingKept reports whether a kept request is unanswered and younger
// than AckTimeout: until then the node is not ready (Ready), so that a
// load balancer sends it no session that would miss a retained event. A
// node that does not answer in time is given up on.
func (n *Node) fetchingKept() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, at := range n.keptDue {
		if time.Since(at) < n.opts.AckTimeout {
			return true
		}
		delete(n.keptDue, k)
	}
	return false
}

// keptBudget is how much of the server's maximum payload the reply's
// events may take, leaving room for the JSON around them.
func keptBudget(maxPayload int64) int {
	return int(maxPayload) - 4096
}

// requestKept asks node token for what it keeps of realm; onKeptReply
// merges the answer.
func (n *Node) requestKept(token, realm string) {
	n.mu.Lock()
	n.keptDue[keptKey{token, realm}] = time.Now()
	n.mu.Unlock()
	body, _ := json.Marshal(&keptRequest{Realm: realm}) // cannot fail: a string
	if err := n.nc.PublishRequest(n.subj.keptOf(token), n.subj.keptIn, body); err != nil {
		n.log.Warn("cluster: could not ask for retained events and history", "realm", realm, "error", err)
	}
}

// onKeptRequest answers another node with this node's retained events and
// event history of a realm, newest first until the budget is spent.
func (n *Node) onKeptRequest(m *nats.Msg) {
	var req keptRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || m.Reply == "" {
		n.log.Warn("cluster: malformed request for retained events and history dropped", "error", err)
		return
	}
	n.mu.RLock()
	l := n.realms[spec.URI(req.Realm)]
	n.mu.RUnlock()
	reply := keptReply{Name: n.opts.Name, Token: n.token, Realm: req.Realm}
	if l != nil {
		budget := keptBudget(n.nc.MaxPayload())
		kept := l.realm.KeptEvents()
		for i := len(kept) - 1; i >= 0; i-- {
			b, err := encodeKept(l.name, &kept[i])
			if err != nil {
				continue // not encodable: it could not have crossed live either
			}
			cost := (len(b)+2)/3*4 + 3 // base64 in a JSON string, and a comma
			if cost > budget {
				reply.Truncated = true
				break
			}
			budget -= cost
			reply.Events = append(reply.Events, b)
		}
	}
	out, _ := json.Marshal(&reply) // cannot fail: strings, byte strings and a bool
	if err := m.Respond(out); err != nil {
		n.log.Warn("cluster: could not send retained events and history to a node", "error", err)
	}
}

// onKeptReply merges another node's retained events and history into this
// node's realms.
func (n *Node) onKeptReply(m *nats.Msg) {
	var kr keptReply
	if err := json.Unmarshal(m.Data, &kr); err != nil {
		n.log.Warn("cluster: malformed retained events and history dropped", "error", err)
		return
	}
	if kr.Truncated {
		n.log.Warn("cluster: a node keeps more retained events and history than one message holds; the oldest were left out", "peer", kr.Name)
	}
	byRealm := map[string][]router.KeptEvent{}
	bad := 0
	for _, b := range kr.Events {
		realm, k, err := decodeKept(b)
		if err != nil {
			bad++
			continue
		}
		byRealm[realm] = append(byRealm[realm], *k)
	}
	if bad > 0 {
		n.log.Warn("cluster: malformed retained or historic events dropped", "peer", kr.Name, "count", bad)
	}
	n.mu.RLock()
	links := make(map[*link][]router.KeptEvent, len(byRealm))
	for realm, events := range byRealm {
		if l := n.realms[spec.URI(realm)]; l != nil {
			links[l] = events
		}
	}
	n.mu.RUnlock()
	for l, events := range links {
		// Sent newest first; merged oldest first, as they were stored.
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i], events[j] = events[j], events[i]
		}
		l.realm.AddKept(events)
	}
	n.mu.Lock()
	delete(n.keptDue, keptKey{kr.Token, kr.Realm})
	n.mu.Unlock()
}

// encodeKept encodes a kept event as encodeEvent does, its flags and time
// under keyKept.
func encodeKept(realm string, k *router.KeptEvent) ([]byte, error) {
	e := k.RemoteEvent
	opts := make(spec.Dict, len(e.Options)+1)
	for key, v := range e.Options {
		opts[key] = v
	}
	opts[keyKept] = []any{k.Retained, k.History, k.When.UnixNano()}
	e.Options = opts
	return encodeEvent(realm, &e)
}

// decodeKept decodes what encodeKept made, as untrusted input.
func decodeKept(b []byte) (string, *router.KeptEvent, error) {
	realm, e, err := decodeEvent(b)
	if err != nil {
		return "", nil, err
	}
	flags, _ := e.Options[keyKept].([]any)
	if len(flags) != 3 {
		return "", nil, errors.New("cluster: kept event without its flags")
	}
	retained, ok1 := flags[0].(bool)
	history, ok2 := flags[1].(bool)
	at, ok3 := spec.AsInt(flags[2])
	if !ok1 || !ok2 || !ok3 {
		return "", nil, fmt.Errorf("cluster: kept event with malformed flags %v", flags)
	}
	delete(e.Options, keyKept)
	return realm, &router.KeptEvent{RemoteEvent: *e, Retained: retained, History: history, When: time.Unix(0, at)}, nil
}

// realmNames lists the realms this node serves.
func (n *Node) realmNames() []string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	names := make([]string, 0, len(n.realms))
	for name := range n.realms {
		names = append(names, string(name))
	}
	return names
}
