package router_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// TestSlowConsumerIsDisconnected: a subscriber that stops reading is cut
// off once its queue passes the byte limit, and counted; the publisher and
// a subscriber that keeps up lose nothing.
func TestSlowConsumerIsDisconnected(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	pub := tr.join(serializer.MessagePack)
	fast := tr.join(serializer.CBOR)
	got := make(chan int64, 100000)
	if _, err := fast.Subscribe(ctxT(t), "flood.count", func(e *client.Event) {
		n, _ := spec.AsInt(e.Arguments[0])
		got <- n
	}, nil); err != nil {
		t.Fatal(err)
	}
	stalled := tr.pipeWith(serializer.JSON, transport.Options{QueueMaxBytes: 64 << 10})
	st := &raw{t: t, peer: stalled}
	st.hello("realm1")
	st.send(&spec.Subscribe{Request: 1, Options: spec.Dict{}, Topic: "flood.count"})
	if _, ok := st.recv().(*spec.Subscribed); !ok {
		t.Fatal("no SUBSCRIBED")
	}
	// From here on the stalled subscriber reads nothing.
	const n = 3000
	payload := make([]byte, 1024)
	for i := int64(1); i <= n; i++ {
		if err := pub.Publish(ctxT(t), "flood.count", spec.List{i, payload}, nil, spec.Dict{"acknowledge": true}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	for i := int64(1); i <= n; i++ {
		select {
		case v := <-got:
			if v != i {
				t.Fatalf("the fast subscriber got %d, want %d", v, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the fast subscriber lost event %d", i)
		}
	}
	select {
	case <-stalled.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the stalled subscriber was never disconnected")
	}
	if tr.r.Stats().SlowConsumers.Load() == 0 {
		t.Fatal("the slow consumer was not counted")
	}
}

// TestCalleeDyingMidProgressiveResult: the caller gets the parts already
// sent, then wamp.error.canceled.
func TestCalleeDyingMidProgressiveResult(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee, caller := tr.join(serializer.JSON), tr.join(serializer.JSON)
	sent := make(chan struct{})
	if _, err := callee.Register(ctxT(t), "dying.stream", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		inv.Progress(spec.List{"part 1"}, nil)
		close(sent)
		<-ctx.Done()
		return nil, ctx.Err()
	}, nil); err != nil {
		t.Fatal(err)
	}
	parts := make(chan string, 4)
	errc := make(chan error, 1)
	go func() {
		_, err := caller.Call(ctxT(t), "dying.stream", nil, nil, &client.CallOptions{OnProgress: func(r *client.Result) {
			parts <- r.Arguments[0].(string)
		}})
		errc <- err
	}()
	<-sent
	if p := <-parts; p != "part 1" {
		t.Fatalf("progress %q", p)
	}
	callee.Close(ctxT(t))
	select {
	case err := <-errc:
		if wampErrorURI(err) != spec.ErrCanceled {
			t.Fatalf("got %v, want canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the caller was left waiting")
	}
}

// TestReconnectLoop: a client connecting and leaving in a tight loop, half
// the time saying GOODBYE and half the time dropping the connection, leaves
// nothing behind.
func TestReconnectLoop(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	for i := 0; i < 200; i++ {
		peer := tr.pipe(serializer.MessagePack)
		c, err := client.Join(ctxT(t), peer, client.Config{Realm: "realm1"})
		if err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
		if _, err := c.Subscribe(ctxT(t), "loop.topic", func(*client.Event) {}, nil); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			c.Close(ctxT(t))
		} else {
			peer.Close("dropped")
			<-c.Done()
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for tr.r.Realm("realm1").SessionCount() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := tr.r.Realm("realm1").SessionCount(); n != 0 {
		t.Fatalf("%d sessions left after the loop", n)
	}
	probe := tr.join(serializer.JSON)
	res, err := probe.Call(ctxT(t), "wamp.subscription.lookup", spec.List{"loop.topic"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Arguments[0] != nil {
		t.Fatal("a subscription outlived the sessions of the loop")
	}
}

// TestOversizeFramesAreNeverSent: a peer never gets a frame above its
// limit. A call that would need one fails with payload_size_exceeded (in
// either direction); an event is dropped for that subscriber alone and
// counted.
func TestOversizeFramesAreNeverSent(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	small := transport.Options{MaxMessageSize: 1024}
	joinSmall := func() *client.Client {
		c, err := client.Join(ctxT(t), tr.pipeWith(serializer.MessagePack, small), client.Config{Realm: "realm1"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(ctxT(t)) })
		return c
	}
	big := make([]byte, 4096)
	smallCallee, bigCallee := joinSmall(), tr.join(serializer.CBOR)
	if _, err := smallCallee.Register(ctxT(t), "small.echo", echo, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := bigCallee.Register(ctxT(t), "big.result", func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{Arguments: spec.List{big}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	roomyCaller, smallCaller := tr.join(serializer.JSON), joinSmall()
	if _, err := roomyCaller.Call(ctxT(t), "small.echo", spec.List{big}, nil, nil); wampErrorURI(err) != spec.ErrPayloadSizeExceeded {
		t.Fatalf("a call too large for the callee: %v", err)
	}
	if _, err := smallCaller.Call(ctxT(t), "big.result", nil, nil, nil); wampErrorURI(err) != spec.ErrPayloadSizeExceeded {
		t.Fatalf("a result too large for the caller: %v", err)
	}
	if _, err := smallCaller.Call(ctxT(t), "small.echo", spec.List{"fits"}, nil, nil); err != nil {
		t.Fatalf("both sessions must survive: %v", err)
	}
	_, wide := collect(t, roomyCaller, "size.topic", nil)
	_, narrow := collect(t, smallCaller, "size.topic", nil)
	pub := tr.join(serializer.MessagePack)
	before := tr.r.Stats().OversizeDropped.Load()
	if err := pub.Publish(ctxT(t), "size.topic", spec.List{big}, nil, ack); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, wide)
	expectNoEvent(t, narrow)
	if tr.r.Stats().OversizeDropped.Load() != before+1 {
		t.Fatal("the dropped event was not counted")
	}
	if err := pub.Publish(ctxT(t), "size.topic", spec.List{"small"}, nil, ack); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, wide)
	if e := expectEvent(t, narrow); e.Arguments[0] != "small" {
		t.Fatalf("got %v", e.Arguments)
	}
}

// TestDefaultCallTimeout: a callee that never answers cannot hold a caller
// that set no timeout forever.
func TestDefaultCallTimeout(t *testing.T) {
	tr := newTestRouter(t, router.Options{DefaultCallTimeout: 50 * time.Millisecond})
	callee := tr.raw(serializer.JSON)
	callee.helloWith(fullCallee())
	callee.register(1, "silent.proc", nil)
	caller := tr.join(serializer.JSON)
	if _, err := caller.Call(ctxT(t), "silent.proc", nil, nil, nil); wampErrorURI(err) != spec.ErrTimeout {
		t.Fatalf("got %v, want wamp.error.timeout", err)
	}
	callee.recv() // INVOCATION
	if _, ok := callee.recv().(*spec.Interrupt); !ok {
		t.Fatal("the silent callee was not interrupted")
	}
}
