package router

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// The router's own calls into a realm: dynamic authenticators and
// authorizers are WAMP procedures registered by trusted backend sessions.
// The router calls them through an internal session whose "transport" hands
// answers straight back to the waiting caller, so the dealer's ordinary
// routing, timeouts and cancellation apply unchanged.

// CallError is a WAMP ERROR returned by a procedure the router called.
type CallError struct {
	URI         spec.URI
	Arguments   spec.List
	ArgumentsKw spec.Dict
}

func (e *CallError) Error() string { return "router: call failed: " + string(e.URI) }

var _ auth.Caller = (*Realm)(nil)

// Call calls procedure in the realm on the router's behalf and waits for
// the result, bounded by ctx (on expiry the call is canceled).
func (realm *Realm) Call(ctx context.Context, procedure spec.URI, args spec.List, kwargs spec.Dict) (spec.List, spec.Dict, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, internalCallTimeout)
		defer cancel()
	}
	s, peer := realm.internalSession()
	req := spec.ID(peer.next.Add(1))
	ch := make(chan spec.Message, 1)
	peer.mu.Lock()
	peer.waiting[req] = ch
	peer.mu.Unlock()
	defer func() {
		peer.mu.Lock()
		delete(peer.waiting, req)
		peer.mu.Unlock()
	}()
	realm.dealer.call(s, &spec.Call{Request: req, Options: spec.Dict{}, Procedure: procedure, Arguments: args, ArgumentsKw: kwargs})
	select {
	case m := <-ch:
		switch m := m.(type) {
		case *spec.Result:
			return m.Arguments, m.ArgumentsKw, nil
		case *spec.Error:
			return nil, nil, &CallError{URI: m.Error, Arguments: m.Arguments, ArgumentsKw: m.ArgumentsKw}
		}
		return nil, nil, fmt.Errorf("router: unexpected %s answering an internal call", m.Type())
	case <-ctx.Done():
		realm.dealer.cancel(s, &spec.Cancel{Request: req, Options: spec.Dict{"mode": "killnowait"}})
		return nil, nil, fmt.Errorf("router: call %s: %w", procedure, ctx.Err())
	}
}

// internalSession returns the realm's internal caller session, created on
// first use. It is not a member of the realm: the meta API does not list it.
func (realm *Realm) internalSession() (*session, *internalPeer) {
	realm.internalOnce.Do(func() {
		peer := &internalPeer{waiting: make(map[spec.ID]chan spec.Message), done: make(chan struct{})}
		c := &conn{router: realm.router, peer: peer}
		hello := &spec.Hello{Realm: realm.name, Details: spec.Dict{"roles": spec.Dict{spec.RoleCaller: spec.Dict{}}}}
		realm.internal = newSession(c, realm, hello.Details["roles"].(map[string]any),
			auth.Identity{AuthID: "switchyard", AuthRole: "switchyard", AuthMethod: "internal", AuthProvider: "switchyard"}, spec.GlobalID())
		realm.internal.trusted = true
		realm.internalPeer = peer
	})
	return realm.internal, realm.internalPeer
}

// internalPeer is the internal session's transport: frames the dealer
// sends it are decoded and handed to the call waiting for them.
type internalPeer struct {
	next    atomic.Uint64
	mu      sync.Mutex
	waiting map[spec.ID]chan spec.Message
	done    chan struct{}
}

func (p *internalPeer) Serializer() serializer.Serializer { return serializer.MessagePack }

func (p *internalPeer) Recv(ctx context.Context) (spec.Message, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (p *internalPeer) Send(frame []byte) error {
	m, err := serializer.MessagePack.Decode(frame)
	if err != nil {
		return err
	}
	var req spec.ID
	switch m := m.(type) {
	case *spec.Result:
		if optBool(m.Details, spec.OptProgress, false) {
			return nil
		}
		req = m.Request
	case *spec.Error:
		req = m.Request
	default:
		return nil
	}
	p.mu.Lock()
	ch := p.waiting[req]
	p.mu.Unlock()
	if ch != nil {
		select {
		case ch <- m:
		default:
		}
	}
	return nil
}

func (p *internalPeer) Close(string) error    { return nil }
func (p *internalPeer) Done() <-chan struct{} { return p.done }
func (p *internalPeer) Info() transport.Info {
	return transport.Info{Transport: "internal", RemoteAddr: "switchyard"}
}
