package router_test

import (
	"context"
	"testing"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

func TestPatternSubscriptionsDeliverOncePerSubscription(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	pub, sub := tr.join(serializer.JSON), tr.join(serializer.CBOR)
	_, exact := collect(t, sub, "com.example.topic", nil)
	_, prefix := collect(t, sub, "com.example", spec.Dict{"match": "prefix"})
	_, wild := collect(t, sub, "com..topic", spec.Dict{"match": "wildcard"})
	_, other := collect(t, sub, "org..topic", spec.Dict{"match": "wildcard"})
	if err := pub.Publish(ctxT(t), "com.example.topic", spec.List{"x"}, nil, ack); err != nil {
		t.Fatal(err)
	}
	if e := expectEvent(t, exact); e.Details["topic"] != nil {
		t.Errorf("exact subscription got Details.topic %v", e.Details["topic"])
	}
	for name, ch := range map[string]chan *client.Event{"prefix": prefix, "wildcard": wild} {
		e := expectEvent(t, ch)
		if e.Details["topic"] != "com.example.topic" {
			t.Errorf("%s subscription: Details.topic = %v", name, e.Details["topic"])
		}
		expectNoEvent(t, ch)
	}
	expectNoEvent(t, other)
	// Prefix matching is a string prefix, as the spec says.
	if err := pub.Publish(ctxT(t), "com.example-two.x", nil, nil, ack); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, prefix)
	expectNoEvent(t, exact)
}

func TestPatternRegistrationPrecedence(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee, caller := tr.join(serializer.JSON), tr.join(serializer.MessagePack)
	reg := func(uri, match, name string) {
		_, err := callee.Register(ctxT(t), uri, func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
			return &client.Result{Arguments: spec.List{name, string(inv.Procedure)}}, nil
		}, spec.Dict{"match": match})
		if err != nil {
			t.Fatalf("register %s %s: %v", match, uri, err)
		}
	}
	reg("a.b.c.d", "exact", "exact")
	reg("a.b", "prefix", "short prefix")
	reg("a.b.c", "prefix", "long prefix")
	reg("a..c.d", "wildcard", "wild 1")
	reg("a.x..d", "wildcard", "wild 2")
	reg("a...d", "wildcard", "wild 3")
	cases := map[string]string{
		"a.b.c.d": "exact",
		"a.b.c.e": "long prefix",
		"a.b.x":   "short prefix",
		"a.y.c.d": "wild 1",
		"a.x.c.d": "wild 2",
		"a.x.y.d": "wild 2",
		"a.y.y.d": "wild 3",
	}
	for uri, want := range cases {
		res, err := caller.Call(ctxT(t), uri, nil, nil, nil)
		if err != nil {
			t.Fatalf("call %s: %v", uri, err)
		}
		if res.Arguments[0] != want {
			t.Errorf("call %s went to %v, want %s", uri, res.Arguments[0], want)
		}
		if want != "exact" && res.Arguments[1] != uri {
			t.Errorf("call %s: INVOCATION.Details.procedure = %v", uri, res.Arguments[1])
		}
	}
	if _, err := caller.Call(ctxT(t), "z.z", nil, nil, nil); wampErrorURI(err) != spec.ErrNoSuchProcedure {
		t.Errorf("unmatched call: %v", err)
	}
}

func TestSharedRegistration(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	caller := tr.join(serializer.JSON)
	names := []string{"one", "two", "three"}
	for _, name := range names {
		c := tr.join(serializer.JSON)
		name := name
		_, err := c.Register(ctxT(t), "shared.proc", func(context.Context, *client.Invocation) (*client.Result, error) {
			return &client.Result{Arguments: spec.List{name}}, nil
		}, spec.Dict{"invoke": "roundrobin"})
		if err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 2; round++ {
		for _, want := range names {
			res, err := caller.Call(ctxT(t), "shared.proc", nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Arguments[0] != want {
				t.Fatalf("round robin gave %v, want %s", res.Arguments[0], want)
			}
		}
	}
	other := tr.join(serializer.JSON)
	if _, err := other.Register(ctxT(t), "shared.proc", echo, spec.Dict{"invoke": "random"}); wampErrorURI(err) != spec.ErrProcedureAlreadyExists {
		t.Fatalf("mismatched policy: %v", err)
	}
	for policy, want := range map[string]string{"first": "one", "last": "three"} {
		uri := "shared." + policy
		for _, name := range names {
			c := tr.join(serializer.JSON)
			name := name
			if _, err := c.Register(ctxT(t), uri, func(context.Context, *client.Invocation) (*client.Result, error) {
				return &client.Result{Arguments: spec.List{name}}, nil
			}, spec.Dict{"invoke": policy}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := caller.Call(ctxT(t), uri, nil, nil, nil)
		if err != nil || res.Arguments[0] != want {
			t.Fatalf("%s: got %v %v, want %s", policy, res, err, want)
		}
	}
}
