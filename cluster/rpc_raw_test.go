package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// rawPeer is a hand-driven WAMP session, for features the Go client does
// not speak (progressive call invocations) and exact message checks.
type rawPeer struct {
	t  *testing.T
	p  transport.Peer
	id spec.ID // from WELCOME
}

func (tn *testNode) rawJoin(roles spec.Dict) *rawPeer {
	tn.t.Helper()
	clientEnd, serverEnd := transport.Pipe(serializer.JSON, transport.Options{})
	tn.wg.Add(1)
	go func() {
		defer tn.wg.Done()
		tn.router.ServePeer(tn.ctx, serverEnd)
	}()
	tn.t.Cleanup(func() { clientEnd.Close("test over") })
	rp := &rawPeer{t: tn.t, p: clientEnd}
	rp.send(&spec.Hello{Realm: "realm1", Details: spec.Dict{"roles": roles}})
	w, ok := rp.recv().(*spec.Welcome)
	if !ok {
		tn.t.Fatal("no WELCOME")
	}
	rp.id = w.Session
	return rp
}

func (rp *rawPeer) send(m spec.Message) {
	rp.t.Helper()
	b, err := serializer.JSON.Encode(nil, m)
	if err != nil {
		rp.t.Fatal(err)
	}
	if err := rp.p.Send(b); err != nil {
		rp.t.Fatal(err)
	}
}

func (rp *rawPeer) recv() spec.Message {
	rp.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := rp.p.Recv(ctx)
	if err != nil {
		rp.t.Fatalf("recv: %v", err)
	}
	return m
}

// quiet asserts nothing arrives within d.
func (rp *rawPeer) quiet(d time.Duration) {
	rp.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if m, err := rp.p.Recv(ctx); err == nil {
		rp.t.Fatalf("unexpected %s %v", m.Type(), m)
	}
}

func features(f ...string) spec.Dict {
	d := spec.Dict{}
	for _, x := range f {
		d[x] = true
	}
	return spec.Dict{"features": d}
}

// Progressive call invocations and the kill and skip cancel modes cross
// nodes with the same messages as on one node.
func TestProgressiveInvocationsAndCancelModesAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 2)
	callee := nodes[1].rawJoin(spec.Dict{"callee": features(spec.FeatureProgressiveCallInvocations, spec.FeatureCallCanceling)})
	callee.send(&spec.Register{Request: 1, Options: spec.Dict{}, Procedure: "com.p"})
	if _, ok := callee.recv().(*spec.Registered); !ok {
		t.Fatal("no REGISTERED")
	}
	caller := nodes[0].rawJoin(spec.Dict{"caller": features(spec.FeatureProgressiveCallInvocations, spec.FeatureCallCanceling)})

	// Three CALLs with one request ID: one INVOCATION request ID, in order.
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{"progress": true}, Procedure: "com.p", Arguments: spec.List{"a"}})
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{"progress": true}, Procedure: "com.p", Arguments: spec.List{"b"}})
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{}, Procedure: "com.p", Arguments: spec.List{"c"}})
	var invReq spec.ID
	for i, want := range []string{"a", "b", "c"} {
		inv, ok := callee.recv().(*spec.Invocation)
		if !ok || len(inv.Arguments) != 1 || inv.Arguments[0] != want {
			t.Fatalf("invocation %d: %v", i, inv)
		}
		if i == 0 {
			invReq = inv.Request
		} else if inv.Request != invReq {
			t.Fatalf("continuation under request %d, want %d", inv.Request, invReq)
		}
		if progress, _ := inv.Details["progress"].(bool); progress != (i < 2) {
			t.Fatalf("invocation %d progress=%v", i, progress)
		}
	}
	callee.send(&spec.Yield{Request: invReq, Options: spec.Dict{}, Arguments: spec.List{"abc"}})
	if r, ok := caller.recv().(*spec.Result); !ok || r.Request != 1 || r.Arguments[0] != "abc" {
		t.Fatalf("result of the progressive invocation: %v", r)
	}

	// kill: the callee is interrupted and its answer reaches the caller.
	caller.send(&spec.Call{Request: 2, Options: spec.Dict{}, Procedure: "com.p"})
	inv := callee.recv().(*spec.Invocation)
	caller.send(&spec.Cancel{Request: 2, Options: spec.Dict{"mode": "kill"}})
	if in, ok := callee.recv().(*spec.Interrupt); !ok || in.Request != inv.Request || in.Options["mode"] != "kill" {
		t.Fatalf("kill: %v", in)
	}
	callee.send(&spec.Error{RequestType: spec.TypeInvocation, Request: inv.Request, Details: spec.Dict{}, Error: "com.stopped"})
	if e, ok := caller.recv().(*spec.Error); !ok || e.Request != 2 || e.Error != "com.stopped" {
		t.Fatalf("kill: the callee's answer did not reach the caller: %v", e)
	}

	// skip: the caller is answered at once, the callee is left alone and
	// its late answer is dropped.
	caller.send(&spec.Call{Request: 3, Options: spec.Dict{}, Procedure: "com.p"})
	inv = callee.recv().(*spec.Invocation)
	caller.send(&spec.Cancel{Request: 3, Options: spec.Dict{"mode": "skip"}})
	if e, ok := caller.recv().(*spec.Error); !ok || e.Request != 3 || e.Error != spec.ErrCanceled {
		t.Fatalf("skip: %v", e)
	}
	callee.quiet(200 * time.Millisecond)
	callee.send(&spec.Yield{Request: inv.Request, Options: spec.Dict{}})
	caller.quiet(300 * time.Millisecond)
}
