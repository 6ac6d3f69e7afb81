package client_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// pipeRouter is an in-process router that the test can cut clients off
// from, and refuse to let them back in, at will.
type pipeRouter struct {
	t  *testing.T
	r  *router.Router
	wg sync.WaitGroup

	mu      sync.Mutex
	open    bool             // dials succeed
	servers []transport.Peer // router ends of the pipes handed out
	dials   int
}

func newPipeRouter(t *testing.T) *pipeRouter {
	r, err := router.New(router.Options{Realms: []router.RealmConfig{{Name: "realm1"}}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	pr := &pipeRouter{t: t, r: r, open: true}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.Shutdown(ctx)
		pr.cut()
		pr.wg.Wait()
	})
	return pr
}

func (pr *pipeRouter) dial(ctx context.Context) (transport.Peer, error) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.dials++
	if !pr.open {
		return nil, errors.New("connection refused (test)")
	}
	ser, _ := serializer.ByName("msgpack")
	c, s := transport.Pipe(ser, transport.Options{})
	pr.servers = append(pr.servers, s)
	pr.wg.Add(1)
	go func() {
		defer pr.wg.Done()
		pr.r.ServePeer(context.Background(), s)
	}()
	return c, nil
}

// cut closes every connection the router has, as a crash would.
func (pr *pipeRouter) cut() {
	pr.mu.Lock()
	servers := pr.servers
	pr.servers = nil
	pr.mu.Unlock()
	for _, s := range servers {
		s.Close("cut by test")
	}
}

// cutFrom closes the server ends of the connections dialed after the
// first n, leaving the older ones up.
func (pr *pipeRouter) cutFrom(n int) {
	pr.mu.Lock()
	servers := pr.servers[n:]
	pr.servers = pr.servers[:n:n]
	pr.mu.Unlock()
	for _, s := range servers {
		s.Close("cut by test")
	}
}

func (pr *pipeRouter) setOpen(open bool) {
	pr.mu.Lock()
	pr.open = open
	pr.mu.Unlock()
}

func (pr *pipeRouter) plainClient(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.Connect(context.Background(), "", client.Config{Dial: pr.dial})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// states records OnStateChange calls.
type states struct {
	mu  sync.Mutex
	all []client.State
	ch  chan client.State
}

func newStates() *states { return &states{ch: make(chan client.State, 64)} }

func (s *states) record(st client.State, _ error) {
	s.mu.Lock()
	s.all = append(s.all, st)
	s.mu.Unlock()
	s.ch <- st
}

func (s *states) await(t *testing.T, want client.State) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case st := <-s.ch:
			if st == want {
				return
			}
		case <-deadline:
			t.Fatalf("state %v never came; saw %v", want, s.all)
		}
	}
}

func TestReconnectReestablishesRegistrationsAndSubscriptions(t *testing.T) {
	pr := newPipeRouter(t)
	st := newStates()
	svc, err := client.Connect(context.Background(), "", client.Config{
		Dial:          pr.dial,
		Reconnect:     &client.Reconnect{InitialDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
		OnStateChange: st.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	st.await(t, client.StateConnected)
	events := make(chan string, 16)
	regID, err := svc.Register(context.Background(), "com.example.add", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		a, _ := spec.AsInt(inv.Arguments[0])
		b, _ := spec.AsInt(inv.Arguments[1])
		return &client.Result{Arguments: spec.List{a + b}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	subID, err := svc.Subscribe(context.Background(), "com.example.news", func(e *client.Event) {
		s, _ := e.Arguments[0].(string)
		events <- s
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := svc.ID()

	// The router goes away and stays away for a while.
	pr.setOpen(false)
	pr.cut()
	st.await(t, client.StateDisconnected)
	if _, err := svc.Call(context.Background(), "com.example.add", spec.List{1, 2}, nil, nil); !errors.Is(err, client.ErrDisconnected) {
		t.Fatalf("call while down: %v, want ErrDisconnected", err)
	}
	if err := svc.Publish(context.Background(), "com.example.news", spec.List{"x"}, nil, nil); !errors.Is(err, client.ErrDisconnected) {
		t.Fatalf("publish while down: %v, want ErrDisconnected", err)
	}
	time.Sleep(100 * time.Millisecond) // several attempts fail
	pr.mu.Lock()
	failed := pr.dials
	pr.mu.Unlock()
	if failed < 2 {
		t.Fatalf("only %d dials while the router was down", failed)
	}
	pr.setOpen(true)
	st.await(t, client.StateConnected)
	if svc.ID() == first {
		t.Fatal("the session ID did not change: no new session")
	}

	// Another client calls the procedure and publishes to the topic: the
	// service answers and receives, on its new session.
	other := pr.plainClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := other.Call(ctx, "com.example.add", spec.List{3, 4}, nil, nil)
	if err != nil {
		t.Fatalf("call after reconnect: %v", err)
	}
	if n, _ := spec.AsInt(res.Arguments[0]); n != 7 {
		t.Fatalf("result %v", res.Arguments)
	}
	if err := other.Publish(ctx, "com.example.news", spec.List{"back"}, nil, spec.Dict{"acknowledge": true}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-events:
		if e != "back" {
			t.Fatalf("event %q", e)
		}
	case <-ctx.Done():
		t.Fatal("no event after reconnect")
	}

	// The IDs Register and Subscribe returned still work.
	if err := svc.Unsubscribe(ctx, subID); err != nil {
		t.Fatalf("unsubscribe by the original ID: %v", err)
	}
	if err := svc.Unregister(ctx, regID); err != nil {
		t.Fatalf("unregister by the original ID: %v", err)
	}
	if _, err := other.Call(ctx, "com.example.add", spec.List{1, 1}, nil, nil); err == nil {
		t.Fatal("the procedure is still registered")
	}
	if err := svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st.await(t, client.StateClosed)
	select {
	case <-svc.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
}

func TestReconnectCallInFlightFailsWithErrDisconnected(t *testing.T) {
	pr := newPipeRouter(t)
	callee := pr.plainClient(t)
	release := make(chan struct{})
	defer close(release)
	if _, err := callee.Register(context.Background(), "com.example.slow", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return &client.Result{}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	pr.mu.Lock()
	calleeConns := len(pr.servers)
	pr.mu.Unlock()
	st := newStates()
	caller, err := client.Connect(context.Background(), "", client.Config{
		Dial:          pr.dial,
		Reconnect:     &client.Reconnect{InitialDelay: 10 * time.Millisecond},
		OnStateChange: st.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close(context.Background())
	errs := make(chan error, 1)
	go func() {
		_, err := caller.Call(context.Background(), "com.example.slow", nil, nil, nil)
		errs <- err
	}()
	time.Sleep(50 * time.Millisecond) // the call reaches the callee
	// Only the caller's connection drops: were the callee's cut too, the
	// router could answer the call with "the callee left" first.
	pr.cutFrom(calleeConns)
	select {
	case err := <-errs:
		if !errors.Is(err, client.ErrDisconnected) {
			t.Fatalf("call in flight: %v, want ErrDisconnected", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the call in flight never failed")
	}
}

func TestReconnectGivesUpAfterMaxAttempts(t *testing.T) {
	pr := newPipeRouter(t)
	st := newStates()
	c, err := client.Connect(context.Background(), "", client.Config{
		Dial:          pr.dial,
		Reconnect:     &client.Reconnect{InitialDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, MaxAttempts: 3},
		OnStateChange: st.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	pr.setOpen(false)
	pr.cut()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the client never gave up")
	}
	st.await(t, client.StateClosed)
	if _, err := c.Call(context.Background(), "x.y", nil, nil, nil); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("call after giving up: %v, want ErrClosed", err)
	}
	if pr.dials != 1+3 {
		t.Fatalf("%d dials, want the first and 3 attempts", pr.dials)
	}
	c.Close(context.Background())
}

func TestCloseStopsReconnecting(t *testing.T) {
	pr := newPipeRouter(t)
	c, err := client.Connect(context.Background(), "", client.Config{Dial: pr.dial, Reconnect: &client.Reconnect{InitialDelay: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	pr.cut()
	time.Sleep(20 * time.Millisecond)
	done := make(chan struct{})
	go func() { c.Close(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked while the client waited to redial")
	}
}

func TestReconnectRestoresSharedSubscriptionsAndDropsRefusedRegistrations(t *testing.T) {
	pr := newPipeRouter(t)
	var svcOpen sync.Mutex // held while the service may not reconnect
	dial := func(ctx context.Context) (transport.Peer, error) {
		if !svcOpen.TryLock() {
			return nil, errors.New("held back (test)")
		}
		svcOpen.Unlock()
		return pr.dial(ctx)
	}
	st := newStates()
	svc, err := client.Connect(context.Background(), "", client.Config{
		Dial: dial, Reconnect: &client.Reconnect{InitialDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond}, OnStateChange: st.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	answer := func(s string) client.Handler {
		return func(context.Context, *client.Invocation) (*client.Result, error) {
			return &client.Result{Arguments: spec.List{s}}, nil
		}
	}
	if _, err := svc.Register(ctx, "com.example.taken", answer("svc"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Register(ctx, "com.example.kept", answer("svc"), nil); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 8)
	a, err := svc.Subscribe(ctx, "com.example.t", func(*client.Event) { got <- "a" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := svc.Subscribe(ctx, "com.example.t", func(*client.Event) { got <- "b" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two subscriptions, one ID %d: a reconnecting client's IDs are its own", a)
	}

	svcOpen.Lock()
	pr.cut()
	st.await(t, client.StateDisconnected)
	// While the service is away, someone else takes one of its procedures.
	other := pr.plainClient(t)
	for { // the router may not have seen the service's session end yet
		_, err := other.Register(ctx, "com.example.taken", answer("other"), nil)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	svcOpen.Unlock()
	st.await(t, client.StateConnected)

	for proc, want := range map[string]string{"com.example.taken": "other", "com.example.kept": "svc"} {
		res, err := other.Call(ctx, proc, nil, nil, nil)
		if err != nil || res.Arguments[0] != want {
			t.Fatalf("%s: %v %v, want %s", proc, res, err, want)
		}
	}
	if err := other.Publish(ctx, "com.example.t", nil, nil, spec.Dict{"acknowledge": true}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case h := <-got:
			seen[h] = true
		case <-ctx.Done():
			t.Fatalf("after reconnect only %v got the event", seen)
		}
	}
}

func TestJoinWithReconnectNeedsDial(t *testing.T) {
	ser, _ := serializer.ByName("json")
	c, _ := transport.Pipe(ser, transport.Options{})
	if _, err := client.Join(context.Background(), c, client.Config{Reconnect: &client.Reconnect{}}); err == nil || !strings.Contains(err.Error(), "Dial") {
		t.Fatalf("Join with Reconnect and no Dial: %v", err)
	}
}
