package router_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// optionWorld is a router with a helper session that serves
// "com.example.add" and publishes on demand, and the session under test,
// which holds a subscription made before it sends anything wrong.
type optionWorld struct {
	t      *testing.T
	tr     *testRouter
	helper *client.Client
	c      *client.Client
	events chan *client.Event
}

func newOptionWorld(t *testing.T, opts router.Options) *optionWorld {
	tr := newTestRouter(t, opts)
	w := &optionWorld{t: t, tr: tr, helper: tr.join(serializer.JSON), c: tr.join(serializer.MessagePack),
		events: make(chan *client.Event, 16)}
	if _, err := w.helper.Register(ctxT(t), "com.example.add", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		a, _ := spec.AsInt(inv.Arguments[0])
		b, _ := spec.AsInt(inv.Arguments[1])
		return &client.Result{Arguments: spec.List{a + b}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.Subscribe(ctxT(t), "com.example.before", func(e *client.Event) { w.events <- e }, nil); err != nil {
		t.Fatal(err)
	}
	return w
}

// expectInvalidArgument checks that err is the ERROR the router answers a
// bad option with, and that its message names the option.
func expectInvalidArgument(t *testing.T, err error, option string) {
	t.Helper()
	if uri := wampErrorURI(err); uri != spec.ErrInvalidArgument {
		t.Fatalf("got %v, want ERROR %s", err, spec.ErrInvalidArgument)
	}
	if !strings.Contains(err.Error(), ".Options."+option+" must be ") {
		t.Fatalf("error %q does not name the option %q", err, option)
	}
}

// stillWorks shows that the session under test kept everything: it calls,
// registers, subscribes anew and receives events on its old and new
// subscriptions.
func (w *optionWorld) stillWorks() {
	t := w.t
	t.Helper()
	res, err := w.c.Call(ctxT(t), "com.example.add", spec.List{int64(3), int64(4)}, nil, nil)
	if err != nil {
		t.Fatalf("call after the refused request: %v", err)
	}
	if n, _ := spec.AsInt(res.Arguments[0]); n != 7 {
		t.Fatalf("com.example.add(3, 4) = %v", res.Arguments)
	}
	if _, err := w.c.Register(ctxT(t), "com.example.after", func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{Arguments: spec.List{"after"}}, nil
	}, nil); err != nil {
		t.Fatalf("register after the refused request: %v", err)
	}
	if res, err := w.helper.Call(ctxT(t), "com.example.after", nil, nil, nil); err != nil || res.Arguments[0] != "after" {
		t.Fatalf("calling the new registration: %v, %v", res, err)
	}
	if _, err := w.c.Subscribe(ctxT(t), "com.example.after", func(e *client.Event) { w.events <- e }, nil); err != nil {
		t.Fatalf("subscribe after the refused request: %v", err)
	}
	for _, topic := range []string{"com.example.before", "com.example.after"} {
		if err := w.helper.Publish(ctxT(t), topic, spec.List{topic}, spec.Dict{"k": "v"}, spec.Dict{"acknowledge": true}); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-w.events:
			if len(e.Arguments) != 1 || e.Arguments[0] != topic || e.ArgumentsKw["k"] != "v" {
				t.Fatalf("event %+v, want the one on %s", e, topic)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event on %s after the refused request", topic)
		}
	}
}

func TestInvalidSubscribeOptions(t *testing.T) {
	w := newOptionWorld(t, router.Options{})
	for name, opts := range map[string]spec.Dict{
		"match":        {"match": "regex"},
		"get_retained": {"get_retained": "yes"},
	} {
		_, err := w.c.Subscribe(ctxT(t), "com.example.x", func(*client.Event) {}, opts)
		expectInvalidArgument(t, err, name)
	}
	w.stillWorks()
}

func TestInvalidRegisterOptions(t *testing.T) {
	w := newOptionWorld(t, router.Options{})
	for name, opts := range map[string]spec.Dict{
		"invoke":      {"invoke": "broadcast"},
		"match":       {"match": int64(1)},
		"concurrency": {"concurrency": int64(-1)},
	} {
		_, err := w.c.Register(ctxT(t), "com.example.x", func(context.Context, *client.Invocation) (*client.Result, error) {
			return &client.Result{}, nil
		}, opts)
		expectInvalidArgument(t, err, name)
	}
	w.stillWorks()
}

func TestInvalidCallOptions(t *testing.T) {
	w := newOptionWorld(t, router.Options{})
	for name, opts := range map[string]spec.Dict{
		"timeout":          {"timeout": "10s"},
		"receive_progress": {"receive_progress": int64(1)},
	} {
		_, err := w.c.Call(ctxT(t), "com.example.add", spec.List{int64(1), int64(2)}, nil, &client.CallOptions{Options: opts})
		expectInvalidArgument(t, err, name)
	}
	// A negative or fractional timeout is not a number of milliseconds.
	_, err := w.c.Call(ctxT(t), "com.example.add", spec.List{int64(1), int64(2)}, nil, &client.CallOptions{Options: spec.Dict{"timeout": -5.0}})
	expectInvalidArgument(t, err, "timeout")
	w.stillWorks()
}

func TestInvalidPublishOptions(t *testing.T) {
	w := newOptionWorld(t, router.Options{})
	for name, opts := range map[string]spec.Dict{
		"exclude":         {"acknowledge": true, "exclude": spec.List{"not-an-id"}},
		"eligible_authid": {"acknowledge": true, "eligible_authid": "joe"},
		"retain":          {"acknowledge": true, "retain": int64(1)},
	} {
		err := w.c.Publish(ctxT(t), "com.example.before", spec.List{"refused"}, nil, opts)
		expectInvalidArgument(t, err, name)
	}
	// The refused publications went nowhere; stillWorks checks that the next
	// event on the topic is its own.
	w.stillWorks()
}

// TestHugeCallTimeoutSaturates: a timeout beyond what a Duration holds is
// a valid (very long) timeout, not an overflow that fires at once.
func TestHugeCallTimeoutSaturates(t *testing.T) {
	w := newOptionWorld(t, router.Options{})
	for _, ms := range []any{uint64(1) << 63, ^uint64(0), int64(spec.MaxID)} {
		res, err := w.c.Call(ctxT(t), "com.example.add", spec.List{int64(1), int64(2)}, nil, &client.CallOptions{Options: spec.Dict{"timeout": ms}})
		if err != nil {
			t.Fatalf("timeout %v: %v", ms, err)
		}
		if n, _ := spec.AsInt(res.Arguments[0]); n != 3 {
			t.Fatalf("timeout %v: result %v", ms, res.Arguments)
		}
	}
}

// logRecorder keeps the messages and levels of the records logged.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) count(level slog.Level, prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.records {
		if r.Level == level && strings.HasPrefix(r.Message, prefix) {
			n++
		}
	}
	return n
}

// TestInvalidUnacknowledgedPublishIsDropped: a PUBLISH that asked for no
// acknowledgement cannot be answered; it is dropped, logged at Warn the
// first time and at Debug after, and the session goes on.
func TestInvalidUnacknowledgedPublishIsDropped(t *testing.T) {
	log := &logRecorder{}
	w := newOptionWorld(t, router.Options{Logger: slog.New(log)})
	pub := w.tr.join(serializer.CBOR)
	for _, opts := range []spec.Dict{
		{"exclude": "everyone"},
		{"acknowledge": "yes", "eligible": spec.List{int64(0)}}, // not true, so not acknowledged
		{"exclude_me": int64(0)},
	} {
		if err := pub.Publish(ctxT(t), "com.example.before", spec.List{"dropped"}, nil, opts); err != nil {
			t.Fatal(err)
		}
	}
	// The next publication is answered and is the first to arrive.
	if err := pub.Publish(ctxT(t), "com.example.before", spec.List{"kept"}, nil, spec.Dict{"acknowledge": true}); err != nil {
		t.Fatalf("publish after the dropped ones: %v", err)
	}
	select {
	case e := <-w.events:
		if e.Arguments[0] != "kept" {
			t.Fatalf("subscriber got %v: a publication with bad options was delivered", e.Arguments)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event after the dropped publications")
	}
	if n := w.tr.r.Stats().InvalidOptions.Load(); n != 3 {
		t.Errorf("Stats.InvalidOptions = %d, want 3", n)
	}
	const msg = "unacknowledged PUBLISH dropped: invalid option"
	if warn, debug := log.count(slog.LevelWarn, msg), log.count(slog.LevelDebug, msg); warn != 1 || debug != 2 {
		t.Errorf("logged %d at Warn and %d at Debug, want 1 and 2", warn, debug)
	}
	w.stillWorks()
}

// TestMalformedRequestsStillAbort: a request whose shape is wrong (Options
// not a dict, a topic that is not a string) is a protocol violation, as the
// spec says, and ends the session; nobody else notices.
func TestMalformedRequestsStillAbort(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	b := newBystander(t, tr)
	for i, frame := range []string{
		`[32,1,"match=prefix","a.b"]`,
		`[32,1,{},["a.b"]]`,
		`[64,1,null,"a.b"]`,
		`[48,1,[],"a.b"]`,
		`[16,1,{"acknowledge":true},"a.b",{}]`,
		`[32,1,{},"a.b","extra"]`,
	} {
		t.Run(frame, func(t *testing.T) {
			r := tr.raw(serializer.JSON)
			r.hello("realm1")
			if err := r.peer.Send([]byte(frame)); err != nil {
				t.Fatal(err)
			}
			expectAbort(t, r.recv(), spec.ErrProtocolViolation)
			r.expectClosed()
			b.check(int64(i))
		})
	}
}

// undefinedMarker stands for JavaScript's undefined while a test message is
// encoded; the bytes are then swapped for the format's own undefined.
const undefinedMarker = "UNDEFINED_MARKER_X" // 18 bytes

// withUndefined encodes m, whose undefined values hold undefinedMarker, the
// way wampy.js sends it: msgpackr's undefined extension d4 00 00, CBOR's
// undefined f7, JSON's null (JSON.stringify has no undefined).
func withUndefined(t *testing.T, ser serializer.Serializer, m spec.Message) []byte {
	t.Helper()
	b, err := ser.Encode(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	var marker, undefined string
	switch ser {
	case serializer.JSON:
		marker, undefined = `"`+undefinedMarker+`"`, "null"
	case serializer.MessagePack:
		marker, undefined = "\xb2"+undefinedMarker, "\xd4\x00\x00"
	case serializer.CBOR:
		marker, undefined = "\x72"+undefinedMarker, "\xf7"
	}
	if !bytes.Contains(b, []byte(marker)) {
		t.Fatalf("%s: marker not found in %x", ser.Name(), b)
	}
	return bytes.ReplaceAll(b, []byte(marker), []byte(undefined))
}

// TestNullOptionsAreAbsent: every request wampy.js makes, with its options
// set to undefined, is served as if the options were absent, in every
// format; the session is never closed for it.
func TestNullOptionsAreAbsent(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	helper := tr.join(serializer.JSON)
	events := make(chan *client.Event, 4)
	if _, err := helper.Subscribe(ctxT(t), "com.example.topic", func(e *client.Event) { events <- e }, nil); err != nil {
		t.Fatal(err)
	}
	u := undefinedMarker
	for _, ser := range []serializer.Serializer{serializer.JSON, serializer.MessagePack, serializer.CBOR} {
		t.Run(ser.Name(), func(t *testing.T) {
			r := tr.raw(ser)
			r.hello("realm1")
			send := func(m spec.Message) {
				t.Helper()
				if err := r.peer.Send(withUndefined(t, ser, m)); err != nil {
					t.Fatal(err)
				}
			}
			send(&spec.Subscribe{Request: 1, Options: spec.Dict{"match": u, "get_retained": u}, Topic: "com.example.topic"})
			if _, ok := r.recv().(*spec.Subscribed); !ok {
				t.Fatal("SUBSCRIBE with undefined options was not SUBSCRIBED")
			}
			proc := spec.URI("com.example.add." + ser.Name())
			send(&spec.Register{Request: 2, Options: spec.Dict{"match": u, "invoke": u, "disclose_caller": u}, Procedure: proc})
			reg, ok := r.recv().(*spec.Registered)
			if !ok {
				t.Fatal("REGISTER with undefined options was not REGISTERED")
			}
			send(&spec.Call{Request: 3, Options: spec.Dict{"timeout": u, "receive_progress": u, "disclose_me": u}, Procedure: proc, Arguments: spec.List{int64(3), int64(4)}})
			inv, ok := r.recv().(*spec.Invocation)
			if !ok || inv.Registration != reg.Registration {
				t.Fatalf("CALL with undefined options: got %#v, want INVOCATION", inv)
			}
			r.send(&spec.Yield{Request: inv.Request, Options: spec.Dict{}, Arguments: spec.List{int64(7)}})
			if res, ok := r.recv().(*spec.Result); !ok || len(res.Arguments) != 1 {
				t.Fatalf("got %#v, want RESULT", res)
			}
			send(&spec.Publish{Request: 4, Options: spec.Dict{"acknowledge": true, "exclude_me": u, "exclude": u, "eligible": u, "retain": u},
				Topic: "com.example.topic", Arguments: spec.List{ser.Name()}})
			if _, ok := r.recv().(*spec.Published); !ok {
				t.Fatal("PUBLISH with undefined options was not PUBLISHED")
			}
			select {
			case e := <-events:
				if e.Arguments[0] != ser.Name() {
					t.Fatalf("event %v", e.Arguments)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the publication with undefined options was not delivered")
			}
		})
	}
}
