package router_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

func collect(t *testing.T, c *client.Client, topic string, opts spec.Dict) (spec.ID, chan *client.Event) {
	t.Helper()
	ch := make(chan *client.Event, 64)
	id, err := c.Subscribe(ctxT(t), topic, func(e *client.Event) { ch <- e }, opts)
	if err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	return id, ch
}

func expectEvent(t *testing.T, ch chan *client.Event) *client.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
		return nil
	}
}

func expectNoEvent(t *testing.T, ch chan *client.Event) {
	t.Helper()
	select {
	case e := <-ch:
		t.Fatalf("unexpected event %v", e.Arguments)
	case <-time.After(100 * time.Millisecond):
	}
}

var ack = spec.Dict{"acknowledge": true}

func TestPublishReachesEverySerializerIntact(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	pub := tr.join(serializer.JSON)
	blob := []byte{0, 1, 2, 0xfe, 0xff, 'x'}
	var chans []chan *client.Event
	for _, ser := range []serializer.Serializer{serializer.JSON, serializer.MessagePack, serializer.CBOR} {
		_, ch := collect(t, tr.join(ser), "com.example.topic", nil)
		chans = append(chans, ch)
	}
	args := spec.List{"hello", int64(spec.MaxID), blob, 1.5, spec.List{int64(-3)}}
	kwargs := spec.Dict{"nested": spec.Dict{"b": blob}}
	if err := pub.Publish(ctxT(t), "com.example.topic", args, kwargs, ack); err != nil {
		t.Fatal(err)
	}
	for i, ch := range chans {
		e := expectEvent(t, ch)
		if len(e.Arguments) != 5 || e.Arguments[0] != "hello" {
			t.Fatalf("subscriber %d got %v", i, e.Arguments)
		}
		if n, _ := spec.AsInt(e.Arguments[1]); n != int64(spec.MaxID) {
			t.Errorf("subscriber %d: 2^53 arrived as %v", i, e.Arguments[1])
		}
		if b, _ := e.Arguments[2].([]byte); !bytes.Equal(b, blob) {
			t.Errorf("subscriber %d: bytes arrived as %#v", i, e.Arguments[2])
		}
		nested, _ := e.ArgumentsKw["nested"].(map[string]any)
		if b, _ := nested["b"].([]byte); !bytes.Equal(b, blob) {
			t.Errorf("subscriber %d: nested bytes arrived as %#v", i, e.ArgumentsKw)
		}
	}
}

func TestPublisherExclusion(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	c := tr.join(serializer.JSON)
	_, ch := collect(t, c, "a.topic", nil)
	if err := c.Publish(ctxT(t), "a.topic", spec.List{1}, nil, ack); err != nil {
		t.Fatal(err)
	}
	expectNoEvent(t, ch)
	if err := c.Publish(ctxT(t), "a.topic", spec.List{2}, nil, spec.Dict{"acknowledge": true, "exclude_me": false}); err != nil {
		t.Fatal(err)
	}
	if e := expectEvent(t, ch); e.Arguments[0] != int64(2) {
		t.Fatalf("got %v", e.Arguments)
	}
}

func TestSubscriptionIDIsSharedAndStable(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	a, b := tr.join(serializer.JSON), tr.join(serializer.CBOR)
	id1, _ := collect(t, a, "shared.topic", nil)
	id2, _ := collect(t, a, "shared.topic", nil)
	id3, _ := collect(t, b, "shared.topic", nil)
	if id1 != id2 || id1 != id3 {
		t.Fatalf("subscription IDs %d %d %d, want one shared ID", id1, id2, id3)
	}
}

func TestUnsubscribe(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	sub, pub := tr.join(serializer.JSON), tr.join(serializer.JSON)
	id, ch := collect(t, sub, "u.topic", nil)
	if err := sub.Unsubscribe(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctxT(t), "u.topic", spec.List{1}, nil, ack); err != nil {
		t.Fatal(err)
	}
	expectNoEvent(t, ch)
	if err := sub.Unsubscribe(ctxT(t), id); wampErrorURI(err) != spec.ErrNoSuchSubscription {
		t.Fatalf("second unsubscribe: %v, want no_such_subscription", err)
	}
}

func TestPublishAndSubscribeErrors(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	c := tr.join(serializer.JSON)
	if _, err := c.Subscribe(ctxT(t), "bad..uri", func(*client.Event) {}, nil); wampErrorURI(err) != spec.ErrInvalidURI {
		t.Errorf("subscribe bad URI: %v", err)
	}
	if err := c.Publish(ctxT(t), "bad uri", nil, nil, ack); wampErrorURI(err) != spec.ErrInvalidURI {
		t.Errorf("publish bad URI: %v", err)
	}
	if err := c.Publish(ctxT(t), "wamp.session.on_join", nil, nil, ack); wampErrorURI(err) != spec.ErrNotAuthorized {
		t.Errorf("publish under wamp.: %v", err)
	}
}

func TestStrictURIs(t *testing.T) {
	tr := newTestRouter(t, router.Options{StrictURIs: true})
	c := tr.join(serializer.JSON)
	if err := c.Publish(ctxT(t), "Com.Example", nil, nil, ack); wampErrorURI(err) != spec.ErrInvalidURI {
		t.Errorf("strict rules accepted upper case: %v", err)
	}
	if err := c.Publish(ctxT(t), "com.example", nil, nil, ack); err != nil {
		t.Errorf("strict rules refused a valid URI: %v", err)
	}
}

func TestLeavingDropsSubscriptions(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	a := tr.join(serializer.JSON)
	idA, _ := collect(t, a, "leave.topic", nil)
	if err := a.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	b := tr.join(serializer.JSON)
	idB, _ := collect(t, b, "leave.topic", nil)
	if idA == idB {
		t.Fatal("the subscription outlived its only subscriber")
	}
}

func TestBlackAndWhiteListing(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	pub := tr.join(serializer.JSON)
	a, b, c := tr.join(serializer.JSON), tr.join(serializer.JSON), tr.join(serializer.JSON)
	_, cha := collect(t, a, "bw.topic", nil)
	_, chb := collect(t, b, "bw.topic", nil)
	_, chc := collect(t, c, "bw.topic", nil)
	opts := spec.Dict{"acknowledge": true, "eligible": []any{int64(a.ID()), int64(b.ID())}, "exclude": []any{int64(b.ID())}}
	if err := pub.Publish(ctxT(t), "bw.topic", spec.List{"x"}, nil, opts); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, cha)
	expectNoEvent(t, chb)
	expectNoEvent(t, chc)
	// A whitelist that matches nobody delivers to nobody.
	opts = spec.Dict{"acknowledge": true, "eligible_authrole": []any{"nobody"}}
	if err := pub.Publish(ctxT(t), "bw.topic", spec.List{"y"}, nil, opts); err != nil {
		t.Fatal(err)
	}
	expectNoEvent(t, cha)
	expectNoEvent(t, chc)
}

func TestPublisherDisclosure(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	pub, sub := tr.join(serializer.JSON), tr.join(serializer.MessagePack)
	_, ch := collect(t, sub, "d.topic", nil)
	if err := pub.Publish(ctxT(t), "d.topic", nil, nil, spec.Dict{"acknowledge": true, "disclose_me": true}); err != nil {
		t.Fatal(err)
	}
	e := expectEvent(t, ch)
	if id, _ := spec.AsID(e.Details["publisher"]); id != pub.ID() {
		t.Fatalf("publisher %v, want %d", e.Details["publisher"], pub.ID())
	}
}

func TestEventsArriveInOrder(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	pub, sub := tr.join(serializer.MessagePack), tr.join(serializer.CBOR)
	_, ch := collect(t, sub, "order.topic", nil)
	const n = 50
	for i := 0; i < n; i++ {
		if err := pub.Publish(ctxT(t), "order.topic", spec.List{int64(i)}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		e := expectEvent(t, ch)
		if got, _ := spec.AsInt(e.Arguments[0]); got != int64(i) {
			t.Fatalf("event %d arrived as %d", i, got)
		}
	}
}
