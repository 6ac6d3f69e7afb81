package router_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

func TestWelcomeAnnouncesRolesAndIdentity(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	r := tr.raw(serializer.JSON)
	w := r.hello("realm1")
	if w.Session < 1 || w.Session > spec.MaxID {
		t.Fatalf("session ID %d out of range", w.Session)
	}
	roles, _ := w.Details["roles"].(map[string]any)
	for _, role := range []string{"broker", "dealer"} {
		if _, ok := roles[role].(map[string]any); !ok {
			t.Fatalf("WELCOME roles lack %s: %v", role, roles)
		}
	}
	if !spec.HasFeature(roles, "broker", spec.FeaturePublisherExclusion) {
		t.Errorf("broker does not announce publisher_exclusion")
	}
	for _, key := range []string{"authid", "authrole", "authmethod", "authprovider"} {
		if s, _ := w.Details[key].(string); s == "" {
			t.Errorf("WELCOME.Details.%s missing: %v", key, w.Details)
		}
	}
	if w.Details["authmethod"] != "anonymous" || w.Details["authrole"] != "anonymous" {
		t.Errorf("anonymous identity expected, got %v", w.Details)
	}
}

func TestUnknownRealmIsAborted(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	r := tr.raw(serializer.JSON)
	r.send(&spec.Hello{Realm: "nosuch", Details: spec.Dict{"roles": helloRoles}})
	expectAbort(t, r.recv(), spec.ErrNoSuchRealm)
}

func TestAutoCreatedRealm(t *testing.T) {
	tr := newTestRouter(t, router.Options{AutoCreateRealms: true, MaxAutoRealms: 1})
	tr.raw(serializer.JSON).hello("fresh.realm")
	if tr.r.Realm("fresh.realm") == nil {
		t.Fatal("realm was not created")
	}
	r := tr.raw(serializer.JSON)
	r.send(&spec.Hello{Realm: "another.realm", Details: spec.Dict{"roles": helloRoles}})
	expectAbort(t, r.recv(), spec.ErrNoSuchRealm) // past MaxAutoRealms
}

func TestNoAcceptableAuthMethod(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	r := tr.raw(serializer.JSON)
	r.send(&spec.Hello{Realm: "realm1", Details: spec.Dict{"roles": helloRoles, "authmethods": []any{"ticket"}, "authid": "joe"}})
	expectAbort(t, r.recv(), spec.ErrNoAuthMethod)
}

func TestGoodbyeIsEchoedAndTransportReused(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	r := tr.raw(serializer.MessagePack)
	first := r.hello("realm1")
	r.send(&spec.Goodbye{Details: spec.Dict{}, Reason: spec.CloseNormal})
	g, ok := r.recv().(*spec.Goodbye)
	if !ok || g.Reason != spec.CloseGoodbyeAndOut {
		t.Fatalf("GOODBYE answered with %#v", g)
	}
	second := r.hello("realm1")
	if second.Session == first.Session {
		t.Fatal("a new session on the same transport reused the old session ID")
	}
	// The new session counts request IDs from 1 again.
	r.send(&spec.Subscribe{Request: 1, Options: spec.Dict{}, Topic: "a.b"})
	if _, ok := r.recv().(*spec.Subscribed); !ok {
		t.Fatal("SUBSCRIBE in the second session failed")
	}
}

// bystander is a healthy pair of sessions that must keep working while a
// neighbour misbehaves.
type bystander struct {
	t      *testing.T
	events chan *spec.Event
	pub    interface {
		Publish(ctx context.Context, topic string, args spec.List, kwargs spec.Dict, opts spec.Dict) error
	}
}

func newBystander(t *testing.T, tr *testRouter) *bystander {
	sub := tr.join(serializer.CBOR)
	pub := tr.join(serializer.JSON)
	b := &bystander{t: t, events: make(chan *spec.Event, 16), pub: pub}
	if _, err := sub.Subscribe(ctxT(t), "bystander.topic", func(e *client.Event) {
		b.events <- &spec.Event{Arguments: e.Arguments}
	}, nil); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bystander) check(n int64) {
	b.t.Helper()
	if err := b.pub.Publish(ctxT(b.t), "bystander.topic", spec.List{n}, nil, spec.Dict{"acknowledge": true}); err != nil {
		b.t.Fatalf("bystander publish: %v", err)
	}
	select {
	case e := <-b.events:
		if got, _ := spec.AsInt(e.Arguments[0]); got != n {
			b.t.Fatalf("bystander got %v, want %d", e.Arguments, n)
		}
	case <-time.After(5 * time.Second):
		b.t.Fatal("bystander lost its event")
	}
}

func TestProtocolViolationsAbortAndSpareOthers(t *testing.T) {
	cases := []struct {
		name  string
		hello bool
		msgs  []spec.Message
	}{
		{"message before HELLO", false, []spec.Message{&spec.Publish{Request: 1, Options: spec.Dict{}, Topic: "a.b"}}},
		{"GOODBYE before HELLO", false, []spec.Message{&spec.Goodbye{Details: spec.Dict{}, Reason: spec.CloseNormal}}},
		{"HELLO without roles", false, []spec.Message{&spec.Hello{Realm: "realm1", Details: spec.Dict{}}}},
		{"HELLO after establishment", true, []spec.Message{&spec.Hello{Realm: "realm1", Details: spec.Dict{"roles": helloRoles}}}},
		{"WELCOME from a client", true, []spec.Message{&spec.Welcome{Session: 5, Details: spec.Dict{}}}},
		{"ERROR with a bad request type", true, []spec.Message{&spec.Error{RequestType: 16, Request: 1, Details: spec.Dict{}, Error: "x.y"}}},
		{"ERROR with an invalid request type", true, []spec.Message{&spec.Error{RequestType: 99, Request: 1, Details: spec.Dict{}, Error: "x.y"}}},
		{"non-sequential request ID", true, []spec.Message{&spec.Subscribe{Request: 7, Options: spec.Dict{}, Topic: "a.b"}}},
		{"YIELD for an unknown invocation", true, []spec.Message{&spec.Yield{Request: 42, Options: spec.Dict{}}}},
		// Options of a message that cannot be answered with ERROR (a bad
		// request option is refused with ERROR: options_test.go).
		{"bad CANCEL mode", true, []spec.Message{&spec.Cancel{Request: 1, Options: spec.Dict{"mode": "abort"}}}},
		{"bad YIELD option type", true, []spec.Message{&spec.Yield{Request: 1, Options: spec.Dict{"progress": "yes"}}}},
	}
	tr := newTestRouter(t, router.Options{})
	b := newBystander(t, tr)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tr.raw(serializer.JSON)
			if tc.hello {
				r.hello("realm1")
			}
			for _, m := range tc.msgs {
				r.send(m)
			}
			expectAbort(t, r.recv(), spec.ErrProtocolViolation)
			r.expectClosed()
			b.check(int64(i))
		})
	}
}

func TestUndecodableFrameAborts(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	b := newBystander(t, tr)
	for i, ser := range []serializer.Serializer{serializer.JSON, serializer.MessagePack, serializer.CBOR} {
		t.Run(ser.Name(), func(t *testing.T) {
			r := tr.raw(ser)
			r.hello("realm1")
			if err := r.peer.Send([]byte{0xc1, 0xff, '[', 0x00}); err != nil {
				t.Fatal(err)
			}
			expectAbort(t, r.recv(), spec.ErrProtocolViolation)
			r.expectClosed()
			b.check(int64(i))
		})
	}
}

func TestShutdownSaysGoodbye(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	r := tr.raw(serializer.JSON)
	r.hello("realm1")
	waiting := tr.raw(serializer.JSON) // connected, no HELLO yet
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		done <- tr.r.Shutdown(ctx)
	}()
	g, ok := r.recv().(*spec.Goodbye)
	if !ok || g.Reason != spec.CloseSystemShutdown {
		t.Fatalf("got %#v, want GOODBYE system_shutdown", g)
	}
	r.send(&spec.Goodbye{Details: spec.Dict{}, Reason: spec.CloseGoodbyeAndOut})
	r.expectClosed()
	waiting.expectClosed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	late := tr.raw(serializer.JSON)
	late.expectClosed()
}
