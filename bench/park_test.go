package bench

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport/idle"
)

// TestParkedSessionsRoute runs RPC and PubSub between RawSocket sessions,
// and between WebSocket sessions, that are parked in between (no reader goroutine while idle): a parked
// callee is woken by its INVOCATION's answer path, a parked subscriber
// receives events, and the router's Shutdown says GOODBYE to parked
// sessions and leaves no goroutine behind.
func TestParkedSessionsRoute(t *testing.T) {
	if !idle.Supported() {
		t.Skip("parking is not supported on " + runtime.GOOS)
	}
	for _, transport := range []string{"rawsocket", "websocket"} {
		t.Run(transport, func(t *testing.T) { testParkedSessionsRoute(t, transport) })
	}
}

func testParkedSessionsRoute(t *testing.T, transport string) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ir, err := StartRouter(ctx, RouterOptions{ParkIdle: 10 * time.Millisecond, WebSocket: transport == "websocket"})
	if err != nil {
		t.Fatal(err)
	}
	url, parked := ir.RawSocketURL(), ir.ParkedRawSocket
	if transport == "websocket" {
		url, parked = ir.WebSocketURL(), ir.ParkedWebSocket
	}
	connect := func() *client.Client {
		c, err := client.Connect(ctx, url, client.Config{Serializer: "msgpack"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	callee, caller, subscriber := connect(), connect(), connect()
	if _, err := callee.Register(ctx, "test.add", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		a, _ := inv.Arguments[0].(int64)
		b, _ := inv.Arguments[1].(int64)
		return &client.Result{Arguments: spec.List{a + b}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	events := make(chan int64, 16)
	if _, err := subscriber.Subscribe(ctx, "test.topic", func(e *client.Event) {
		n, _ := e.Arguments[0].(int64)
		events <- n
	}, nil); err != nil {
		t.Fatal(err)
	}
	var parks atomic.Int64
	waitParked := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for parked() != n {
			if time.Now().After(deadline) {
				t.Fatalf("%d sessions parked, want %d", parked(), n)
			}
			time.Sleep(time.Millisecond)
		}
		parks.Add(1)
	}
	for i := range int64(5) {
		waitParked(3)
		res, err := caller.Call(ctx, "test.add", spec.List{i, int64(100)}, nil, nil)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if got, _ := res.Arguments[0].(int64); got != i+100 {
			t.Fatalf("call %d: got %v", i, res.Arguments)
		}
		waitParked(3)
		if err := caller.Publish(ctx, "test.topic", spec.List{i}, nil, spec.Dict{"acknowledge": true}); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-events:
			if got != i {
				t.Fatalf("event %d: got %d", i, got)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d never reached the parked subscriber", i)
		}
	}
	waitParked(3)
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if err := ir.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown with parked sessions: %v", err)
	}
	for _, c := range []*client.Client{callee, caller, subscriber} {
		c.Close(ctx)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Shutdown, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
