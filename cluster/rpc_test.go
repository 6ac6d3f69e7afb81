package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

func register(t *testing.T, c *client.Client, procedure string, h client.Handler, opts spec.Dict) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Register(ctx, procedure, h, opts)
	return err
}

func wampErr(err error) spec.URI {
	var we *client.Error
	if errors.As(err, &we) {
		return we.URI
	}
	return ""
}

// echo answers with its arguments and the invocation's details.
func echo(_ context.Context, inv *client.Invocation) (*client.Result, error) {
	return &client.Result{Arguments: inv.Arguments, ArgumentsKw: spec.Dict{"details": inv.Details}}, nil
}

func TestClusterRPCAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	callee := nodes[1].join(serializer.JSON)
	caller := nodes[0].join(serializer.MessagePack)
	if err := register(t, callee, "com.example.echo", echo, nil); err != nil {
		t.Fatal(err)
	}
	if err := register(t, callee, "com.example.fail", func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, &client.Error{URI: "com.example.oops", Arguments: spec.List{"no"}}
	}, nil); err != nil {
		t.Fatal(err)
	}
	res, err := caller.Call(ctxT(t), "com.example.echo", spec.List{"hi", 3}, nil, &client.CallOptions{Options: spec.Dict{"disclose_me": true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Arguments) != 2 || res.Arguments[0] != "hi" || fmt.Sprint(res.Arguments[1]) != "3" {
		t.Fatalf("result %v", res.Arguments)
	}
	details, _ := res.ArgumentsKw["details"].(map[string]any)
	if id, _ := spec.AsID(details["caller"]); id != caller.ID() {
		t.Fatalf("caller not disclosed across nodes: %v", details)
	}
	// Not disclosed unless asked.
	res, err = caller.Call(ctxT(t), "com.example.echo", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := res.ArgumentsKw["details"].(map[string]any); d["caller"] != nil {
		t.Fatalf("caller disclosed unasked: %v", d)
	}
	_, err = caller.Call(ctxT(t), "com.example.fail", nil, nil, nil)
	if wampErr(err) != "com.example.oops" {
		t.Fatalf("callee's error did not cross: %v", err)
	}
	_, err = caller.Call(ctxT(t), "com.example.none", nil, nil, nil)
	if wampErr(err) != spec.ErrNoSuchProcedure {
		t.Fatalf("want no_such_procedure, got %v", err)
	}
	// A single registration is unique cluster-wide.
	other := nodes[2].join(serializer.JSON)
	if err := register(t, other, "com.example.echo", echo, nil); wampErr(err) != spec.ErrProcedureAlreadyExists {
		t.Fatalf("second single registration on another node: %v", err)
	}
}

func TestSingleRegistrationRaceHasOneWinner(t *testing.T) {
	nodes := startCluster(t, 3)
	var clients []*client.Client
	for _, tn := range nodes {
		for i := 0; i < 2; i++ {
			clients = append(clients, tn.join(serializer.JSON))
		}
	}
	for round := 0; round < 10; round++ {
		proc := fmt.Sprintf("com.example.race%d", round)
		var wins, losses atomic.Int32
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := register(t, c, proc, echo, nil)
				switch {
				case err == nil:
					wins.Add(1)
				case wampErr(err) == spec.ErrProcedureAlreadyExists:
					losses.Add(1)
				default:
					t.Errorf("register %s: %v", proc, err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || losses.Load() != int32(len(clients)-1) {
			t.Fatalf("%s: %d winners, %d losers", proc, wins.Load(), losses.Load())
		}
		// Every node routes to the winner.
		for _, tn := range nodes {
			c := tn.join(serializer.JSON)
			if _, err := c.Call(ctxT(t), proc, nil, nil, nil); err != nil {
				t.Fatalf("call %s on %s: %v", proc, tn.name, err)
			}
		}
	}
}

func TestSharedRoundRobinAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	var mu sync.Mutex
	got := map[string]int{}
	for _, tn := range nodes {
		name := tn.name
		c := tn.join(serializer.JSON)
		if err := register(t, c, "com.example.shared", func(context.Context, *client.Invocation) (*client.Result, error) {
			mu.Lock()
			got[name]++
			mu.Unlock()
			return &client.Result{}, nil
		}, spec.Dict{"invoke": "roundrobin"}); err != nil {
			t.Fatal(err)
		}
	}
	// Another policy on the same procedure is refused on any node.
	if err := register(t, nodes[1].join(serializer.JSON), "com.example.shared", echo, spec.Dict{"invoke": "random"}); wampErr(err) != spec.ErrProcedureAlreadyExists {
		t.Fatalf("other policy: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // the callee counts reach every node
	caller := nodes[0].join(serializer.JSON)
	for i := 0; i < 9; i++ {
		if _, err := caller.Call(ctxT(t), "com.example.shared", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, tn := range nodes {
		if got[tn.name] != 3 {
			t.Fatalf("roundrobin over the cluster's callees: %v", got)
		}
	}
}

func TestKilledCalleeNodeEndsCallsAndRegistrations(t *testing.T) {
	nodes := startCluster(t, 3)
	callee := nodes[2].join(serializer.JSON)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	if err := register(t, callee, "com.example.slow", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return &client.Result{}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	caller := nodes[0].join(serializer.JSON)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_, err := caller.Call(ctx, "com.example.slow", nil, nil, nil)
		errc <- err
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the invocation did not reach the callee's node")
	}
	t0 := time.Now()
	nodes[2].kill()
	select {
	case err := <-errc:
		if wampErr(err) != spec.ErrCanceled {
			t.Fatalf("call in flight to a dead node: %v", err)
		}
		t.Logf("call in flight ended %v after the kill", time.Since(t0).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("the call in flight to a dead node hangs")
	}
	// Its registration is gone cluster-wide: no callee, and free again.
	if _, err := caller.Call(ctxT(t), "com.example.slow", nil, nil, nil); wampErr(err) != spec.ErrNoSuchProcedure {
		t.Fatalf("call after the kill: %v", err)
	}
	// Each node takes the dead one as failed on its own clock (within the
	// same bound): once node 2 has, the procedure is free there too.
	for deadline := time.Now().Add(5 * time.Second); len(nodes[1].node.Peers()) != 1; {
		if time.Now().After(deadline) {
			t.Fatal("node 2 still sees the killed node")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := register(t, nodes[1].join(serializer.JSON), "com.example.slow", echo, nil); err != nil {
		t.Fatalf("register after the kill: %v", err)
	}
}

func TestCallerNodeKilledInterruptsInvocation(t *testing.T) {
	nodes := startCluster(t, 2)
	callee := nodes[1].join(serializer.JSON)
	var invocations atomic.Int32
	interrupted := make(chan struct{})
	if err := register(t, callee, "com.example.hang", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		invocations.Add(1)
		<-ctx.Done()
		close(interrupted)
		return nil, ctx.Err()
	}, nil); err != nil {
		t.Fatal(err)
	}
	caller := nodes[0].join(serializer.JSON)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = caller.Call(ctx, "com.example.hang", nil, nil, nil)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for invocations.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if invocations.Load() != 1 {
		t.Fatalf("the call did not reach the callee on the other node")
	}
	nodes[0].kill()
	select {
	case <-interrupted:
	case <-time.After(10 * time.Second):
		t.Fatal("the invocation of a dead node's caller was not interrupted")
	}
	if invocations.Load() != 1 {
		t.Fatalf("%d invocations, want 1", invocations.Load())
	}
}

func TestProgressTimeoutAndCancelAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 2)
	callee := nodes[1].join(serializer.MessagePack)
	if err := register(t, callee, "com.example.count", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		for i := 1; i <= 3; i++ {
			if err := inv.Progress(spec.List{i}, nil); err != nil {
				return nil, err
			}
		}
		return &client.Result{Arguments: spec.List{"done"}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	interrupted := make(chan struct{}, 1)
	if err := register(t, callee, "com.example.block", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		<-ctx.Done()
		interrupted <- struct{}{}
		return nil, ctx.Err()
	}, nil); err != nil {
		t.Fatal(err)
	}
	caller := nodes[0].join(serializer.JSON)

	var mu sync.Mutex
	var progress []string
	res, err := caller.Call(ctxT(t), "com.example.count", nil, nil, &client.CallOptions{OnProgress: func(r *client.Result) {
		mu.Lock()
		progress = append(progress, fmt.Sprint(r.Arguments...))
		mu.Unlock()
	}})
	if err != nil || len(res.Arguments) != 1 || res.Arguments[0] != "done" {
		t.Fatalf("progressive call: %v %v", res, err)
	}
	mu.Lock()
	if fmt.Sprint(progress) != "[1 2 3]" {
		t.Fatalf("progressive results across nodes: %v", progress)
	}
	mu.Unlock()

	// The callee's node enforces the timeout and interrupts its callee.
	_, err = caller.Call(ctxT(t), "com.example.block", nil, nil, &client.CallOptions{Options: spec.Dict{"timeout": 200}})
	if wampErr(err) != spec.ErrTimeout {
		t.Fatalf("timeout across nodes: %v", err)
	}
	select {
	case <-interrupted:
	case <-time.After(5 * time.Second):
		t.Fatal("the timed-out invocation was not interrupted")
	}

	// A caller's cancel (killnowait) reaches the callee on the other node.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := caller.Call(ctx, "com.example.block", nil, nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("canceled call: %v", err)
	}
	select {
	case <-interrupted:
	case <-time.After(5 * time.Second):
		t.Fatal("the canceled invocation was not interrupted on the callee's node")
	}
	// The caller's session still works, and nothing is left in flight.
	if _, err := caller.Call(ctxT(t), "com.example.count", nil, nil, &client.CallOptions{OnProgress: func(*client.Result) {}}); err != nil {
		t.Fatal(err)
	}
}

// A one-node embedded cluster registers and calls with nobody to ask.
func TestOneNodeClusterRPC(t *testing.T) {
	nodes := startCluster(t, 1)
	if err := register(t, nodes[0].join(serializer.JSON), "com.example.echo", echo, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[0].join(serializer.CBOR).Call(ctxT(t), "com.example.echo", spec.List{1}, nil, nil); err != nil {
		t.Fatal(err)
	}
}
