package router_test

import (
	"testing"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

func call1(t *testing.T, c *client.Client, proc string, args spec.List, kwargs spec.Dict) any {
	t.Helper()
	res, err := c.Call(ctxT(t), proc, args, kwargs, nil)
	if err != nil {
		t.Fatalf("%s: %v", proc, err)
	}
	if len(res.Arguments) == 0 {
		return nil
	}
	return res.Arguments[0]
}

func TestSessionMetaAPI(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	admin := tr.join(serializer.JSON)
	_, joins := collect(t, admin, "wamp.session.on_join", nil)
	_, leaves := collect(t, admin, "wamp.session.on_leave", nil)
	other := tr.join(serializer.CBOR)
	j := expectEvent(t, joins)
	details, _ := j.Arguments[0].(map[string]any)
	if id, _ := spec.AsID(details["session"]); id != other.ID() {
		t.Fatalf("on_join for %v, want %d", details["session"], other.ID())
	}
	if n, _ := spec.AsInt(call1(t, admin, "wamp.session.count", nil, nil)); n != 2 {
		t.Fatalf("count = %d, want 2", n)
	}
	if n, _ := spec.AsInt(call1(t, admin, "wamp.session.count", spec.List{spec.List{"nobody"}}, nil)); n != 0 {
		t.Fatalf("count filtered by role = %d, want 0", n)
	}
	list, _ := call1(t, admin, "wamp.session.list", nil, nil).([]any)
	if len(list) != 2 {
		t.Fatalf("list = %v", list)
	}
	got, _ := call1(t, admin, "wamp.session.get", spec.List{int64(other.ID())}, nil).(map[string]any)
	if got["authrole"] != "anonymous" {
		t.Fatalf("get = %v", got)
	}
	if _, err := admin.Call(ctxT(t), "wamp.session.get", spec.List{int64(12345)}, nil, nil); wampErrorURI(err) != spec.ErrNoSuchSession {
		t.Fatalf("get unknown: %v", err)
	}
	if _, err := admin.Call(ctxT(t), "wamp.session.kill", spec.List{int64(admin.ID())}, nil, nil); wampErrorURI(err) != spec.ErrNoSuchSession {
		t.Fatalf("kill self: %v", err)
	}
	call1(t, admin, "wamp.session.kill", spec.List{int64(other.ID())}, spec.Dict{"message": "bye"})
	<-other.Done()
	if uri := wampErrorURI(other.Err()); uri != spec.CloseKilled {
		t.Fatalf("killed session ended with %v", other.Err())
	}
	l := expectEvent(t, leaves)
	if id, _ := spec.AsID(l.Arguments[0]); id != other.ID() || len(l.Arguments) != 3 {
		t.Fatalf("on_leave %v", l.Arguments)
	}
}

func TestKillByAuthRoleAndAll(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	admin := tr.join(serializer.JSON)
	a, b := tr.join(serializer.JSON), tr.join(serializer.JSON)
	if n, _ := spec.AsInt(call1(t, admin, "wamp.session.kill_by_authrole", spec.List{"anonymous"}, nil)); n != 2 {
		t.Fatalf("kill_by_authrole killed %d, want 2 (the caller excluded)", n)
	}
	<-a.Done()
	<-b.Done()
	c := tr.join(serializer.JSON)
	ids, _ := call1(t, admin, "wamp.session.kill_by_authid", spec.List{c.Details()["authid"]}, nil).([]any)
	if len(ids) != 1 {
		t.Fatalf("kill_by_authid = %v", ids)
	}
	<-c.Done()
	tr.join(serializer.JSON)
	if n, _ := spec.AsInt(call1(t, admin, "wamp.session.kill_all", nil, nil)); n != 1 {
		t.Fatalf("kill_all killed %d", n)
	}
	if _, err := admin.Call(ctxT(t), "wamp.session.kill_all", nil, spec.Dict{"reason": "not a uri"}, nil); wampErrorURI(err) != spec.ErrInvalidURI {
		t.Fatalf("bad reason: %v", err)
	}
}

func TestRegistrationMetaAPI(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	admin, callee := tr.join(serializer.JSON), tr.join(serializer.MessagePack)
	events := make(chan string, 16)
	for _, topic := range []string{"wamp.registration.on_create", "wamp.registration.on_register", "wamp.registration.on_unregister", "wamp.registration.on_delete"} {
		topic := topic
		if _, err := admin.Subscribe(ctxT(t), topic, func(*client.Event) { events <- topic }, nil); err != nil {
			t.Fatal(err)
		}
	}
	id, err := callee.Register(ctxT(t), "meta.proc", echo, spec.Dict{"match": "prefix"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"wamp.registration.on_create", "wamp.registration.on_register"} {
		if got := <-events; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	lists, _ := call1(t, admin, "wamp.registration.list", nil, nil).(map[string]any)
	if p, _ := lists["prefix"].([]any); len(p) != 1 {
		t.Fatalf("list = %v", lists)
	}
	if got, _ := spec.AsID(call1(t, admin, "wamp.registration.lookup", spec.List{"meta.proc", spec.Dict{"match": "prefix"}}, nil)); got != id {
		t.Fatalf("lookup = %v", got)
	}
	if got := call1(t, admin, "wamp.registration.lookup", spec.List{"meta.proc"}, nil); got != nil {
		t.Fatalf("exact lookup of a prefix registration = %v", got)
	}
	if got, _ := spec.AsID(call1(t, admin, "wamp.registration.match", spec.List{"meta.proc.x"}, nil)); got != id {
		t.Fatalf("match = %v", got)
	}
	details, _ := call1(t, admin, "wamp.registration.get", spec.List{int64(id)}, nil).(map[string]any)
	if details["uri"] != "meta.proc" || details["match"] != "prefix" || details["invoke"] != "single" {
		t.Fatalf("get = %v", details)
	}
	callees, _ := call1(t, admin, "wamp.registration.list_callees", spec.List{int64(id)}, nil).([]any)
	if len(callees) != 1 {
		t.Fatalf("list_callees = %v", callees)
	}
	if n, _ := spec.AsInt(call1(t, admin, "wamp.registration.count_callees", spec.List{int64(id)}, nil)); n != 1 {
		t.Fatalf("count_callees = %d", n)
	}
	if err := callee.Unregister(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"wamp.registration.on_unregister", "wamp.registration.on_delete"} {
		if got := <-events; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	if _, err := admin.Call(ctxT(t), "wamp.registration.get", spec.List{int64(id)}, nil, nil); wampErrorURI(err) != spec.ErrNoSuchRegistration {
		t.Fatalf("get after delete: %v", err)
	}
}

func TestSubscriptionMetaAPI(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	admin, sub := tr.join(serializer.JSON), tr.join(serializer.CBOR)
	events := make(chan string, 16)
	for _, topic := range []string{"wamp.subscription.on_create", "wamp.subscription.on_subscribe", "wamp.subscription.on_unsubscribe", "wamp.subscription.on_delete"} {
		topic := topic
		if _, err := admin.Subscribe(ctxT(t), topic, func(*client.Event) { events <- topic }, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The admin's own subscriptions to the meta topics produced meta events
	// too; the test watches only what follows.
	call1(t, admin, "wamp.session.count", nil, nil)
	for len(events) > 0 {
		<-events
	}
	id, _ := collect(t, sub, "meta..topic", spec.Dict{"match": "wildcard"})
	for _, want := range []string{"wamp.subscription.on_create", "wamp.subscription.on_subscribe"} {
		if got := <-events; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	matches, _ := call1(t, admin, "wamp.subscription.match", spec.List{"meta.x.topic"}, nil).([]any)
	if len(matches) != 1 {
		t.Fatalf("match = %v", matches)
	}
	if got := call1(t, admin, "wamp.subscription.match", spec.List{"nothing.here"}, nil); got != nil {
		t.Fatalf("match of nothing = %v", got)
	}
	if n, _ := spec.AsInt(call1(t, admin, "wamp.subscription.count_subscribers", spec.List{int64(id)}, nil)); n != 1 {
		t.Fatalf("count_subscribers = %d", n)
	}
	subs, _ := call1(t, admin, "wamp.subscription.list_subscribers", spec.List{int64(id)}, nil).([]any)
	if got, _ := spec.AsID(subs[0]); got != sub.ID() {
		t.Fatalf("list_subscribers = %v", subs)
	}
	sub.Close(ctxT(t))
	for _, want := range []string{"wamp.subscription.on_unsubscribe", "wamp.subscription.on_delete"} {
		if got := <-events; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
}

func TestTestaments(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	watcher, dying := tr.join(serializer.JSON), tr.join(serializer.MessagePack)
	_, ch := collect(t, watcher, "com.example.last_will", nil)
	for i := 1; i <= 3; i++ {
		call1(t, dying, "wamp.session.add_testament", spec.List{"com.example.last_will", spec.List{int64(i)}, spec.Dict{}}, nil)
	}
	call1(t, dying, "wamp.session.add_testament", spec.List{"com.example.last_will", spec.List{int64(0)}, spec.Dict{}}, spec.Dict{"scope": "detached"})
	call1(t, dying, "wamp.session.add_testament", spec.List{"com.example.flushed", spec.List{}, spec.Dict{}}, spec.Dict{"scope": "detached"})
	call1(t, dying, "wamp.session.flush_testaments", nil, spec.Dict{"scope": "detached"})
	dying.Close(ctxT(t))
	for i := 1; i <= 3; i++ {
		e := expectEvent(t, ch)
		if n, _ := spec.AsInt(e.Arguments[0]); n != int64(i) {
			t.Fatalf("testament %d arrived as %v", i, e.Arguments)
		}
	}
	expectNoEvent(t, ch)
}

// TestKillSessionWithPendingCalls: killing a callee with an invocation in
// flight answers its caller with canceled; killing a caller with a call in
// flight interrupts the callee; the survivors keep working.
func TestKillSessionWithPendingCalls(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	admin := tr.join(serializer.JSON)
	callee := tr.raw(serializer.JSON)
	cw := callee.helloWith(fullCallee())
	callee.register(1, "pending.proc", nil)
	caller := tr.raw(serializer.MessagePack)
	caller.helloWith(fullCaller())

	// A caller killed with a call in flight: the callee is interrupted.
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{}, Procedure: "pending.proc"})
	inv := callee.recv().(*spec.Invocation)
	var callerID spec.ID
	ids, _ := call1(t, admin, "wamp.session.list", nil, nil).([]any)
	for _, v := range ids {
		id, _ := spec.AsID(v)
		if id != admin.ID() && id != cw.Session {
			callerID = id
		}
	}
	call1(t, admin, "wamp.session.kill", spec.List{int64(callerID)}, nil)
	if g, ok := caller.recv().(*spec.Goodbye); !ok || g.Reason != spec.CloseKilled {
		t.Fatalf("the killed caller got %#v", g)
	}
	caller.send(&spec.Goodbye{Details: spec.Dict{}, Reason: spec.CloseGoodbyeAndOut})
	intr, ok := callee.recv().(*spec.Interrupt)
	if !ok || intr.Request != inv.Request {
		t.Fatalf("the callee got %#v, want INTERRUPT for %d", intr, inv.Request)
	}

	// A callee killed with an invocation in flight: its caller gets canceled.
	second := tr.join(serializer.CBOR)
	errc := make(chan error, 1)
	go func() {
		_, err := second.Call(ctxT(t), "pending.proc", nil, nil, nil)
		errc <- err
	}()
	callee.recv() // the INVOCATION
	call1(t, admin, "wamp.session.kill", spec.List{int64(cw.Session)}, nil)
	if err := <-errc; wampErrorURI(err) != spec.ErrCanceled {
		t.Fatalf("the caller of a killed callee got %v", err)
	}
	if _, err := second.Call(ctxT(t), "pending.proc", nil, nil, nil); wampErrorURI(err) != spec.ErrNoSuchProcedure {
		t.Fatalf("the killed callee's registration survived: %v", err)
	}
}
