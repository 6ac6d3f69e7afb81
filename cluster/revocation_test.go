package cluster

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// wamp.registration.remove_callee called on one node removes a callee on
// another, as on one node: the callee, which announced
// registration_revocation, is told with UNREGISTERED [67, 0, Details], it
// gets no more invocations, and removing the last callee from a third node
// deletes the registration cluster-wide.
func TestRemoveCalleeAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	watcher := nodes[2].join(serializer.JSON)
	w := watchRegistrationMeta(t, watcher, "r.shared")

	far := nodes[1].rawJoin(spec.Dict{"callee": features(spec.FeatureRegistrationRevocation)})
	far.send(&spec.Register{Request: 1, Options: spec.Dict{"invoke": "roundrobin"}, Procedure: "r.shared"})
	reg, ok := far.recv().(*spec.Registered)
	if !ok {
		t.Fatal("no REGISTERED")
	}
	near := nodes[0].join(serializer.MessagePack)
	if id := registerID(t, near, "r.shared", spec.Dict{"invoke": "roundrobin"}); id != reg.Registration {
		t.Fatalf("second callee holds registration %d, want %d", id, reg.Registration)
	}
	admin := nodes[0].join(serializer.JSON)
	caller := nodes[2].join(serializer.CBOR)

	call(t, admin, "wamp.registration.remove_callee", spec.List{int64(reg.Registration), int64(far.id)}, spec.Dict{"reason": "wamp.close.maintenance"})
	un, ok := far.recv().(*spec.Unregistered)
	if !ok || un.Request != 0 {
		t.Fatalf("removed callee got %v, want UNREGISTERED with request 0", un)
	}
	if id, _ := spec.AsID(un.Details["registration"]); id != reg.Registration || un.Details["reason"] != "wamp.close.maintenance" {
		t.Fatalf("UNREGISTERED details %v, want the registration and the reason", un.Details)
	}
	// Round robin has one callee left: every call is the near callee's.
	for i := 0; i < 4; i++ {
		if got := call(t, caller, "r.shared", nil, nil); got != "r.shared" {
			t.Fatalf("call %d answered %v", i, got)
		}
	}
	far.quiet(200 * time.Millisecond)
	if v := call(t, caller, "wamp.registration.list_callees", spec.List{int64(reg.Registration)}, nil); fmt.Sprint(idsOf(v)) != fmt.Sprint([]spec.ID{near.ID()}) {
		t.Fatalf("callees after the removal: %v, want only %d", v, near.ID())
	}

	// The errors are one node's: the removed session no longer holds it,
	// an unknown session never did, an unknown registration does not exist.
	for _, tc := range []struct {
		reg, session spec.ID
		want         spec.URI
	}{
		{reg.Registration, far.id, spec.ErrNoSuchSession},
		{reg.Registration, 1, spec.ErrNoSuchSession},
		{reg.Registration + 1, near.ID(), spec.ErrNoSuchRegistration},
	} {
		_, err := caller.Call(ctxT(t), "wamp.registration.remove_callee", spec.List{int64(tc.reg), int64(tc.session)}, nil, nil)
		if errURI(err) != tc.want {
			t.Fatalf("remove_callee(%d, %d): %v, want %s", tc.reg, tc.session, err, tc.want)
		}
	}

	// The last callee removed, from the third node: the registration is
	// gone everywhere.
	call(t, caller, "wamp.registration.remove_callee", spec.List{int64(reg.Registration), int64(near.ID())}, nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := admin.Call(ctxT(t), "r.shared", nil, nil, nil)
		if errURI(err) == spec.ErrNoSuchProcedure {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a call after the last callee's removal: %v, want %s", err, spec.ErrNoSuchProcedure)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := admin.Call(ctxT(t), "wamp.registration.get", spec.List{int64(reg.Registration)}, nil, nil); errURI(err) != spec.ErrNoSuchRegistration {
		t.Fatalf("get after the last removal: %v, want %s", err, spec.ErrNoSuchRegistration)
	}
	want := []string{"on_create r.shared exact roundrobin", "on_delete", "on_register", "on_register", "on_unregister", "on_unregister"}
	if got := w.events(len(want), 300*time.Millisecond); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("meta events\n got  %v\n want %v", got, want)
	}
}

// wamp.subscription.remove_subscriber called on one node removes a
// subscriber on another: it is told with UNSUBSCRIBED [35, 0, Details] and
// gets no more events, and removing the last subscriber from a third node
// deletes the subscription cluster-wide.
func TestRemoveSubscriberAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	watcher := nodes[2].join(serializer.JSON)
	w := watchSubscriptionMeta(t, watcher, "s.t")

	far := nodes[1].rawJoin(spec.Dict{"subscriber": features(spec.FeatureSubscriptionRevocation)})
	far.send(&spec.Subscribe{Request: 1, Options: spec.Dict{}, Topic: "s.t"})
	sub, ok := far.recv().(*spec.Subscribed)
	if !ok {
		t.Fatal("no SUBSCRIBED")
	}
	nearClient := nodes[0].join(serializer.MessagePack)
	near := newInbox()
	id, err := nearClient.Subscribe(ctxT(t), "s.t", near.handler, nil)
	if err != nil || id != sub.Subscription {
		t.Fatalf("second subscriber holds subscription %d (%v), want %d", id, err, sub.Subscription)
	}
	admin := nodes[0].join(serializer.JSON)
	pub := nodes[2].join(serializer.CBOR)

	call(t, admin, "wamp.subscription.remove_subscriber", spec.List{int64(sub.Subscription), int64(far.id)}, spec.Dict{"reason": "wamp.close.maintenance"})
	un, ok := far.recv().(*spec.Unsubscribed)
	if !ok || un.Request != 0 {
		t.Fatalf("removed subscriber got %v, want UNSUBSCRIBED with request 0", un)
	}
	if id, _ := spec.AsID(un.Details["subscription"]); id != sub.Subscription || un.Details["reason"] != "wamp.close.maintenance" {
		t.Fatalf("UNSUBSCRIBED details %v, want the subscription and the reason", un.Details)
	}
	for i := 0; i < 3; i++ {
		if err := publish(t, pub, "s.t", spec.List{int64(i)}, ack); err != nil {
			t.Fatal(err)
		}
	}
	near.wait(t, 3)
	far.quiet(200 * time.Millisecond)

	for _, tc := range []struct {
		sub, session spec.ID
		want         spec.URI
	}{
		{sub.Subscription, far.id, spec.ErrNoSuchSession},
		{sub.Subscription, 1, spec.ErrNoSuchSession},
		{sub.Subscription + 1, nearClient.ID(), spec.ErrNoSuchSubscription},
	} {
		_, err := pub.Call(ctxT(t), "wamp.subscription.remove_subscriber", spec.List{int64(tc.sub), int64(tc.session)}, nil, nil)
		if errURI(err) != tc.want {
			t.Fatalf("remove_subscriber(%d, %d): %v, want %s", tc.sub, tc.session, err, tc.want)
		}
	}

	call(t, pub, "wamp.subscription.remove_subscriber", spec.List{int64(sub.Subscription), int64(nearClient.ID())}, nil)
	if err := publish(t, pub, "s.t", spec.List{"after"}, ack); err != nil {
		t.Fatal(err)
	}
	near.quiet(t, 3, 200*time.Millisecond)
	if _, err := admin.Call(ctxT(t), "wamp.subscription.get", spec.List{int64(sub.Subscription)}, nil, nil); errURI(err) != spec.ErrNoSuchSubscription {
		t.Fatalf("get after the last removal: %v, want %s", err, spec.ErrNoSuchSubscription)
	}
	want := []string{"on_create s.t exact", "on_delete", "on_subscribe", "on_subscribe", "on_unsubscribe", "on_unsubscribe"}
	got := w.events(len(want), 300*time.Millisecond)
	sort.Strings(got)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("meta events\n got  %v\n want %v", got, want)
	}
}

// A call routed to a node whose last callee just left, before the caller's
// node heard so, goes to the callees left elsewhere; with none left the
// caller gets wamp.error.no_such_procedure, as on one node.
func TestCallBouncedByNodeWithoutCallees(t *testing.T) {
	nodes := startCluster(t, 3)
	caller := nodes[2].join(serializer.JSON)
	a := nodes[0].join(serializer.JSON)
	b := nodes[1].join(serializer.MessagePack)
	registerID(t, a, "b.shared", spec.Dict{"invoke": "roundrobin"})
	for round := 0; round < 5; round++ {
		id := registerID(t, b, "b.shared", spec.Dict{"invoke": "roundrobin"})
		if err := b.Unregister(ctxT(t), id); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 4; i++ {
			if got := call(t, caller, "b.shared", nil, nil); got != "b.shared" {
				t.Fatalf("round %d call %d answered %v", round, i, got)
			}
		}
	}

	only := registerID(t, b, "b.only", nil)
	call(t, caller, "b.only", nil, nil)
	if err := b.Unregister(ctxT(t), only); err != nil {
		t.Fatal(err)
	}
	if _, err := caller.Call(ctxT(t), "b.only", nil, nil, nil); errURI(err) != spec.ErrNoSuchProcedure {
		t.Fatalf("a call after the only callee left: %v, want %s", err, spec.ErrNoSuchProcedure)
	}
}
