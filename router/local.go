package router

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// LocalSession is a session of a realm held by code in this process instead
// of a client connection: the HTTP bridge publishes, calls and subscribes
// through one on behalf of a principal it authenticated itself. Its requests
// take the ordinary routes, so the realm's authorization applies to its
// role, the dealer's timeouts and cancellation apply to its calls, and its
// identity is disclosed to callees and subscribers exactly as a connected
// session's would be (when the role or the request asks for it).
//
// Like the router's internal caller it is not a member of the realm: the
// session meta API does not list it, and it has no meta events of its own
// joining or leaving. It is safe for concurrent use; Close ends it.
type LocalSession struct {
	s    *session
	peer *localPeer
}

// ErrLocalSessionClosed is returned by the methods of a closed LocalSession.
var ErrLocalSessionClosed = errors.New("router: local session closed")

// LocalSessionOptions says whom a local session acts for.
type LocalSessionOptions struct {
	// Identity is the principal: its AuthRole must be one of the realm's
	// unless Trusted. AuthMethod defaults to "http".
	Identity auth.Identity
	// Trusted skips authorization, as for the router's own sessions: for
	// what the operator configured (webhooks), not for what a request asks.
	Trusted bool
}

// OpenLocalSession opens a local session of the realm.
func (realm *Realm) OpenLocalSession(o LocalSessionOptions) (*LocalSession, error) {
	id := o.Identity
	if !o.Trusted && !realm.auth.Load().cfg.HasRole(id.AuthRole) {
		return nil, fmt.Errorf("router: realm %s has no role %q", realm.name, id.AuthRole)
	}
	peer := &localPeer{
		waiting: make(map[spec.ID]chan spec.Message),
		events:  make(map[spec.ID]func(*spec.Event)),
		done:    make(chan struct{}),

		pendingHandler: make(map[spec.ID]func(*spec.Event)),
	}
	c := &conn{router: realm.router, peer: peer}
	roles := spec.Dict{
		spec.RoleCaller:     spec.Dict{},
		spec.RolePublisher:  spec.Dict{},
		spec.RoleSubscriber: spec.Dict{},
	}
	if id.AuthMethod == "" {
		id.AuthMethod = "http"
	}
	if id.AuthProvider == "" {
		id.AuthProvider = "switchyard"
	}
	s := newSession(c, realm, roles, id, spec.GlobalID())
	s.trusted = o.Trusted
	return &LocalSession{s: s, peer: peer}, nil
}

// ID returns the session's ID, which callees and subscribers see when its
// identity is disclosed.
func (ls *LocalSession) ID() spec.ID { return ls.s.id }

// Close ends the session: its subscriptions are removed and its calls in
// flight are canceled. It is idempotent.
func (ls *LocalSession) Close() {
	ls.peer.closeOnce.Do(func() {
		close(ls.peer.done)
		realm := ls.s.realm
		ls.s.mu.Lock()
		ls.s.left = true
		ls.s.mu.Unlock()
		realm.emit(realm.broker.removeSession(ls.s))
		realm.emit(realm.dealer.removeSession(ls.s))
	})
}

// request registers a waiter for a new request ID and returns both; the
// caller must call ls.peer.forget(req) when done.
func (ls *LocalSession) request() (spec.ID, chan spec.Message, error) {
	select {
	case <-ls.peer.done:
		return 0, nil, ErrLocalSessionClosed
	default:
	}
	req := spec.ID(ls.peer.next.Add(1))
	ch := make(chan spec.Message, 1)
	ls.peer.mu.Lock()
	ls.peer.waiting[req] = ch
	ls.peer.mu.Unlock()
	return req, ch, nil
}

// route runs fn under the realm's route lock, as a connected session's
// reader does, so a shutdown sees it either before or after.
func (ls *LocalSession) route(fn func()) {
	ls.s.realm.routeMu.RLock()
	defer ls.s.realm.routeMu.RUnlock()
	fn()
}

// refuseOptions rejects the request options a local session cannot honour:
// it announces neither progressive call invocations nor payload passthru.
func refuseOptions(opts spec.Dict) error {
	for k := range opts {
		if k == spec.OptProgress || strings.HasPrefix(k, "ppt_") {
			return &CallError{URI: spec.ErrInvalidArgument, Arguments: spec.List{"option " + k + " is not supported here"}}
		}
	}
	return nil
}

// Publish publishes to topic, acknowledged, and returns the publication ID.
// A refusal (not authorized, invalid URI) is a *CallError.
func (ls *LocalSession) Publish(ctx context.Context, topic spec.URI, args spec.List, kwargs spec.Dict, opts spec.Dict) (spec.ID, error) {
	if err := refuseOptions(opts); err != nil {
		return 0, err
	}
	req, ch, err := ls.request()
	if err != nil {
		return 0, err
	}
	defer ls.peer.forget(req)
	o := make(spec.Dict, len(opts)+1)
	for k, v := range opts {
		o[k] = v
	}
	o[spec.OptAcknowledge] = true
	m := &spec.Publish{Request: req, Options: o, Topic: topic, Arguments: args, ArgumentsKw: kwargs}
	if err := spec.Validate(m); err != nil {
		return 0, &CallError{URI: spec.ErrInvalidArgument, Arguments: spec.List{err.Error()}}
	}
	ls.route(func() { ls.s.realm.broker.publish(ls.s, m) })
	select {
	case a := <-ch:
		switch a := a.(type) {
		case *spec.Published:
			return a.Publication, nil
		case *spec.Error:
			return 0, &CallError{URI: a.Error, Arguments: a.Arguments, ArgumentsKw: a.ArgumentsKw}
		}
		return 0, fmt.Errorf("router: unexpected %s answering a publication", a.Type())
	case <-ctx.Done():
		return 0, fmt.Errorf("router: publish %s: %w", topic, ctx.Err())
	}
}

// Call calls procedure and waits for its result, bounded by ctx: when ctx
// ends first, the call is canceled (mode killnowait) and ctx's error is
// returned. A WAMP ERROR answer is a *CallError.
func (ls *LocalSession) Call(ctx context.Context, procedure spec.URI, args spec.List, kwargs spec.Dict, opts spec.Dict) (spec.List, spec.Dict, error) {
	if err := refuseOptions(opts); err != nil {
		return nil, nil, err
	}
	req, ch, err := ls.request()
	if err != nil {
		return nil, nil, err
	}
	defer ls.peer.forget(req)
	if opts == nil {
		opts = spec.Dict{}
	}
	m := &spec.Call{Request: req, Options: opts, Procedure: procedure, Arguments: args, ArgumentsKw: kwargs}
	if err := spec.Validate(m); err != nil {
		return nil, nil, &CallError{URI: spec.ErrInvalidArgument, Arguments: spec.List{err.Error()}}
	}
	ls.route(func() { ls.s.realm.dealer.call(ls.s, m) })
	select {
	case a := <-ch:
		switch a := a.(type) {
		case *spec.Result:
			return a.Arguments, a.ArgumentsKw, nil
		case *spec.Error:
			return nil, nil, &CallError{URI: a.Error, Arguments: a.Arguments, ArgumentsKw: a.ArgumentsKw}
		}
		return nil, nil, fmt.Errorf("router: unexpected %s answering a call", a.Type())
	case <-ctx.Done():
		ls.route(func() {
			ls.s.realm.dealer.cancel(ls.s, &spec.Cancel{Request: req, Options: spec.Dict{"mode": "killnowait"}})
		})
		return nil, nil, fmt.Errorf("router: call %s: %w", procedure, ctx.Err())
	}
}

// Subscribe subscribes to topic with the match policy in opts ("match") and
// returns the subscription ID. handler receives every event; it runs on the
// publisher's goroutine with the broker's read lock held, so it must return
// at once and never call back into the session (hand the event to a queue).
func (ls *LocalSession) Subscribe(ctx context.Context, topic spec.URI, opts spec.Dict, handler func(*spec.Event)) (spec.ID, error) {
	req, ch, err := ls.request()
	if err != nil {
		return 0, err
	}
	defer ls.peer.forget(req)
	if opts == nil {
		opts = spec.Dict{}
	}
	// The handler is installed under the subscription ID while the
	// SUBSCRIBED is decoded (the broker queues it under its lock, before
	// any event of the subscription), so no event can be missed.
	ls.peer.mu.Lock()
	ls.peer.pendingHandler[req] = handler
	ls.peer.mu.Unlock()
	m := &spec.Subscribe{Request: req, Options: opts, Topic: topic}
	if err := spec.Validate(m); err != nil {
		return 0, &CallError{URI: spec.ErrInvalidArgument, Arguments: spec.List{err.Error()}}
	}
	ls.route(func() { ls.s.realm.broker.subscribe(ls.s, m) })
	select {
	case a := <-ch:
		switch a := a.(type) {
		case *spec.Subscribed:
			return a.Subscription, nil
		case *spec.Error:
			return 0, &CallError{URI: a.Error, Arguments: a.Arguments, ArgumentsKw: a.ArgumentsKw}
		}
		return 0, fmt.Errorf("router: unexpected %s answering a subscription", a.Type())
	case <-ctx.Done():
		return 0, fmt.Errorf("router: subscribe %s: %w", topic, ctx.Err())
	}
}

// localPeer is a local session's transport: the frames the router queues
// to it are decoded and handed to the request waiting for them, or, for
// events, to the subscription's handler.
type localPeer struct {
	next           atomic.Uint64
	mu             sync.Mutex
	waiting        map[spec.ID]chan spec.Message
	pendingHandler map[spec.ID]func(*spec.Event) // by SUBSCRIBE request
	events         map[spec.ID]func(*spec.Event) // by subscription
	done           chan struct{}
	closeOnce      sync.Once
}

func (p *localPeer) forget(req spec.ID) {
	p.mu.Lock()
	delete(p.waiting, req)
	delete(p.pendingHandler, req)
	p.mu.Unlock()
}

func (p *localPeer) Serializer() serializer.Serializer { return serializer.MessagePack }

func (p *localPeer) Recv(ctx context.Context) (spec.Message, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (p *localPeer) Send(frame []byte) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	m, err := serializer.MessagePack.Decode(frame)
	if err != nil {
		return err
	}
	var req spec.ID
	switch m := m.(type) {
	case *spec.Event:
		p.mu.Lock()
		h := p.events[m.Subscription]
		p.mu.Unlock()
		if h != nil {
			h(m)
		}
		return nil
	case *spec.Result:
		if optBool(m.Details, spec.OptProgress, false) {
			return nil
		}
		req = m.Request
	case *spec.Error:
		req = m.Request
	case *spec.Published:
		req = m.Request
	case *spec.Subscribed:
		req = m.Request
		p.mu.Lock()
		if h := p.pendingHandler[req]; h != nil {
			p.events[m.Subscription] = h
		}
		p.mu.Unlock()
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

func (p *localPeer) Close(string) error    { return nil }
func (p *localPeer) Done() <-chan struct{} { return p.done }
func (p *localPeer) Info() transport.Info {
	return transport.Info{Transport: "http", RemoteAddr: "switchyard-bridge"}
}
