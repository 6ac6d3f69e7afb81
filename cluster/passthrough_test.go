package cluster

import (
	"bytes"
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// Payloads cross nodes as their sender encoded them: a subscriber, callee
// or caller of the sender's serializer on another node gets the very bytes
// the sender wrote, and every other serializer gets the same values.

// framePeer is a session's transport whose frames the test writes and
// reads as bytes, so that it can check what the router spliced.
type framePeer struct {
	ser  serializer.Serializer
	in   chan []byte // frames to the router
	out  chan []byte // frames from it
	done chan struct{}
	once sync.Once
	// sink: drop what the router sends, counting it (benchmarks).
	sink atomic.Bool
	sunk atomic.Int64
}

func newFramePeer(ser serializer.Serializer) *framePeer {
	return &framePeer{ser: ser, in: make(chan []byte, 16), out: make(chan []byte, 256), done: make(chan struct{})}
}

func (p *framePeer) Serializer() serializer.Serializer { return p.ser }
func (p *framePeer) Done() <-chan struct{}             { return p.done }
func (p *framePeer) Info() transport.Info {
	return transport.Info{Transport: "pipe", Protocol: "wamp.2." + p.ser.Name(), RemoteAddr: "test"}
}

func (p *framePeer) Close(string) error {
	p.once.Do(func() { close(p.done) })
	return nil
}

// Recv decodes as the router's transports do, keeping payloads raw.
func (p *framePeer) Recv(ctx context.Context) (spec.Message, error) {
	select {
	case f := <-p.in:
		return serializer.DecodeRaw(p.ser, f)
	case <-p.done:
		return nil, transport.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *framePeer) Send(frame []byte) error {
	if p.sink.Load() {
		p.sunk.Add(1)
		return nil
	}
	select {
	case p.out <- frame:
		return nil
	case <-p.done:
		return transport.ErrClosed
	default:
		return transport.ErrSlowConsumer
	}
}

// frameSession is a hand-driven session over a framePeer.
type frameSession struct {
	t testing.TB
	p *framePeer
}

func (tn *testNode) frameJoin(ser serializer.Serializer) *frameSession {
	tn.t.Helper()
	return frameJoin(tn.t, tn.ctx, &tn.wg, tn.router, ser)
}

// frameJoin opens a session of r over a framePeer, served until ctx ends
// (wg counts the serving goroutine).
func frameJoin(t testing.TB, ctx context.Context, wg *sync.WaitGroup, r *router.Router, ser serializer.Serializer) *frameSession {
	t.Helper()
	p := newFramePeer(ser)
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.ServePeer(ctx, p)
	}()
	t.Cleanup(func() { p.Close("test over") })
	fs := &frameSession{t: t, p: p}
	roles := spec.Dict{}
	for _, r := range []string{"publisher", "subscriber", "caller", "callee"} {
		roles[r] = spec.Dict{}
	}
	fs.send(&spec.Hello{Realm: "realm1", Details: spec.Dict{"roles": roles}})
	if _, ok := fs.recv().(*spec.Welcome); !ok {
		t.Fatal("no WELCOME")
	}
	return fs
}

func (fs *frameSession) send(m spec.Message) {
	fs.t.Helper()
	b, err := fs.p.ser.Encode(nil, m)
	if err != nil {
		fs.t.Fatal(err)
	}
	fs.sendFrame(b)
}

func (fs *frameSession) sendFrame(b []byte) { fs.p.in <- b }

// recvFrame returns the next frame the router sent.
func (fs *frameSession) recvFrame() []byte {
	fs.t.Helper()
	select {
	case f := <-fs.p.out:
		return f
	case <-time.After(5 * time.Second):
		fs.t.Fatal("no frame within 5 s")
		return nil
	}
}

func (fs *frameSession) recv() spec.Message {
	fs.t.Helper()
	m, err := fs.p.ser.Decode(fs.recvFrame())
	if err != nil {
		fs.t.Fatal(err)
	}
	return m
}

func (fs *frameSession) subscribe(topic spec.URI) {
	fs.t.Helper()
	fs.send(&spec.Subscribe{Request: 1, Options: spec.Dict{}, Topic: topic})
	if _, ok := fs.recv().(*spec.Subscribed); !ok {
		fs.t.Fatal("no SUBSCRIBED")
	}
}

func (fs *frameSession) register(procedure spec.URI) {
	fs.t.Helper()
	fs.send(&spec.Register{Request: 1, Options: spec.Dict{}, Procedure: procedure})
	if _, ok := fs.recv().(*spec.Registered); !ok {
		fs.t.Fatal("no REGISTERED")
	}
}

// A MessagePack payload that any decode and re-encode alters: a float32
// (the encoder writes float64), an integer in a wider encoding than it
// needs, binary, and a dict whose keys are not in the encoder's sorted
// order.
var (
	mpArgs   = []byte{0x94, 0xca, 0x3f, 0xc0, 0x00, 0x00, 0xcd, 0x00, 0x05, 0xc4, 0x03, 0x00, 0xfe, 0xff, 0xa2, 'h', 'i'}
	mpKwargs = []byte{0x82, 0xa1, 'z', 0x01, 0xa1, 'a', 0x92, 0xc3, 0xc0}
	mpValues = spec.List{1.5, int64(5), []byte{0, 0xfe, 0xff}, "hi"}
	mpKw     = spec.Dict{"z": int64(1), "a": spec.List{true, nil}}
)

// mpFrame is a MessagePack message of type t whose head is head (already
// encoded elements) followed by mpArgs and mpKwargs.
func mpFrame(head []byte, n byte) []byte {
	f := append([]byte{0x90 | n}, head...)
	return append(append(f, mpArgs...), mpKwargs...)
}

func mpStr(s string) []byte { return append([]byte{0xa0 | byte(len(s))}, s...) }

// The re-encoding the test relies on: decoding the payload and encoding it
// again changes its bytes.
func checkPayloadIsAlteredByReencoding(t *testing.T) {
	t.Helper()
	b, err := serializer.MessagePack.Encode(nil, &spec.Yield{Request: 1, Options: spec.Dict{}, Arguments: mpValues, ArgumentsKw: mpKw})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, mpArgs) || bytes.Contains(b, mpKwargs) {
		t.Fatal("the test payload survives a re-encode; it cannot tell splicing from re-encoding")
	}
}

// A MessagePack publication reaches MessagePack subscribers on every node,
// and its retained copy reaches late ones, as the publisher's bytes; JSON
// and CBOR subscribers get its values.
func TestSameSerializerEventPayloadCrossesNodesUntouched(t *testing.T) {
	checkPayloadIsAlteredByReencoding(t)
	nodes := startCluster(t, 3)
	sub := nodes[1].frameJoin(serializer.MessagePack)
	sub.subscribe("com.pass")
	jsonSub := nodes[2].frameJoin(serializer.JSON)
	jsonSub.subscribe("com.pass")
	cborSub := nodes[2].frameJoin(serializer.CBOR)
	cborSub.subscribe("com.pass")
	localSub := nodes[0].frameJoin(serializer.MessagePack)
	localSub.subscribe("com.pass")
	pub := nodes[0].frameJoin(serializer.MessagePack)

	// [PUBLISH, 1, {"retain": true}, "com.pass", args, kwargs]
	head := append(append([]byte{0x10, 0x01, 0x81}, mpStr("retain")...), 0xc3)
	pub.sendFrame(mpFrame(append(head, mpStr("com.pass")...), 6))

	payload := append(append([]byte(nil), mpArgs...), mpKwargs...)
	checkSpliced := func(who string, s *frameSession) {
		t.Helper()
		f := s.recvFrame()
		if !bytes.HasSuffix(f, payload) {
			t.Fatalf("%s did not get the publisher's payload bytes:\n% x", who, f)
		}
		m, err := serializer.MessagePack.Decode(f)
		if err != nil {
			t.Fatal(err)
		}
		ev, ok := m.(*spec.Event)
		if !ok || !reflect.DeepEqual(ev.Arguments, mpValues) || !reflect.DeepEqual(ev.ArgumentsKw, mpKw) {
			t.Fatalf("%s: %#v", who, m)
		}
	}
	checkSpliced("the msgpack subscriber on another node", sub)
	checkSpliced("the msgpack subscriber on the publisher's node", localSub)
	for _, s := range []*frameSession{jsonSub, cborSub} {
		ev, ok := s.recv().(*spec.Event)
		if !ok || !reflect.DeepEqual(ev.Arguments, mpValues) || !reflect.DeepEqual(ev.ArgumentsKw, mpKw) {
			t.Fatalf("%s subscriber: %#v", s.p.ser.Name(), ev)
		}
	}

	// The retained copy every node keeps is the publisher's bytes too, and
	// its values for other formats.
	late := nodes[2].frameJoin(serializer.MessagePack)
	late.send(&spec.Subscribe{Request: 1, Options: spec.Dict{"get_retained": true}, Topic: "com.pass"})
	if _, ok := late.recv().(*spec.Subscribed); !ok {
		t.Fatal("no SUBSCRIBED")
	}
	checkSpliced("a late msgpack subscriber's retained event", late)
	lateJSON := nodes[1].frameJoin(serializer.JSON)
	lateJSON.send(&spec.Subscribe{Request: 1, Options: spec.Dict{"get_retained": true}, Topic: "com.pass"})
	if _, ok := lateJSON.recv().(*spec.Subscribed); !ok {
		t.Fatal("no SUBSCRIBED")
	}
	if ev, ok := lateJSON.recv().(*spec.Event); !ok || ev.Details["retained"] != true || !reflect.DeepEqual(ev.Arguments, mpValues) || !reflect.DeepEqual(ev.ArgumentsKw, mpKw) {
		t.Fatalf("a late JSON subscriber's retained event: %#v", ev)
	}
}

// A JSON publication reaches a JSON subscriber on another node as the
// publisher's text, and MessagePack and CBOR subscribers on a third node
// with its values.
func TestJSONEventCrossesNodesToEveryFormat(t *testing.T) {
	nodes := startCluster(t, 3)
	jsonSub := nodes[1].frameJoin(serializer.JSON)
	jsonSub.subscribe("com.pass")
	mpSub := nodes[1].frameJoin(serializer.MessagePack)
	mpSub.subscribe("com.pass")
	cborSub := nodes[2].frameJoin(serializer.CBOR)
	cborSub.subscribe("com.pass")
	pub := nodes[0].frameJoin(serializer.JSON)

	// 1.50 and the unsorted keys and spaces are what a re-encode changes.
	payload := `[ "zürich", 1.50, -7, [true, null] ], {"z": 1, "a": {"b": "c"}}`
	pub.sendFrame([]byte(`[16, 1, {}, "com.pass", ` + payload + `]`))
	want, err := serializer.JSON.Decode([]byte(`[16, 1, {}, "com.pass", ` + payload + `]`))
	if err != nil {
		t.Fatal(err)
	}
	args, kwargs := want.(*spec.Publish).Arguments, want.(*spec.Publish).ArgumentsKw

	if f := jsonSub.recvFrame(); !bytes.HasSuffix(f, []byte(payload+"]")) {
		t.Fatalf("the JSON subscriber on another node did not get the publisher's text: %s", f)
	}
	for _, s := range []*frameSession{mpSub, cborSub} {
		ev, ok := s.recv().(*spec.Event)
		if !ok || !reflect.DeepEqual(ev.Arguments, args) || !reflect.DeepEqual(ev.ArgumentsKw, kwargs) {
			t.Fatalf("%s subscriber got %#v, want %#v %#v", s.p.ser.Name(), ev, args, kwargs)
		}
	}
}

// A CALL's payload reaches a callee of the caller's serializer on another
// node as the caller's bytes, and the callee's RESULT payload comes back to
// the caller as the callee's bytes; callees and callers of other formats
// get the values, both ways.
func TestCallPayloadCrossesNodesUntouched(t *testing.T) {
	checkPayloadIsAlteredByReencoding(t)
	nodes := startCluster(t, 3)
	mpCallee := nodes[1].frameJoin(serializer.MessagePack)
	mpCallee.register("com.mp")
	cborCallee := nodes[2].frameJoin(serializer.CBOR)
	cborCallee.register("com.cbor")
	caller := nodes[0].frameJoin(serializer.MessagePack)
	jsonCaller := nodes[0].frameJoin(serializer.JSON)
	payload := append(append([]byte(nil), mpArgs...), mpKwargs...)

	// msgpack → msgpack: [CALL, 1, {}, "com.mp", args, kwargs]
	caller.sendFrame(mpFrame(append([]byte{0x30, 0x01, 0x80}, mpStr("com.mp")...), 6))
	f := mpCallee.recvFrame()
	if !bytes.HasSuffix(f, payload) {
		t.Fatalf("the msgpack callee on another node did not get the caller's payload bytes:\n% x", f)
	}
	inv, err := serializer.MessagePack.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	invReq := inv.(*spec.Invocation).Request
	// [YIELD, request, {}, args, kwargs]
	mpCallee.sendFrame(mpFrame(yieldHead(invReq), 5))
	f = caller.recvFrame()
	if !bytes.HasSuffix(f, payload) {
		t.Fatalf("the msgpack caller did not get the callee's payload bytes:\n% x", f)
	}
	if res, err := serializer.MessagePack.Decode(f); err != nil || res.(*spec.Result).Request != 1 {
		t.Fatalf("result: %v %v", res, err)
	}

	// JSON caller → msgpack callee and back: the values, both ways.
	jsonCaller.sendFrame([]byte(`[48, 1, {}, "com.mp", [1.25, "é", [1, {}]], {"k": -3}]`))
	inv = mpCallee.recv()
	iv, ok := inv.(*spec.Invocation)
	if !ok || !reflect.DeepEqual(iv.Arguments, spec.List{1.25, "é", spec.List{int64(1), spec.Dict{}}}) || !reflect.DeepEqual(iv.ArgumentsKw, spec.Dict{"k": int64(-3)}) {
		t.Fatalf("msgpack callee of a JSON caller: %#v", inv)
	}
	mpCallee.sendFrame(mpFrame(yieldHead(iv.Request), 5))
	res, ok := jsonCaller.recv().(*spec.Result)
	if !ok || !reflect.DeepEqual(res.Arguments, mpValues) || !reflect.DeepEqual(res.ArgumentsKw, mpKw) {
		t.Fatalf("JSON caller of a msgpack callee: %#v", res)
	}

	// msgpack caller → CBOR callee, and a CBOR ERROR payload back.
	caller.sendFrame(mpFrame(append([]byte{0x30, 0x02, 0x80}, mpStr("com.cbor")...), 6))
	cinv, ok := cborCallee.recv().(*spec.Invocation)
	if !ok || !reflect.DeepEqual(cinv.Arguments, mpValues) || !reflect.DeepEqual(cinv.ArgumentsKw, mpKw) {
		t.Fatalf("CBOR callee of a msgpack caller: %#v", cinv)
	}
	cborCallee.send(&spec.Error{RequestType: spec.TypeInvocation, Request: cinv.Request, Details: spec.Dict{}, Error: "com.failed",
		Arguments: spec.List{"why", 2.5}, ArgumentsKw: spec.Dict{"bin": []byte{1, 2}}})
	e, ok := caller.recv().(*spec.Error)
	if !ok || e.Request != 2 || e.Error != "com.failed" || !reflect.DeepEqual(e.Arguments, spec.List{"why", 2.5}) ||
		!reflect.DeepEqual(e.ArgumentsKw, spec.Dict{"bin": []byte{1, 2}}) {
		t.Fatalf("msgpack caller of a CBOR callee's error: %#v", e)
	}
}

// yieldHead is the head of [YIELD, id, {}, ...] in MessagePack.
func yieldHead(id spec.ID) []byte {
	b := []byte{0x46, 0xcf, 0, 0, 0, 0, 0, 0, 0, 0}
	for i := 0; i < 8; i++ {
		b[9-i] = byte(uint64(id) >> (8 * i))
	}
	return append(b, 0x80)
}

// BenchmarkReceiveEvent is a receiving node's delivery of a publication
// from another node: decoding the NATS message and handing the EVENT to
// ten MessagePack subscribers. "raw" is what a MessagePack publisher's
// event is now (the payload spliced, never decoded); "values" is the
// payload as values, the way every event crossed before (and the way the
// router's own events still do): its decode and re-encode are the cost
// that is gone.
func BenchmarkReceiveEvent(b *testing.B) {
	values, kw := spec.List{"sensor-7", 21.5, int64(1733500000), []byte{1, 2, 3, 4}}, spec.Dict{"unit": "C", "seq": int64(42), "tags": spec.List{"a", "b"}}
	payload, err := serializer.MessagePack.Encode(nil, &spec.Yield{Request: 1, Options: spec.Dict{}, Arguments: values, ArgumentsKw: kw})
	if err != nil {
		b.Fatal(err)
	}
	raw := spec.Raw{Format: "msgpack", N: 2, Bytes: payload[4:]} // after the array header, YIELD, 1, {}
	for _, c := range []struct {
		name string
		e    router.RemoteEvent
	}{
		{"raw", router.RemoteEvent{Raw: raw}},
		{"values", router.RemoteEvent{Arguments: values, ArgumentsKw: kw}},
	} {
		b.Run(c.name, func(b *testing.B) {
			r, err := router.New(router.Options{Realms: []router.RealmConfig{{Name: "realm1"}}, Logger: testLogger()})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer func() {
				sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer scancel()
				r.Shutdown(sctx)
				cancel()
				wg.Wait()
			}()
			var subs []*frameSession
			for range 10 {
				s := frameJoin(b, ctx, &wg, r, serializer.MessagePack)
				s.subscribe("com.bench")
				s.p.sink.Store(true)
				subs = append(subs, s)
			}
			e := c.e
			e.Publication, e.Topic, e.Options, e.Publisher = 7, "com.bench", spec.Dict{}, 9
			wire, err := encodeEvent("realm1", &e)
			if err != nil {
				b.Fatal(err)
			}
			realm := r.Realm("realm1")
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				_, got, err := decodeEvent(wire)
				if err != nil {
					b.Fatal(err)
				}
				realm.DeliverRemote(got)
			}
			b.StopTimer()
			for _, s := range subs {
				if n := s.p.sunk.Load(); n != int64(b.N) {
					b.Fatalf("a subscriber got %d events, want %d", n, b.N)
				}
			}
		})
	}
}

// A CBOR payload that any decode and re-encode alters: a half float (the
// encoder writes float64), an integer in a longer form than it needs, and
// a map whose keys are not in the encoder's sorted order.
var (
	cborArgs   = []byte{0x83, 0xf9, 0x3e, 0x00, 0x18, 0x05, 0x62, 'h', 'i'}
	cborKwargs = []byte{0xa2, 0x61, 'z', 0x01, 0x61, 'a', 0x82, 0xf5, 0xf6}
	cborValues = spec.List{1.5, int64(5), "hi"}
	cborKw     = spec.Dict{"z": int64(1), "a": spec.List{true, nil}}
)

// cborUint is the CBOR head of an unsigned integer.
func cborUint(n uint64) []byte {
	switch {
	case n < 24:
		return []byte{byte(n)}
	case n < 1<<8:
		return []byte{0x18, byte(n)}
	case n < 1<<16:
		return []byte{0x19, byte(n >> 8), byte(n)}
	case n < 1<<32:
		return []byte{0x1a, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	b := []byte{0x1b}
	for s := 56; s >= 0; s -= 8 {
		b = append(b, byte(n>>s))
	}
	return b
}

// CBOR payloads cross nodes as the sender's bytes too: a publication to a
// CBOR subscriber on another node, a call to a CBOR callee on another node
// and its result back; a MessagePack subscriber gets the values.
func TestCBORPayloadCrossesNodesUntouched(t *testing.T) {
	b, err := serializer.CBOR.Encode(nil, &spec.Yield{Request: 1, Options: spec.Dict{}, Arguments: cborValues, ArgumentsKw: cborKw})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, cborArgs) || bytes.Contains(b, cborKwargs) {
		t.Fatal("the test payload survives a re-encode; it cannot tell splicing from re-encoding")
	}
	payload := append(append([]byte(nil), cborArgs...), cborKwargs...)
	nodes := startCluster(t, 3)
	sub := nodes[1].frameJoin(serializer.CBOR)
	sub.subscribe("com.cb")
	mpSub := nodes[2].frameJoin(serializer.MessagePack)
	mpSub.subscribe("com.cb")
	pub := nodes[0].frameJoin(serializer.CBOR)

	// [PUBLISH, 1, {}, "com.cb", args, kwargs]
	pub.sendFrame(append([]byte{0x86, 0x10, 0x01, 0xa0, 0x66, 'c', 'o', 'm', '.', 'c', 'b'}, payload...))
	if f := sub.recvFrame(); !bytes.HasSuffix(f, payload) {
		t.Fatalf("the CBOR subscriber on another node did not get the publisher's bytes:\n% x", f)
	}
	if ev, ok := mpSub.recv().(*spec.Event); !ok || !reflect.DeepEqual(ev.Arguments, cborValues) || !reflect.DeepEqual(ev.ArgumentsKw, cborKw) {
		t.Fatalf("the msgpack subscriber: %#v", ev)
	}

	callee := nodes[1].frameJoin(serializer.CBOR)
	callee.register("com.cbcall")
	// [CALL, 2, {}, "com.cbcall", args, kwargs]
	pub.sendFrame(append([]byte{0x86, 0x18, 0x30, 0x02, 0xa0, 0x6a, 'c', 'o', 'm', '.', 'c', 'b', 'c', 'a', 'l', 'l'}, payload...))
	f := callee.recvFrame()
	if !bytes.HasSuffix(f, payload) {
		t.Fatalf("the CBOR callee on another node did not get the caller's bytes:\n% x", f)
	}
	m, err := serializer.CBOR.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	inv, ok := m.(*spec.Invocation)
	if !ok {
		t.Fatalf("callee got %#v", m)
	}
	// [YIELD, request, {}, args, kwargs]
	yield := append(append([]byte{0x85, 0x18, 0x46}, cborUint(uint64(inv.Request))...), 0xa0)
	callee.sendFrame(append(yield, payload...))
	f = pub.recvFrame()
	if !bytes.HasSuffix(f, payload) {
		t.Fatalf("the CBOR caller did not get the callee's bytes:\n% x", f)
	}
	if m, err := serializer.CBOR.Decode(f); err != nil || m.(*spec.Result).Request != 2 || !reflect.DeepEqual(m.(*spec.Result).Arguments, cborValues) {
		t.Fatalf("caller got %#v, %v", m, err)
	}
}
