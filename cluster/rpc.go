package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// RPC across nodes. Registrations are announced on the control subject,
// sequenced like interest changes, so every node holds a table of the
// others' registrations (router/cluster_rpc.go keeps it). A registration
// new on a node is first a proposal (kindPropose) that every live node
// acknowledges or refuses (router.Realm.CheckRegistration has the conflict
// rule); then its callee count follows (kindReg, 0 withdraws it).
//
// Calls, their results and cancels go to the node concerned on its rpc
// subject, one NATS subscription per node, so one goroutine handles them in
// the order each node sent them (progressive results stay in order). They
// are WAMP messages in MessagePack with the cluster's fields under x_sy_*
// keys: a CALL (Request: the caller node's key for the call), a YIELD or an
// ERROR back, a CANCEL. A payload the router kept raw crosses as the
// caller's or callee's own bytes (payload.go).

func (s subjects) rpcOf(token string) string { return s.prefix + ".rpc." + token }

type snapReg struct {
	Realm     string `json:"r"`
	Match     string `json:"m"`
	Procedure string `json:"u"`
	Invoke    string `json:"iv"`
	Callees   int    `json:"c"`
	First     int64  `json:"f,omitempty"`
	Last      int64  `json:"l,omitempty"`
}

// Keys of the cluster's own fields in forwarded RPC messages.
const (
	keyFrom     = "x_sy_from"   // the sending node's token
	keyCaller   = "x_sy_caller" // [session ID, authid, authrole, disclose]
	keyContinue = "x_sy_cont"   // a progressive call's continuation
)

// continueProcedure stands in for the procedure of a continuation, which
// the callee's node already knows.
const continueProcedure = "x_sy.continue"

var _ router.ClusterRPC = (*link)(nil)

// ProposeRegistration implements router.ClusterRPC. It waits for every node
// alive at the proposal; a node that dies meanwhile is dropped by the
// failure detector, which releases the wait, so the bound is FailAfter
// plus a heartbeat interval (or AckTimeout, if longer).
func (l *link) ProposeRegistration(match string, procedure spec.URI, invoke string) error {
	refused, err := l.acknowledged(&control{Kind: kindPropose, Match: match, Topic: string(procedure), Invoke: invoke})
	if err != nil {
		return err
	}
	if refused {
		return router.ErrRegistrationConflict
	}
	return nil
}

// WithdrawRegistration implements router.ClusterRPC.
func (l *link) WithdrawRegistration(match string, procedure spec.URI, invoke string) {
	if _, err := l.acknowledged(&control{Kind: kindReg, Match: match, Topic: string(procedure), Invoke: invoke}); err != nil {
		l.n.log.Warn("cluster: withdrawal of a refused registration not confirmed", "procedure", procedure, "error", err)
	}
}

// acknowledged sends a sequenced registration change and waits until every
// node alive at the time applied it, reporting whether one refused it.
func (l *link) acknowledged(c *control) (refused bool, err error) {
	n := l.n
	n.mu.Lock()
	n.realms[spec.URI(l.name)] = l
	n.seq++
	seq := n.seq
	w := &ackWaiter{expect: make(map[string]bool, len(n.peers)), done: make(chan struct{})}
	for tok := range n.peers {
		w.expect[tok] = true
	}
	if len(w.expect) == 0 {
		close(w.done)
	} else {
		n.waiters[seq] = w
	}
	c.Name, c.Token, c.Seq, c.Realm = n.opts.Name, n.token, seq, l.name
	err = n.nc.PublishRequest(n.subj.control, n.subj.ack, c.encode())
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.waiters, seq)
		n.mu.Unlock()
	}()
	if err != nil {
		return false, fmt.Errorf("cluster: registration change not sent: %w", err)
	}
	bound := max(n.opts.AckTimeout, n.opts.FailAfter+n.opts.HeartbeatInterval)
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-w.done:
	case <-t.C:
		return false, fmt.Errorf("cluster: some nodes did not answer a registration change within %s", bound)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return w.refused, nil
}

// AnnounceRegistration implements router.ClusterRPC.
func (l *link) AnnounceRegistration(r router.RemoteRegistration) {
	n := l.n
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seq++
	c := &control{Kind: kindReg, Name: n.opts.Name, Token: n.token, Seq: n.seq, Realm: l.name, Match: r.Match, Topic: string(r.Procedure), Invoke: r.Invoke,
		Callees: r.Callees, First: r.First, Last: r.Last}
	if err := n.nc.Publish(n.subj.control, c.encode()); err != nil {
		n.log.Warn("cluster: registration change not announced", "procedure", r.Procedure, "error", err)
	}
}

// registrationChange applies another node's proposal or registration
// change, and answers a proposal. Called on the control goroutine, under
// no lock.
func (n *Node) registrationChange(c *control, reply string) {
	n.mu.RLock()
	l := n.realms[spec.URI(c.Realm)]
	n.mu.RUnlock()
	if c.Kind == kindReg {
		if l != nil {
			l.realm.RemoteRegistrationChanged(c.Token, router.RemoteRegistration{Match: c.Match, Procedure: spec.URI(c.Topic), Invoke: c.Invoke, Callees: c.Callees, First: c.First, Last: c.Last})
		}
		if reply != "" {
			_ = n.nc.Publish(reply, (&control{Kind: kindAck, Name: n.opts.Name, Token: n.token, Seq: c.Seq}).encode())
		}
		return
	}
	ok := l == nil || l.realm.CheckRegistration(n.token, c.Token, c.Match, spec.URI(c.Topic), c.Invoke)
	if reply != "" {
		_ = n.nc.Publish(reply, (&control{Kind: kindAck, Name: n.opts.Name, Token: n.token, Seq: c.Seq, Refuse: !ok}).encode())
	}
}

// installRegistrations replaces a node's registrations from its snapshot.
func (n *Node) installRegistrations(token string, regs []snapReg) {
	n.mu.RLock()
	links := make([]*link, 0, len(n.realms))
	for _, l := range n.realms {
		links = append(links, l)
	}
	n.mu.RUnlock()
	for _, l := range links {
		var rs []router.RemoteRegistration
		for _, r := range regs {
			if r.Realm == l.name {
				rs = append(rs, router.RemoteRegistration{Match: r.Match, Procedure: spec.URI(r.Procedure), Invoke: r.Invoke, Callees: r.Callees, First: r.First, Last: r.Last})
			}
		}
		l.realm.SetRemoteRegistrations(token, rs)
	}
}

// nodeLost tells every realm that a node is gone: its registrations go,
// calls to it fail, its calls are interrupted. Called under no lock.
func (n *Node) nodeLost(token string) {
	n.mu.RLock()
	links := make([]*link, 0, len(n.realms))
	for _, l := range n.realms {
		links = append(links, l)
	}
	n.mu.RUnlock()
	for _, l := range links {
		l.realm.NodeLost(token)
	}
}

func withKeys(opts spec.Dict, extra int) spec.Dict {
	out := make(spec.Dict, len(opts)+extra)
	for k, v := range opts {
		out[k] = v
	}
	return out
}

func (l *link) sendRPC(node string, m spec.Message) {
	b, err := serializer.MessagePack.Encode(nil, m)
	if err != nil {
		l.n.log.Warn("cluster: RPC message not encodable for another node", "type", m.Type().String(), "error", err)
		return
	}
	if err := l.n.nc.Publish(l.n.subj.rpcOf(node), b); err != nil {
		l.n.log.Warn("cluster: RPC message not sent", "type", m.Type().String(), "error", err)
	}
}

// SendCall implements router.ClusterRPC.
func (l *link) SendCall(node string, c *router.RemoteCall) {
	opts := withKeys(c.Options, 5)
	opts[keyRealm] = l.name
	putRaw(opts, c.Raw)
	opts[keyFrom] = l.n.token
	opts[keyCaller] = []any{int64(c.Caller), c.AuthID, c.AuthRole, c.Disclose}
	proc := c.Procedure
	if c.Continue {
		opts[keyContinue] = true
		proc = continueProcedure
	}
	l.sendRPC(node, &spec.Call{Request: c.Key, Options: opts, Procedure: proc, Arguments: c.Arguments, ArgumentsKw: c.ArgumentsKw})
}

// SendReply implements router.ClusterRPC.
func (l *link) SendReply(node string, r *router.RemoteReply) {
	details := withKeys(r.Details, 2)
	details[keyRealm] = l.name
	putRaw(details, r.Raw)
	if r.Error == "" {
		l.sendRPC(node, &spec.Yield{Request: r.Key, Options: details, Arguments: r.Arguments, ArgumentsKw: r.ArgumentsKw})
		return
	}
	l.sendRPC(node, &spec.Error{RequestType: spec.TypeCall, Request: r.Key, Details: details, Error: r.Error, Arguments: r.Arguments, ArgumentsKw: r.ArgumentsKw})
}

// SendCancel implements router.ClusterRPC.
func (l *link) SendCancel(node string, key spec.ID, mode string) {
	l.sendRPC(node, &spec.Cancel{Request: key, Options: spec.Dict{"mode": mode, keyRealm: l.name, keyFrom: l.n.token}})
}

// rpcMessage is a decoded RPC message from another node; exactly one of
// call, reply and cancel is set.
type rpcMessage struct {
	realm, from string
	call        *router.RemoteCall
	reply       *router.RemoteReply
	cancelKey   spec.ID
	cancelMode  string
}

var errNoRealm = errors.New("cluster: RPC message without realm")

// decodeRPC decodes what SendCall, SendReply and SendCancel made, as
// untrusted input.
func decodeRPC(b []byte) (*rpcMessage, error) {
	m, err := serializer.MessagePack.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("cluster: RPC message: %w", err)
	}
	switch m := m.(type) {
	case *spec.Call:
		realm, _ := m.Options[keyRealm].(string)
		from, _ := m.Options[keyFrom].(string)
		who, _ := m.Options[keyCaller].([]any)
		if realm == "" || from == "" || len(who) != 4 {
			return nil, errors.New("cluster: forwarded CALL without realm, node or caller")
		}
		id, ok1 := spec.AsID(who[0])
		authID, ok2 := who[1].(string)
		authRole, ok3 := who[2].(string)
		disclose, ok4 := who[3].(bool)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return nil, errors.New("cluster: forwarded CALL with a malformed caller")
		}
		cont, _ := m.Options[keyContinue].(bool)
		if !cont && !spec.ValidURI(m.Procedure, spec.Loose, spec.MatchExact) {
			return nil, errors.New("cluster: forwarded CALL with an invalid procedure")
		}
		args, kwargs, raw, err := takeRaw(m.Options, m.Arguments, m.ArgumentsKw)
		if err != nil {
			return nil, fmt.Errorf("cluster: forwarded CALL: %w", err)
		}
		for _, k := range [...]string{keyRealm, keyFrom, keyCaller, keyContinue} {
			delete(m.Options, k)
		}
		return &rpcMessage{realm: realm, from: from, call: &router.RemoteCall{
			Key: m.Request, Procedure: m.Procedure, Options: m.Options, Arguments: args, ArgumentsKw: kwargs, Raw: raw,
			Disclose: disclose, Caller: id, AuthID: authID, AuthRole: authRole, Continue: cont,
		}}, nil
	case *spec.Yield:
		realm, _ := m.Options[keyRealm].(string)
		if realm == "" {
			return nil, errNoRealm
		}
		args, kwargs, raw, err := takeRaw(m.Options, m.Arguments, m.ArgumentsKw)
		if err != nil {
			return nil, fmt.Errorf("cluster: forwarded YIELD: %w", err)
		}
		delete(m.Options, keyRealm)
		return &rpcMessage{realm: realm, reply: &router.RemoteReply{Key: m.Request, Details: m.Options, Arguments: args, ArgumentsKw: kwargs, Raw: raw}}, nil
	case *spec.Error:
		realm, _ := m.Details[keyRealm].(string)
		if realm == "" {
			return nil, errNoRealm
		}
		if !spec.ValidURI(m.Error, spec.Loose, spec.MatchExact) {
			return nil, errors.New("cluster: forwarded ERROR with an invalid error URI")
		}
		args, kwargs, raw, err := takeRaw(m.Details, m.Arguments, m.ArgumentsKw)
		if err != nil {
			return nil, fmt.Errorf("cluster: forwarded ERROR: %w", err)
		}
		delete(m.Details, keyRealm)
		return &rpcMessage{realm: realm, reply: &router.RemoteReply{Key: m.Request, Error: m.Error, Details: m.Details, Arguments: args, ArgumentsKw: kwargs, Raw: raw}}, nil
	case *spec.Cancel:
		realm, _ := m.Options[keyRealm].(string)
		from, _ := m.Options[keyFrom].(string)
		mode, _ := m.Options["mode"].(string)
		if realm == "" || from == "" {
			return nil, errors.New("cluster: forwarded CANCEL without realm or node")
		}
		return &rpcMessage{realm: realm, from: from, cancelKey: m.Request, cancelMode: mode}, nil
	}
	return nil, fmt.Errorf("cluster: RPC message is a %s", m.Type())
}

// onRPC handles a call, result or cancel from another node.
func (n *Node) onRPC(m *nats.Msg) {
	rm, err := decodeRPC(m.Data)
	if err != nil {
		n.log.Warn("cluster: malformed RPC message dropped", "error", err)
		return
	}
	n.mu.RLock()
	l := n.realms[spec.URI(rm.realm)]
	n.mu.RUnlock()
	switch {
	case rm.call != nil:
		if l == nil {
			l = &link{n: n, name: rm.realm}
			l.SendReply(rm.from, &router.RemoteReply{Key: rm.call.Key, Error: spec.ErrNoSuchRealm, Details: spec.Dict{}})
			return
		}
		l.realm.HandleRemoteCall(rm.from, rm.call)
	case l == nil:
	case rm.reply != nil:
		l.realm.HandleRemoteReply(rm.reply)
	default:
		l.realm.HandleRemoteCancel(rm.from, rm.cancelKey, rm.cancelMode)
	}
}
