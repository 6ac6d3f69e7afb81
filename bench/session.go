package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// helloRoles announces every client role without features: the generator
// uses none, and a router must not spend work on what was not asked for.
var helloRoles = spec.Dict{
	spec.RoleCaller:     spec.Dict{},
	spec.RoleCallee:     spec.Dict{},
	spec.RolePublisher:  spec.Dict{},
	spec.RoleSubscriber: spec.Dict{},
}

// emptyDict is shared, read-only, by every message the generator encodes
// with empty options; encoders only read it.
var emptyDict = spec.Dict{}

// session is one WAMP session of the generator, driven message by message
// on a transport peer. Until its scenario starts a reader, setup calls
// (register, subscribe) read answers themselves; afterwards exactly one
// goroutine reads. Request IDs are drawn by the one goroutine that sends
// requests.
type session struct {
	peer transport.Peer
	ser  serializer.Serializer
	id   spec.ID
	req  spec.ID
	// leaving is set once we said GOODBYE: the reader then takes the
	// router's GOODBYE as the end, not as a disconnection.
	leaving atomic.Bool
}

// join dials and opens a session in realm.
func (d *dialer) join(ctx context.Context, realm string) (*session, error) {
	p, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	s := &session{peer: p, ser: p.Serializer()}
	if err := s.send(&spec.Hello{Realm: spec.URI(realm), Details: spec.Dict{"roles": helloRoles, "agent": "switchyard-bench"}}); err != nil {
		p.Close("join failed")
		return nil, fmt.Errorf("bench: send HELLO: %w", err)
	}
	m, err := p.Recv(ctx)
	if err != nil {
		p.Close("join failed")
		return nil, fmt.Errorf("bench: join %s: %w", realm, err)
	}
	switch m := m.(type) {
	case *spec.Welcome:
		s.id = m.Session
		return s, nil
	case *spec.Abort:
		p.Close("join failed")
		return nil, fmt.Errorf("bench: join %s: router refused: %s", realm, m.Reason)
	}
	p.Close("join failed")
	return nil, fmt.Errorf("bench: join %s: unexpected %s (anonymous access is needed)", realm, m.Type())
}

// send encodes m and queues it.
func (s *session) send(m spec.Message) error {
	frame, err := s.ser.Encode(make([]byte, 0, 128), m)
	if err != nil {
		return fmt.Errorf("bench: encode %s: %w", m.Type(), err)
	}
	return s.peer.Send(frame)
}

func (s *session) nextRequest() spec.ID {
	s.req++
	return s.req
}

// await reads until the answer to request req arrives (setup only: no
// other reader may run).
func (s *session) await(ctx context.Context, req spec.ID) (spec.Message, error) {
	for {
		m, err := s.peer.Recv(ctx)
		if err != nil {
			return nil, err
		}
		switch m := m.(type) {
		case *spec.Registered:
			if m.Request == req {
				return m, nil
			}
		case *spec.Subscribed:
			if m.Request == req {
				return m, nil
			}
		case *spec.Error:
			if m.Request == req {
				return nil, fmt.Errorf("router answered %s", m.Error)
			}
		case *spec.Goodbye, *spec.Abort:
			return nil, fmt.Errorf("session closed by the router (%s)", m.Type())
		}
	}
}

func (s *session) register(ctx context.Context, procedure string, opts spec.Dict) error {
	req := s.nextRequest()
	if err := s.send(&spec.Register{Request: req, Options: opts, Procedure: spec.URI(procedure)}); err != nil {
		return fmt.Errorf("bench: register %s: %w", procedure, err)
	}
	if _, err := s.await(ctx, req); err != nil {
		return fmt.Errorf("bench: register %s: %w", procedure, err)
	}
	return nil
}

func (s *session) subscribe(ctx context.Context, topic string) error {
	req := s.nextRequest()
	if err := s.send(&spec.Subscribe{Request: req, Options: emptyDict, Topic: spec.URI(topic)}); err != nil {
		return fmt.Errorf("bench: subscribe %s: %w", topic, err)
	}
	if _, err := s.await(ctx, req); err != nil {
		return fmt.Errorf("bench: subscribe %s: %w", topic, err)
	}
	return nil
}

// goodbye says GOODBYE without waiting for the answer; the session's reader
// (if any) ends when the router's GOODBYE arrives.
func (s *session) goodbye() {
	if s.leaving.CompareAndSwap(false, true) {
		_ = s.send(&spec.Goodbye{Details: emptyDict, Reason: spec.CloseNormal})
	}
}

// answerGoodbye handles a GOODBYE received by a reader: the echo of ours,
// or the router closing the session, which must be answered. It reports
// whether the router closed a session we meant to keep.
func (s *session) answerGoodbye() (unexpected bool) {
	if s.leaving.CompareAndSwap(false, true) {
		_ = s.send(&spec.Goodbye{Details: emptyDict, Reason: spec.CloseGoodbyeAndOut})
		return true
	}
	return false
}

// pool is the set of sessions a scenario opened: it closes them all on
// every path, so that no connection (and no transport goroutine) outlives
// the scenario.
type pool struct {
	mu       sync.Mutex // Protects sessions.
	sessions []*session
}

func (p *pool) add(s *session) {
	p.mu.Lock()
	p.sessions = append(p.sessions, s)
	p.mu.Unlock()
}

func (p *pool) all() []*session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*session(nil), p.sessions...)
}

// closeAll says GOODBYE on every session, waits (up to grace) for readers
// to see the answer (readers is their WaitGroup, or nil), then closes every
// transport and waits for each to finish, within ctx.
func (p *pool) closeAll(ctx context.Context, readers *sync.WaitGroup, grace time.Duration) {
	all := p.all()
	for _, s := range all {
		s.goodbye()
	}
	if readers != nil {
		waitTimeout(ctx, readers, grace)
	}
	for _, s := range all {
		s.peer.Close("bench over")
	}
	for _, s := range all {
		select {
		case <-s.peer.Done():
		case <-ctx.Done():
			return
		}
	}
}

// waitTimeout waits for wg, at most d or until ctx ends. The goroutine it
// starts for the wait ends with wg; callers go on to close what wg waits
// for, so it cannot outlive them for long.
func waitTimeout(ctx context.Context, wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}
