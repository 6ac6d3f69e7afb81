package router_test

import (
	"context"
	"math"
	"reflect"
	"testing"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// chainPayload has nested lists and dicts, integers beyond 2^53 and beyond
// int64, floats, unicode text and binary: what must survive the router's
// raw splicing and its transcoding alike.
func chainPayload() (spec.List, spec.Dict) {
	return spec.List{
			int64(1)<<53 + 1, int64(-1) << 62, uint64(math.MaxUint64), 2.5, -1e-3, 3.0,
			"zürich 東京 🚀", []byte{0, 0xfe, 0xff}, spec.List{spec.List{}, spec.Dict{"x": spec.List{true, nil}}},
		}, spec.Dict{
			"bin":   []byte("\x00raw"),
			"deep":  spec.Dict{"n": uint64(1) << 63, "s": "é"},
			"empty": spec.Dict{},
		}
}

// TestPayloadCrossesSerializerChain: a caller calls a relay, which calls
// an echo callee with the arguments it was given and returns what it gets
// back, each of the three in its own format, in every order of JSON,
// MessagePack and CBOR. The router forwards each payload raw between
// peers of one format and transcodes it between two; every peer must see
// exactly the values sent, and so must the caller at the end.
func TestPayloadCrossesSerializerChain(t *testing.T) {
	sers := []serializer.Serializer{serializer.JSON, serializer.MessagePack, serializer.CBOR}
	args, kwargs := chainPayload()
	check := func(t *testing.T, who string, a spec.List, kw spec.Dict) {
		t.Helper()
		if !reflect.DeepEqual(a, args) || !reflect.DeepEqual(kw, kwargs) {
			t.Errorf("%s got\n%#v %#v\nwant\n%#v %#v", who, a, kw, args, kwargs)
		}
	}
	for _, a := range sers {
		for _, b := range sers {
			for _, c := range sers {
				t.Run(a.Name()+"→"+b.Name()+"→"+c.Name(), func(t *testing.T) {
					tr := newTestRouter(t, router.Options{})
					echoer := tr.join(c)
					if _, err := echoer.Register(ctxT(t), "com.example.echo", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
						check(t, "echo callee ("+c.Name()+")", inv.Arguments, inv.ArgumentsKw)
						return &client.Result{Arguments: inv.Arguments, ArgumentsKw: inv.ArgumentsKw}, nil
					}, nil); err != nil {
						t.Fatal(err)
					}
					relay := tr.join(b)
					if _, err := relay.Register(ctxT(t), "com.example.relay", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
						check(t, "relay ("+b.Name()+")", inv.Arguments, inv.ArgumentsKw)
						res, err := relay.Call(ctx, "com.example.echo", inv.Arguments, inv.ArgumentsKw, nil)
						if err != nil {
							return nil, err
						}
						check(t, "relay's result ("+b.Name()+")", res.Arguments, res.ArgumentsKw)
						return &client.Result{Arguments: res.Arguments, ArgumentsKw: res.ArgumentsKw}, nil
					}, nil); err != nil {
						t.Fatal(err)
					}
					caller := tr.join(a)
					res, err := caller.Call(ctxT(t), "com.example.relay", args, kwargs, nil)
					if err != nil {
						t.Fatal(err)
					}
					check(t, "caller ("+a.Name()+")", res.Arguments, res.ArgumentsKw)
				})
			}
		}
	}
}

// TestErrorPayloadCrossesSerializers: a callee's ERROR payload reaches the
// caller intact, raw or transcoded.
func TestErrorPayloadCrossesSerializers(t *testing.T) {
	sers := []serializer.Serializer{serializer.JSON, serializer.MessagePack, serializer.CBOR}
	args, kwargs := chainPayload()
	for _, a := range sers {
		for _, b := range sers {
			t.Run(a.Name()+"→"+b.Name(), func(t *testing.T) {
				tr := newTestRouter(t, router.Options{})
				callee := tr.join(b)
				if _, err := callee.Register(ctxT(t), "com.example.fail", func(context.Context, *client.Invocation) (*client.Result, error) {
					return nil, &client.Error{URI: "com.example.oops", Arguments: args, ArgumentsKw: kwargs}
				}, nil); err != nil {
					t.Fatal(err)
				}
				_, err := tr.join(a).Call(ctxT(t), "com.example.fail", nil, nil, nil)
				e, ok := err.(*client.Error)
				if !ok || e.URI != "com.example.oops" || !reflect.DeepEqual(e.Arguments, args) || !reflect.DeepEqual(e.ArgumentsKw, kwargs) {
					t.Fatalf("got %#v", err)
				}
			})
		}
	}
}

// TestMetaProcedureReadsRawArguments: the router's own procedures decode a
// payload the transport kept raw.
func TestMetaProcedureReadsRawArguments(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	for _, ser := range []serializer.Serializer{serializer.JSON, serializer.MessagePack} {
		c := tr.join(ser)
		res, err := c.Call(ctxT(t), "wamp.session.get", spec.List{int64(c.ID())}, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", ser.Name(), err)
		}
		if d, _ := res.Arguments[0].(map[string]any); d == nil {
			t.Fatalf("%s: got %#v", ser.Name(), res.Arguments)
		}
	}
}

// TestRawPublicationValues: a PUBLISH's payload, kept raw by the
// transport, reaches subscribers of its format and of others with its
// values, and its history copy, which get_events reads, too
// (TestPublishedPayloadIsSpliced checks the bytes).
func TestRawPublicationValues(t *testing.T) {
	tr := newTestRouter(t, router.Options{Realms: []router.RealmConfig{{
		Name:    "realm1",
		History: []router.HistoryConfig{{Topic: "p.raw", Limit: 3}},
	}}})
	jsonSub := tr.raw(serializer.JSON)
	jsonSub.hello("realm1")
	jsonSub.send(&spec.Subscribe{Request: 1, Options: spec.Dict{}, Topic: "p.raw"})
	subID := jsonSub.recv().(*spec.Subscribed).Subscription
	cborSub := tr.join(serializer.CBOR)
	events := make(chan *client.Event, 1)
	if _, err := cborSub.Subscribe(ctxT(t), "p.raw", func(e *client.Event) { events <- e }, nil); err != nil {
		t.Fatal(err)
	}
	pub := tr.pipe(serializer.JSON)
	pubRaw := &raw{t: t, peer: pub}
	pubRaw.hello("realm1")
	payload := `[ 1,"x" ], {"b":1, "a":[2.50]}`
	if err := pub.Send([]byte(`[16,1,{"acknowledge":true},"p.raw",` + payload + `]`)); err != nil {
		t.Fatal(err)
	}
	if _, ok := pubRaw.recv().(*spec.Published); !ok {
		t.Fatal("no PUBLISHED")
	}
	ev := jsonSub.recv().(*spec.Event)
	want := spec.List{int64(1), "x"}
	wantKw := spec.Dict{"b": int64(1), "a": spec.List{2.5}}
	if !reflect.DeepEqual(ev.Arguments, want) || !reflect.DeepEqual(ev.ArgumentsKw, wantKw) {
		t.Fatalf("JSON subscriber: %#v", ev)
	}
	select {
	case e := <-events:
		if !reflect.DeepEqual(e.Arguments, want) || !reflect.DeepEqual(e.ArgumentsKw, wantKw) {
			t.Fatalf("CBOR subscriber: %#v %#v", e.Arguments, e.ArgumentsKw)
		}
	case <-ctxT(t).Done():
		t.Fatal("no event for the CBOR subscriber")
	}
	hist, _ := call1(t, cborSub, "wamp.subscription.get_events", spec.List{int64(subID)}, nil).([]any)
	if len(hist) != 1 {
		t.Fatalf("history: %v", hist)
	}
	h := hist[0].(map[string]any)
	if !reflect.DeepEqual(h["args"], []any{int64(1), "x"}) || !reflect.DeepEqual(h["kwargs"], map[string]any{"b": int64(1), "a": []any{2.5}}) {
		t.Fatalf("history entry: %#v", h)
	}
}
