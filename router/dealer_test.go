package router_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

func echo(_ context.Context, inv *client.Invocation) (*client.Result, error) {
	return &client.Result{Arguments: inv.Arguments, ArgumentsKw: inv.ArgumentsKw}, nil
}

func TestCallAcrossSerializers(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee := tr.join(serializer.CBOR)
	if _, err := callee.Register(ctxT(t), "com.example.echo", echo, nil); err != nil {
		t.Fatal(err)
	}
	blob := []byte{0, 0xff, 0x10}
	for _, ser := range []serializer.Serializer{serializer.JSON, serializer.MessagePack, serializer.CBOR} {
		caller := tr.join(ser)
		res, err := caller.Call(ctxT(t), "com.example.echo", spec.List{"a", int64(7), blob}, spec.Dict{"k": blob}, nil)
		if err != nil {
			t.Fatalf("%s: %v", ser.Name(), err)
		}
		if len(res.Arguments) != 3 || res.Arguments[0] != "a" {
			t.Fatalf("%s: got %v", ser.Name(), res.Arguments)
		}
		if b, _ := res.Arguments[2].([]byte); !bytes.Equal(b, blob) {
			t.Errorf("%s: bytes came back as %#v", ser.Name(), res.Arguments[2])
		}
		if b, _ := res.ArgumentsKw["k"].([]byte); !bytes.Equal(b, blob) {
			t.Errorf("%s: kwargs bytes came back as %#v", ser.Name(), res.ArgumentsKw)
		}
	}
}

func TestCalleeErrorIsForwardedWithPayload(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee, caller := tr.join(serializer.JSON), tr.join(serializer.MessagePack)
	_, err := callee.Register(ctxT(t), "com.example.fail", func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, &client.Error{URI: "com.example.error.nope", Arguments: spec.List{"why"}, ArgumentsKw: spec.Dict{"code": int64(3)}}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = caller.Call(ctxT(t), "com.example.fail", nil, nil, nil)
	we, ok := err.(*client.Error)
	if !ok || we.URI != "com.example.error.nope" || we.Arguments[0] != "why" {
		t.Fatalf("got %v", err)
	}
	if n, _ := spec.AsInt(we.ArgumentsKw["code"]); n != 3 {
		t.Fatalf("kwargs lost: %v", we.ArgumentsKw)
	}
}

func TestRegistrationErrors(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	a, b := tr.join(serializer.JSON), tr.join(serializer.JSON)
	if _, err := a.Call(ctxT(t), "no.such.proc", nil, nil, nil); wampErrorURI(err) != spec.ErrNoSuchProcedure {
		t.Errorf("call missing: %v", err)
	}
	id, err := a.Register(ctxT(t), "dup.proc", echo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Register(ctxT(t), "dup.proc", echo, nil); wampErrorURI(err) != spec.ErrProcedureAlreadyExists {
		t.Errorf("second register: %v", err)
	}
	if _, err := a.Register(ctxT(t), "bad..proc", echo, nil); wampErrorURI(err) != spec.ErrInvalidURI {
		t.Errorf("bad URI: %v", err)
	}
	if _, err := a.Register(ctxT(t), "wamp.session.count", echo, nil); wampErrorURI(err) != spec.ErrNotAuthorized {
		t.Errorf("register under wamp.: %v", err)
	}
	if err := b.Unregister(ctxT(t), id); wampErrorURI(err) != spec.ErrNoSuchRegistration {
		t.Errorf("unregister of another session's registration: %v", err)
	}
	if err := a.Unregister(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Call(ctxT(t), "dup.proc", nil, nil, nil); wampErrorURI(err) != spec.ErrNoSuchProcedure {
		t.Errorf("call after unregister: %v", err)
	}
}

func TestCalleeLeavingCancelsCalls(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee, caller := tr.join(serializer.JSON), tr.join(serializer.JSON)
	started := make(chan struct{})
	_, err := callee.Register(ctxT(t), "slow.proc", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := caller.Call(ctxT(t), "slow.proc", nil, nil, nil)
		errc <- err
	}()
	<-started
	callee.Close(ctxT(t))
	select {
	case err := <-errc:
		if wampErrorURI(err) != spec.ErrCanceled {
			t.Fatalf("got %v, want wamp.error.canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("caller never heard that the callee left")
	}
	if _, err := caller.Call(ctxT(t), "slow.proc", nil, nil, nil); wampErrorURI(err) != spec.ErrNoSuchProcedure {
		t.Fatalf("registration outlived its callee: %v", err)
	}
}

func TestCallerLeavingDropsLateResult(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee := tr.raw(serializer.JSON)
	callee.hello("realm1")
	callee.send(&spec.Register{Request: 1, Options: spec.Dict{}, Procedure: "late.proc"})
	if _, ok := callee.recv().(*spec.Registered); !ok {
		t.Fatal("register failed")
	}
	caller := tr.raw(serializer.JSON)
	caller.hello("realm1")
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{}, Procedure: "late.proc"})
	inv, ok := callee.recv().(*spec.Invocation)
	if !ok {
		t.Fatal("no INVOCATION")
	}
	caller.send(&spec.Goodbye{Details: spec.Dict{}, Reason: spec.CloseNormal})
	caller.recv() // GOODBYE echo
	// The callee announced call_canceling: it is told the call is dead.
	intr, ok := callee.recv().(*spec.Interrupt)
	if !ok || intr.Request != inv.Request || intr.Options["mode"] != "killnowait" {
		t.Fatalf("got %#v, want INTERRUPT killnowait", intr)
	}
	// The late YIELD is dropped without harm to the callee's session.
	callee.send(&spec.Yield{Request: inv.Request, Options: spec.Dict{}, Arguments: spec.List{"late"}})
	callee.send(&spec.Subscribe{Request: 2, Options: spec.Dict{}, Topic: "still.alive"})
	if _, ok := callee.recv().(*spec.Subscribed); !ok {
		t.Fatal("the callee's session did not survive the late YIELD")
	}
}

func TestProgressiveCallResults(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee, caller := tr.join(serializer.MessagePack), tr.join(serializer.JSON)
	_, err := callee.Register(ctxT(t), "progress.proc", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		for i := 0; i < 3; i++ {
			if err := inv.Progress(spec.List{int64(i)}, nil); err != nil {
				return nil, err
			}
		}
		return &client.Result{Arguments: spec.List{"done"}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var parts []int64
	res, err := caller.Call(ctxT(t), "progress.proc", nil, nil, &client.CallOptions{OnProgress: func(r *client.Result) {
		n, _ := spec.AsInt(r.Arguments[0])
		parts = append(parts, n)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Arguments[0] != "done" || len(parts) != 3 || parts[0] != 0 || parts[2] != 2 {
		t.Fatalf("result %v, progress %v", res.Arguments, parts)
	}
}

func TestCallerDisclosure(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee, caller := tr.join(serializer.JSON), tr.join(serializer.JSON)
	_, err := callee.Register(ctxT(t), "who.proc", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Arguments: spec.List{inv.Details["caller"]}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := caller.Call(ctxT(t), "who.proc", nil, nil, &client.CallOptions{Options: spec.Dict{"disclose_me": true}})
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := spec.AsID(res.Arguments[0]); id != caller.ID() {
		t.Fatalf("caller %v, want %d", res.Arguments[0], caller.ID())
	}
	res, err = caller.Call(ctxT(t), "who.proc", nil, nil, nil)
	if err != nil || res.Arguments[0] != nil {
		t.Fatalf("caller disclosed without disclose_me: %v %v", res, err)
	}
}

func TestCancelSkip(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee := tr.raw(serializer.JSON)
	callee.send(&spec.Hello{Realm: "realm1", Details: spec.Dict{"roles": spec.Dict{"callee": spec.Dict{}}}})
	callee.recv()
	callee.send(&spec.Register{Request: 1, Options: spec.Dict{}, Procedure: "cancel.proc"})
	callee.recv()
	caller := tr.raw(serializer.JSON)
	caller.hello("realm1")
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{}, Procedure: "cancel.proc"})
	inv := callee.recv().(*spec.Invocation)
	caller.send(&spec.Cancel{Request: 1, Options: spec.Dict{"mode": "kill"}})
	// The callee did not announce call_canceling: kill degrades to skip.
	expectError(t, caller.recv(), spec.TypeCall, 1, spec.ErrCanceled)
	callee.send(&spec.Yield{Request: inv.Request, Options: spec.Dict{}})
	caller.send(&spec.Subscribe{Request: 2, Options: spec.Dict{}, Topic: "x.y"})
	if _, ok := caller.recv().(*spec.Subscribed); !ok {
		t.Fatal("the late YIELD reached the caller")
	}
}
