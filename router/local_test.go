package router_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// localRealm has a role "bridge" allowed to call and publish under
// com.example. (disclosing itself), and "anonymous" allowed everything.
func localRealm(t *testing.T) *testRouter {
	rc := &auth.RealmConfig{
		Name:      "realm1",
		Anonymous: &auth.AnonymousOptions{Role: "anonymous"},
		Roles: []auth.Role{
			{Name: "anonymous", Permissions: []auth.Permission{{URI: "", Match: spec.MatchPrefix, Call: true, Register: true, Publish: true, Subscribe: true}}},
			{Name: "bridge", Permissions: []auth.Permission{{URI: "com.example.", Match: spec.MatchPrefix, Call: true, Publish: true, Subscribe: true, DiscloseCaller: true, DisclosePublisher: true}}},
		},
	}
	return newTestRouter(t, router.Options{Realms: []router.RealmConfig{{Name: "realm1", Auth: rc}}})
}

func openLocal(t *testing.T, tr *testRouter, id auth.Identity) *router.LocalSession {
	t.Helper()
	ls, err := tr.r.Realm("realm1").OpenLocalSession(router.LocalSessionOptions{Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ls.Close)
	return ls
}

func TestLocalSessionCallsAsItsPrincipal(t *testing.T) {
	tr := localRealm(t)
	callee := tr.join(serializer.CBOR)
	who := func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Arguments: spec.List{inv.Details["caller_authid"], inv.Details["caller_authrole"]}, ArgumentsKw: inv.ArgumentsKw}, nil
	}
	if _, err := callee.Register(ctxT(t), "com.example.who", who, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := callee.Register(ctxT(t), "org.other.proc", echo, nil); err != nil {
		t.Fatal(err)
	}
	ls := openLocal(t, tr, auth.Identity{AuthID: "ci-job", AuthRole: "bridge"})
	args, kwargs, err := ls.Call(ctxT(t), "com.example.who", nil, spec.Dict{"k": []byte{0, 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if args[0] != "ci-job" || args[1] != "bridge" {
		t.Fatalf("caller disclosed as %v, want ci-job/bridge", args)
	}
	if b, _ := kwargs["k"].([]byte); len(b) != 2 {
		t.Fatalf("kwargs %v", kwargs)
	}
	var ce *router.CallError
	if _, _, err := ls.Call(ctxT(t), "org.other.proc", nil, nil, nil); !errors.As(err, &ce) || ce.URI != spec.ErrNotAuthorized {
		t.Fatalf("call outside the role: %v, want not_authorized", err)
	}
	if _, _, err := ls.Call(ctxT(t), "com.example.nobody", nil, nil, nil); !errors.As(err, &ce) || ce.URI != spec.ErrNoSuchProcedure {
		t.Fatalf("call of nothing: %v, want no_such_procedure", err)
	}
	if _, _, err := ls.Call(ctxT(t), "com.example.who", nil, nil, spec.Dict{"progress": true}); !errors.As(err, &ce) || ce.URI != spec.ErrInvalidArgument {
		t.Fatalf("progressive call: %v, want invalid_argument", err)
	}
	if _, err := tr.r.Realm("realm1").OpenLocalSession(router.LocalSessionOptions{Identity: auth.Identity{AuthID: "x", AuthRole: "nope"}}); err == nil {
		t.Fatal("a local session in an unknown role was opened")
	}
}

func TestLocalSessionCallTimesOutAndCancels(t *testing.T) {
	tr := localRealm(t)
	callee := tr.join(serializer.JSON)
	release := make(chan struct{})
	defer close(release)
	hang := func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		select {
		case <-ctx.Done():
		case <-release:
		}
		return nil, errors.New("released")
	}
	if _, err := callee.Register(ctxT(t), "com.example.hang", hang, nil); err != nil {
		t.Fatal(err)
	}
	ls := openLocal(t, tr, auth.Identity{AuthID: "a", AuthRole: "anonymous"})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := ls.Call(ctx, "com.example.hang", nil, nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the deadline", err)
	}
	// The dealer's own timeout answers wamp.error.timeout.
	var ce *router.CallError
	if _, _, err := ls.Call(ctxT(t), "com.example.hang", nil, nil, spec.Dict{"timeout": 50}); !errors.As(err, &ce) || ce.URI != spec.ErrTimeout {
		t.Fatalf("got %v, want wamp.error.timeout", err)
	}
}

func TestLocalSessionPublishesAndSubscribes(t *testing.T) {
	tr := localRealm(t)
	sub := tr.join(serializer.JSON)
	_, ch := collect(t, sub, "com.example.news", nil)
	ls := openLocal(t, tr, auth.Identity{AuthID: "hook", AuthRole: "bridge"})
	id, err := ls.Publish(ctxT(t), "com.example.news", spec.List{"hi"}, nil, nil)
	if err != nil || id == 0 {
		t.Fatalf("publish: %v %v", id, err)
	}
	e := expectEvent(t, ch)
	if e.Publication != id || e.Details["publisher_authid"] != "hook" || e.Arguments[0] != "hi" {
		t.Fatalf("event %+v", e)
	}
	var ce *router.CallError
	if _, err := ls.Publish(ctxT(t), "org.other.news", nil, nil, nil); !errors.As(err, &ce) || ce.URI != spec.ErrNotAuthorized {
		t.Fatalf("publish outside the role: %v", err)
	}

	got := make(chan *spec.Event, 4)
	if _, err := ls.Subscribe(ctxT(t), "com.example.", spec.Dict{"match": "prefix"}, func(e *spec.Event) { got <- e }); err != nil {
		t.Fatal(err)
	}
	pub := tr.join(serializer.CBOR)
	if err := pub.Publish(ctxT(t), "com.example.alerts", spec.List{int64(1) << 53}, nil, ack); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		if e.Details["topic"] != "com.example.alerts" || e.Arguments[0] != int64(1)<<53 {
			t.Fatalf("event %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event for the local subscription")
	}
	ls.Close()
	if err := pub.Publish(ctxT(t), "com.example.alerts", nil, nil, ack); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		t.Fatalf("event after Close: %+v", e)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := ls.Publish(ctxT(t), "com.example.news", nil, nil, nil); !errors.Is(err, router.ErrLocalSessionClosed) {
		t.Fatalf("publish after Close: %v", err)
	}
}
