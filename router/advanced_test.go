package router_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// features builds HELLO roles announcing the given features for each role.
func features(m map[string][]string) spec.Dict {
	roles := spec.Dict{}
	for role, fs := range m {
		f := spec.Dict{}
		for _, name := range fs {
			f[name] = true
		}
		roles[role] = spec.Dict{"features": f}
	}
	return roles
}

func (r *raw) helloWith(roles spec.Dict) *spec.Welcome {
	r.t.Helper()
	r.send(&spec.Hello{Realm: "realm1", Details: spec.Dict{"roles": roles}})
	w, ok := r.recv().(*spec.Welcome)
	if !ok {
		r.t.Fatal("no WELCOME")
	}
	return w
}

func (r *raw) register(req spec.ID, proc string, opts spec.Dict) spec.ID {
	r.t.Helper()
	if opts == nil {
		opts = spec.Dict{}
	}
	r.send(&spec.Register{Request: req, Options: opts, Procedure: spec.URI(proc)})
	reg, ok := r.recv().(*spec.Registered)
	if !ok {
		r.t.Fatalf("register %s failed", proc)
	}
	return reg.Registration
}

func fullCallee() spec.Dict {
	return features(map[string][]string{"callee": {
		spec.FeatureCallCanceling, spec.FeatureProgressiveCallResults, spec.FeatureProgressiveCallInvocations,
		spec.FeatureCallTimeout, spec.FeatureRegistrationRevocation, spec.FeaturePayloadPassthruMode,
	}})
}

func fullCaller() spec.Dict {
	return features(map[string][]string{"caller": {
		spec.FeatureCallCanceling, spec.FeatureProgressiveCallResults, spec.FeatureProgressiveCallInvocations,
		spec.FeatureCallTimeout, spec.FeaturePayloadPassthruMode,
	}})
}

func TestCallTimeoutInterruptsCallee(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee := tr.raw(serializer.JSON)
	callee.helloWith(fullCallee())
	callee.register(1, "slow.proc", nil)
	caller := tr.raw(serializer.JSON)
	caller.helloWith(fullCaller())
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{"timeout": int64(50)}, Procedure: "slow.proc"})
	inv := callee.recv().(*spec.Invocation)
	if _, forwarded := inv.Details["timeout"]; forwarded {
		t.Fatal("timeout forwarded to a callee that did not ask for it")
	}
	expectError(t, caller.recv(), spec.TypeCall, 1, spec.ErrTimeout)
	intr, ok := callee.recv().(*spec.Interrupt)
	if !ok || intr.Request != inv.Request || intr.Options["mode"] != "killnowait" {
		t.Fatalf("got %#v, want INTERRUPT killnowait", intr)
	}
	// The result racing the timeout is dropped.
	callee.send(&spec.Yield{Request: inv.Request, Options: spec.Dict{}})
	caller.send(&spec.Subscribe{Request: 2, Options: spec.Dict{}, Topic: "after.timeout"})
	if _, ok := caller.recv().(*spec.Subscribed); !ok {
		t.Fatal("a late RESULT reached the caller after the timeout")
	}
}

func TestCallTimeoutForwardedToCallee(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee := tr.raw(serializer.JSON)
	callee.helloWith(fullCallee())
	callee.register(1, "fwd.proc", spec.Dict{"forward_timeout": true})
	caller := tr.raw(serializer.JSON)
	caller.helloWith(fullCaller())
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{"timeout": int64(30)}, Procedure: "fwd.proc"})
	inv := callee.recv().(*spec.Invocation)
	if n, _ := spec.AsInt(inv.Details["timeout"]); n != 30 {
		t.Fatalf("INVOCATION.Details.timeout = %v", inv.Details["timeout"])
	}
	time.Sleep(80 * time.Millisecond) // the dealer must not time it out itself
	callee.send(&spec.Yield{Request: inv.Request, Options: spec.Dict{}, Arguments: spec.List{"late but fine"}})
	if res, ok := caller.recv().(*spec.Result); !ok || res.Arguments[0] != "late but fine" {
		t.Fatalf("got %#v", res)
	}
}

func TestTimeoutBetweenProgressiveResults(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee := tr.raw(serializer.JSON)
	callee.helloWith(fullCallee())
	callee.register(1, "stream.proc", nil)
	caller := tr.raw(serializer.JSON)
	caller.helloWith(fullCaller())
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{"timeout": int64(400), "receive_progress": true}, Procedure: "stream.proc"})
	inv := callee.recv().(*spec.Invocation)
	for i := 0; i < 6; i++ {
		time.Sleep(100 * time.Millisecond) // 600ms in all: past the timeout, but never between results
		callee.send(&spec.Yield{Request: inv.Request, Options: spec.Dict{"progress": true}, Arguments: spec.List{int64(i)}})
		if res, ok := caller.recv().(*spec.Result); !ok || res.Details["progress"] != true {
			t.Fatalf("progress %d: got %#v", i, res)
		}
	}
	callee.send(&spec.Yield{Request: inv.Request, Options: spec.Dict{}, Arguments: spec.List{"end"}})
	if res, ok := caller.recv().(*spec.Result); !ok || res.Arguments[0] != "end" {
		t.Fatalf("final: got %#v", res)
	}
}

func TestProgressiveResultsNeedCalleeCanceling(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee := tr.raw(serializer.JSON)
	callee.helloWith(features(map[string][]string{"callee": {spec.FeatureProgressiveCallResults}}))
	callee.register(1, "p.proc", nil)
	caller := tr.raw(serializer.JSON)
	caller.helloWith(fullCaller())
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{"receive_progress": true}, Procedure: "p.proc"})
	inv := callee.recv().(*spec.Invocation)
	if inv.Details["receive_progress"] != nil {
		t.Fatal("receive_progress sent to a callee without call_canceling")
	}
}

func TestProgressiveCallInvocations(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee := tr.raw(serializer.MessagePack)
	callee.helloWith(fullCallee())
	callee.register(1, "upload.proc", nil)
	caller := tr.raw(serializer.JSON)
	caller.helloWith(fullCaller())
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{"progress": true}, Procedure: "upload.proc", Arguments: spec.List{"chunk0"}})
	first := callee.recv().(*spec.Invocation)
	if first.Details["progress"] != true {
		t.Fatalf("first INVOCATION details %v", first.Details)
	}
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{"progress": true}, Procedure: "upload.proc", Arguments: spec.List{"chunk1"}})
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{}, Procedure: "upload.proc", Arguments: spec.List{"last"}})
	for _, want := range []string{"chunk1", "last"} {
		inv := callee.recv().(*spec.Invocation)
		if inv.Request != first.Request || inv.Arguments[0] != want {
			t.Fatalf("got INVOCATION %d %v, want %d %s", inv.Request, inv.Arguments, first.Request, want)
		}
		if (inv.Details["progress"] == true) != (want != "last") {
			t.Fatalf("progress flag wrong on %s: %v", want, inv.Details)
		}
	}
	callee.send(&spec.Yield{Request: first.Request, Options: spec.Dict{}, Arguments: spec.List{int64(3)}})
	if res, ok := caller.recv().(*spec.Result); !ok || res.Request != 1 {
		t.Fatalf("got %#v", res)
	}
	// A continuation of a finished call is discarded; the next new call is 2.
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{}, Procedure: "upload.proc"})
	caller.send(&spec.Call{Request: 2, Options: spec.Dict{}, Procedure: "upload.proc"})
	if inv := callee.recv().(*spec.Invocation); inv.Request == first.Request {
		t.Fatal("a continuation of a finished call was forwarded")
	}
	// Skipping ahead is a violation.
	caller.send(&spec.Call{Request: 9, Options: spec.Dict{}, Procedure: "upload.proc"})
	expectAbort(t, caller.recv(), spec.ErrProtocolViolation)
}

func TestProgressiveInvocationsUnannouncedOrUnsupported(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	plain := tr.raw(serializer.JSON)
	plain.helloWith(features(map[string][]string{"callee": {spec.FeatureCallCanceling}}))
	plain.register(1, "plain.proc", nil)
	caller := tr.raw(serializer.JSON)
	caller.helloWith(fullCaller())
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{"progress": true}, Procedure: "plain.proc"})
	expectError(t, caller.recv(), spec.TypeCall, 1, spec.ErrFeatureNotSupported)
	rude := tr.raw(serializer.JSON)
	rude.helloWith(features(map[string][]string{"caller": {}}))
	rude.send(&spec.Call{Request: 1, Options: spec.Dict{"progress": true}, Procedure: "plain.proc"})
	expectAbort(t, rude.recv(), spec.ErrProtocolViolation)
}

func TestCancelModes(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee := tr.raw(serializer.JSON)
	callee.helloWith(fullCallee())
	callee.register(1, "c.proc", nil)
	caller := tr.raw(serializer.JSON)
	caller.helloWith(fullCaller())

	// kill: INTERRUPT, and the callee's answer reaches the caller.
	caller.send(&spec.Call{Request: 1, Options: spec.Dict{}, Procedure: "c.proc"})
	inv := callee.recv().(*spec.Invocation)
	caller.send(&spec.Cancel{Request: 1, Options: spec.Dict{"mode": "kill"}})
	intr := callee.recv().(*spec.Interrupt)
	if intr.Request != inv.Request || intr.Options["mode"] != "kill" {
		t.Fatalf("INTERRUPT %#v", intr)
	}
	callee.send(&spec.Error{RequestType: spec.TypeInvocation, Request: inv.Request, Details: spec.Dict{}, Error: spec.ErrCanceled, Arguments: spec.List{"stopped"}})
	e := expectError(t, caller.recv(), spec.TypeCall, 1, spec.ErrCanceled)
	if e.Arguments[0] != "stopped" {
		t.Fatalf("the callee's answer was not forwarded: %v", e.Arguments)
	}

	// killnowait: the caller is answered at once.
	caller.send(&spec.Call{Request: 2, Options: spec.Dict{}, Procedure: "c.proc"})
	if _, ok := callee.recv().(*spec.Invocation); !ok {
		t.Fatal("no INVOCATION")
	}
	caller.send(&spec.Cancel{Request: 2, Options: spec.Dict{"mode": "killnowait"}})
	expectError(t, caller.recv(), spec.TypeCall, 2, spec.ErrCanceled)
	if intr := callee.recv().(*spec.Interrupt); intr.Options["mode"] != "killnowait" {
		t.Fatalf("INTERRUPT %#v", intr)
	}

	// skip: answered at once, the callee is not told.
	caller.send(&spec.Call{Request: 3, Options: spec.Dict{}, Procedure: "c.proc"})
	if _, ok := callee.recv().(*spec.Invocation); !ok {
		t.Fatal("no INVOCATION")
	}
	caller.send(&spec.Cancel{Request: 3, Options: spec.Dict{"mode": "skip"}})
	expectError(t, caller.recv(), spec.TypeCall, 3, spec.ErrCanceled)
	callee.send(&spec.Subscribe{Request: 2, Options: spec.Dict{}, Topic: "no.interrupt"})
	if _, ok := callee.recv().(*spec.Subscribed); !ok {
		t.Fatal("skip sent the callee something")
	}
}

func TestPayloadPassthru(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	callee := tr.raw(serializer.CBOR)
	callee.helloWith(fullCallee())
	callee.register(1, "e2e.proc", nil)
	caller := tr.raw(serializer.MessagePack)
	caller.helloWith(fullCaller())
	blob := []byte{0xde, 0xad, 0xbe, 0xef}
	ppt := spec.Dict{"ppt_scheme": "x_custom", "ppt_serializer": "cbor", "ppt_cipher": "xsalsa20poly1305", "ppt_keyid": "k1"}
	caller.send(&spec.Call{Request: 1, Options: ppt, Procedure: "e2e.proc", Arguments: spec.List{blob}})
	inv := callee.recv().(*spec.Invocation)
	for k, v := range ppt {
		if inv.Details[k] != v {
			t.Fatalf("INVOCATION.Details.%s = %v, want %v", k, inv.Details[k], v)
		}
	}
	if b, _ := inv.Arguments[0].([]byte); !bytes.Equal(b, blob) {
		t.Fatalf("payload changed: %#v", inv.Arguments)
	}
	callee.send(&spec.Yield{Request: inv.Request, Options: spec.Dict{"ppt_scheme": "x_custom"}, Arguments: spec.List{blob}})
	res := caller.recv().(*spec.Result)
	if res.Details["ppt_scheme"] != "x_custom" {
		t.Fatalf("RESULT.Details %v", res.Details)
	}
	// A callee that did not announce the feature is not given the payload.
	plain := tr.raw(serializer.JSON)
	plain.helloWith(features(map[string][]string{"callee": {}}))
	plain.register(1, "plain.e2e", nil)
	caller.send(&spec.Call{Request: 2, Options: ppt, Procedure: "plain.e2e", Arguments: spec.List{blob}})
	expectError(t, caller.recv(), spec.TypeCall, 2, spec.ErrFeatureNotSupported)
	// Using it without announcing it is a violation.
	rude := tr.raw(serializer.JSON)
	rude.helloWith(features(map[string][]string{"publisher": {}}))
	rude.send(&spec.Publish{Request: 1, Options: ppt, Topic: "x.y", Arguments: spec.List{blob}})
	expectAbort(t, rude.recv(), spec.ErrProtocolViolation)
}

func TestEventRetention(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	pub := tr.join(serializer.JSON)
	if err := pub.Publish(ctxT(t), "r.topic", spec.List{"old"}, nil, spec.Dict{"acknowledge": true, "retain": true}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctxT(t), "r.topic", spec.List{"newest"}, nil, spec.Dict{"acknowledge": true, "retain": true}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctxT(t), "r.topic", spec.List{"not retained"}, nil, spec.Dict{"acknowledge": true}); err != nil {
		t.Fatal(err)
	}
	sub := tr.join(serializer.CBOR)
	_, ch := collect(t, sub, "r.topic", spec.Dict{"get_retained": true})
	e := expectEvent(t, ch)
	if e.Arguments[0] != "newest" || e.Details["retained"] != true {
		t.Fatalf("retained event %v %v", e.Arguments, e.Details)
	}
	expectNoEvent(t, ch)
	_, pch := collect(t, sub, "r", spec.Dict{"match": "prefix", "get_retained": true})
	if e := expectEvent(t, pch); e.Arguments[0] != "newest" || e.Details["topic"] != "r.topic" {
		t.Fatalf("retained event for a prefix subscription %v %v", e.Arguments, e.Details)
	}
	_, none := collect(t, tr.join(serializer.JSON), "r.topic", nil)
	expectNoEvent(t, none) // without get_retained
	// A retained event keeps its whitelist.
	if err := pub.Publish(ctxT(t), "w.topic", spec.List{"vip"}, nil, spec.Dict{"acknowledge": true, "retain": true, "eligible_authrole": []any{"vip"}}); err != nil {
		t.Fatal(err)
	}
	_, wch := collect(t, tr.join(serializer.JSON), "w.topic", spec.Dict{"get_retained": true})
	expectNoEvent(t, wch)
}

func TestEventHistory(t *testing.T) {
	tr := newTestRouter(t, router.Options{Realms: []router.RealmConfig{{
		Name:    "realm1",
		History: []router.HistoryConfig{{Topic: "h.topic", Limit: 3}},
	}}})
	pub, reader := tr.join(serializer.JSON), tr.join(serializer.MessagePack)
	subID, _ := collect(t, reader, "h.topic", nil)
	for i := 0; i < 5; i++ {
		if err := pub.Publish(ctxT(t), "h.topic", spec.List{int64(i)}, spec.Dict{"i": int64(i)}, ack); err != nil {
			t.Fatal(err)
		}
	}
	// Aimed at one session: not kept.
	if err := pub.Publish(ctxT(t), "h.topic", spec.List{int64(99)}, nil, spec.Dict{"acknowledge": true, "eligible": []any{int64(reader.ID())}}); err != nil {
		t.Fatal(err)
	}
	events, _ := call1(t, reader, "wamp.subscription.get_events", spec.List{int64(subID)}, nil).([]any)
	if len(events) != 3 {
		t.Fatalf("history has %d events, want the last 3: %v", len(events), events)
	}
	for i, e := range events {
		d := e.(map[string]any)
		args := d["args"].([]any)
		if n, _ := spec.AsInt(args[0]); n != int64(i+2) {
			t.Fatalf("event %d is %v", i, args)
		}
		if _, err := time.Parse(time.RFC3339Nano, d["timestamp"].(string)); err != nil {
			t.Fatalf("timestamp %v", d["timestamp"])
		}
	}
	rev, _ := call1(t, reader, "wamp.subscription.get_events", spec.List{int64(subID)}, spec.Dict{"limit": int64(1), "reverse": true}).([]any)
	if len(rev) != 1 {
		t.Fatalf("limit 1 reverse gave %v", rev)
	}
	if n, _ := spec.AsInt(rev[0].(map[string]any)["args"].([]any)[0]); n != 4 {
		t.Fatalf("newest event is %v", rev)
	}
	otherID, _ := collect(t, reader, "no.history", nil)
	if _, err := reader.Call(ctxT(t), "wamp.subscription.get_events", spec.List{int64(otherID)}, nil, nil); wampErrorURI(err) != router.ErrHistoryUnavailable {
		t.Fatalf("history of an unconfigured topic: %v", err)
	}
}

func TestRevocation(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	admin := tr.join(serializer.JSON)
	callee := tr.raw(serializer.JSON)
	w := callee.helloWith(fullCallee())
	regID := callee.register(1, "rev.proc", nil)
	call1(t, admin, "wamp.registration.remove_callee", spec.List{int64(regID), int64(w.Session)}, spec.Dict{"reason": "maintenance"})
	u, ok := callee.recv().(*spec.Unregistered)
	if !ok || u.Request != 0 || u.Details["reason"] != "maintenance" {
		t.Fatalf("got %#v, want UNREGISTERED revocation", u)
	}
	if id, _ := spec.AsID(u.Details["registration"]); id != regID {
		t.Fatalf("revoked registration %v", u.Details)
	}
	if _, err := admin.Call(ctxT(t), "rev.proc", nil, nil, nil); wampErrorURI(err) != spec.ErrNoSuchProcedure {
		t.Fatalf("call after revocation: %v", err)
	}

	sub := tr.raw(serializer.JSON)
	sw := sub.helloWith(features(map[string][]string{"subscriber": {spec.FeatureSubscriptionRevocation}}))
	sub.send(&spec.Subscribe{Request: 1, Options: spec.Dict{}, Topic: "rev.topic"})
	subID := sub.recv().(*spec.Subscribed).Subscription
	call1(t, admin, "wamp.subscription.remove_subscriber", spec.List{int64(subID), int64(sw.Session)}, nil)
	us, ok := sub.recv().(*spec.Unsubscribed)
	if !ok || us.Request != 0 {
		t.Fatalf("got %#v, want UNSUBSCRIBED revocation", us)
	}
	if _, err := admin.Call(ctxT(t), "wamp.subscription.remove_subscriber", spec.List{int64(subID), int64(sw.Session)}, nil, nil); wampErrorURI(err) != spec.ErrNoSuchSubscription {
		t.Fatalf("second removal: %v", err)
	}
}
