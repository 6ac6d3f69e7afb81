package router_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/internal/leakcheck"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// TestMain fails the package if goroutines outlive the tests.
func TestMain(m *testing.M) { leakcheck.Main(m) }

func quietLogger() *slog.Logger {
	if os.Getenv("SWITCHYARD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testRouter is a router with realm "realm1" whose sessions run over
// in-process pipes, stopped at the end of the test.
type testRouter struct {
	t      *testing.T
	r      *router.Router
	ctx    context.Context
	cancel context.CancelFunc
	served chan struct{}
	n      int
}

func newTestRouter(t *testing.T, opts router.Options) *testRouter {
	t.Helper()
	if opts.Realms == nil {
		opts.Realms = []router.RealmConfig{{Name: "realm1"}}
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	if opts.GoodbyeTimeout == 0 {
		opts.GoodbyeTimeout = 500 * time.Millisecond
	}
	r, err := router.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tr := &testRouter{t: t, r: r, ctx: ctx, cancel: cancel, served: make(chan struct{}, 1024)}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer scancel()
		if err := r.Shutdown(sctx); err != nil {
			t.Errorf("router shutdown: %v", err)
		}
		cancel()
		for i := 0; i < tr.n; i++ {
			select {
			case <-tr.served:
			case <-time.After(5 * time.Second):
				t.Errorf("ServePeer did not return after shutdown")
				return
			}
		}
	})
	return tr
}

// pipe returns the client end of a new connection served by the router.
func (tr *testRouter) pipe(ser serializer.Serializer) transport.Peer {
	return tr.pipeWith(ser, transport.Options{})
}

func (tr *testRouter) pipeWith(ser serializer.Serializer, opts transport.Options) transport.Peer {
	clientEnd, serverEnd := transport.Pipe(ser, opts)
	tr.n++
	go func() {
		tr.r.ServePeer(tr.ctx, serverEnd)
		tr.served <- struct{}{}
	}()
	tr.t.Cleanup(func() { clientEnd.Close("test over") })
	return clientEnd
}

// join opens a client session with the given serializer.
func (tr *testRouter) join(ser serializer.Serializer) *client.Client {
	tr.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Join(ctx, tr.pipe(ser), client.Config{Realm: "realm1"})
	if err != nil {
		tr.t.Fatalf("join: %v", err)
	}
	tr.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

// raw drives a connection message by message, for protocol-level tests.
type raw struct {
	t    *testing.T
	peer transport.Peer
}

func (tr *testRouter) raw(ser serializer.Serializer) *raw {
	return &raw{t: tr.t, peer: tr.pipe(ser)}
}

func (r *raw) send(m spec.Message) {
	r.t.Helper()
	frame, err := r.peer.Serializer().Encode(nil, m)
	if err != nil {
		r.t.Fatalf("encode %s: %v", m.Type(), err)
	}
	if err := r.peer.Send(frame); err != nil {
		r.t.Fatalf("send %s: %v", m.Type(), err)
	}
}

func (r *raw) recv() spec.Message {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := r.peer.Recv(ctx)
	if err != nil {
		r.t.Fatalf("recv: %v", err)
	}
	return m
}

// expectClosed waits for the router to close the connection.
func (r *raw) expectClosed() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		m, err := r.peer.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				r.t.Fatal("the router did not close the connection")
			}
			return
		}
		r.t.Logf("after close expected, got %s", m.Type())
	}
}

var helloRoles = spec.Dict{
	"caller":     spec.Dict{"features": spec.Dict{"progressive_call_results": true, "call_canceling": true}},
	"callee":     spec.Dict{"features": spec.Dict{"progressive_call_results": true, "call_canceling": true}},
	"publisher":  spec.Dict{},
	"subscriber": spec.Dict{},
}

func (r *raw) hello(realm string) *spec.Welcome {
	r.t.Helper()
	r.send(&spec.Hello{Realm: spec.URI(realm), Details: spec.Dict{"roles": helloRoles}})
	m := r.recv()
	w, ok := m.(*spec.Welcome)
	if !ok {
		r.t.Fatalf("HELLO answered with %#v, want WELCOME", m)
	}
	return w
}

func expectAbort(t *testing.T, m spec.Message, reason spec.URI) {
	t.Helper()
	a, ok := m.(*spec.Abort)
	if !ok {
		t.Fatalf("got %#v, want ABORT %s", m, reason)
	}
	if a.Reason != reason {
		t.Fatalf("ABORT reason %s, want %s (details %v)", a.Reason, reason, a.Details)
	}
}

func expectError(t *testing.T, m spec.Message, reqType spec.MessageType, req spec.ID, uri spec.URI) *spec.Error {
	t.Helper()
	e, ok := m.(*spec.Error)
	if !ok {
		t.Fatalf("got %#v, want ERROR %s", m, uri)
	}
	if e.RequestType != reqType || e.Request != req || e.Error != uri {
		t.Fatalf("got ERROR(%s, %d, %s), want ERROR(%s, %d, %s)", e.RequestType, e.Request, e.Error, reqType, req, uri)
	}
	return e
}

func wampErrorURI(err error) spec.URI {
	var we *client.Error
	if errors.As(err, &we) {
		return we.URI
	}
	return ""
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}
