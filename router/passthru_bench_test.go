package router

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// capturePeer keeps the last frame sent to it.
type capturePeer struct {
	discardPeer
	mu   sync.Mutex
	last []byte
}

func (p *capturePeer) Send(frame []byte) error {
	p.mu.Lock()
	p.last = frame
	p.mu.Unlock()
	return nil
}

func (p *capturePeer) Recv(ctx context.Context) (spec.Message, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (p *capturePeer) Info() transport.Info { return transport.Info{Transport: "capture"} }

// TestSameSerializerPayloadIsSpliced: between peers of one format the
// dealer forwards the payload bytes as the caller wrote them, CALL →
// INVOCATION and YIELD → RESULT. The payloads here are written in an order
// (unsorted keys, float32, spacing) the encoders never produce, so they
// arrive as sent only if nothing decoded and re-encoded them.
func TestSameSerializerPayloadIsSpliced(t *testing.T) {
	cases := []struct {
		ser         serializer.Serializer
		call, yield []byte
		args        string // what must appear verbatim
	}{
		{serializer.JSON, []byte(`[48,1,{},"p.raw",[ 1,"x" ], {"b":1, "a":[2.50]}]`), []byte(`[70,1,{},[ "y" ], {"z":0 ,"a":1}]`), `[ 1,"x" ], {"b":1, "a":[2.50]}`},
		{serializer.MessagePack, []byte("\x96\x30\x01\x80\xa5p.raw\x91\xca\x3f\xc0\x00\x00\x82\xa1b\x01\xa1a\x02"), []byte("\x94\x46\x01\x80\x91\xca\x3f\xc0\x00\x00"), "\x91\xca\x3f\xc0\x00\x00\x82\xa1b\x01\xa1a\x02"},
	}
	for _, tc := range cases {
		t.Run(tc.ser.Name(), func(t *testing.T) {
			realm := benchRealm(t)
			caller, callee := capture(t, realm, tc.ser), capture(t, realm, tc.ser)
			realm.dealer.register(callee.s, &spec.Register{Request: 1, Options: spec.Dict{}, Procedure: "p.raw"})
			call, err := serializer.DecodeRaw(tc.ser, tc.call)
			if err != nil {
				t.Fatal(err)
			}
			realm.dealer.call(caller.s, call.(*spec.Call))
			if !bytes.Contains(callee.p.last, []byte(tc.args)) {
				t.Fatalf("INVOCATION %q does not carry the payload %q as sent", callee.p.last, tc.args)
			}
			y, err := serializer.DecodeRaw(tc.ser, tc.yield)
			if err != nil {
				t.Fatal(err)
			}
			yield := y.(*spec.Yield)
			yield.Request = callee.s.invocations.Last()
			realm.dealer.yield(callee.s, yield)
			tail := tc.yield[bytes.Index(tc.yield, []byte("{}"))+3:]
			if tc.ser == serializer.MessagePack {
				tail = tc.yield[4:]
			}
			if !bytes.HasSuffix(caller.p.last, tail) {
				t.Fatalf("RESULT %q does not end with the payload %q as sent", caller.p.last, tail)
			}
		})
	}
}

type captured struct {
	s *session
	p *capturePeer
}

func capture(t testing.TB, realm *Realm, ser serializer.Serializer) captured {
	p := &capturePeer{discardPeer: discardPeer{ser: ser, done: make(chan struct{})}}
	s, _ := benchSessionOn(t, realm, p)
	return captured{s, p}
}

// largePayload is a CALL's arguments of about 4 KB: 64 records, each a
// dict of a few scalars and a short list.
func largePayload() (spec.List, spec.Dict) {
	args := make(spec.List, 64)
	for i := range args {
		args[i] = spec.Dict{"id": int64(i), "name": "item-" + strconv.Itoa(i), "price": float64(i) * 1.25, "tags": spec.List{"a", "b", int64(i)}}
	}
	return args, spec.Dict{"page": int64(1), "of": int64(10)}
}

// BenchmarkCallPayload routes a CALL with a ~4 KB payload to a callee of
// the same format and its YIELD back, from the frames the transport
// receives to the frames it sends: decode, dealer, encode. "eager" decodes
// the payload into Go values and encodes it again (the path before raw
// payloads); "raw" keeps it in wire form and splices it.
func BenchmarkCallPayload(b *testing.B) {
	args, kwargs := largePayload()
	for _, ser := range []serializer.Serializer{serializer.MessagePack, serializer.JSON, serializer.CBOR} {
		callFrame, err := ser.Encode(nil, &spec.Call{Request: 1, Options: spec.Dict{}, Procedure: "bench.proc", Arguments: args, ArgumentsKw: kwargs})
		if err != nil {
			b.Fatal(err)
		}
		yieldFrame, err := ser.Encode(nil, &spec.Yield{Request: 1, Options: spec.Dict{}, Arguments: args, ArgumentsKw: kwargs})
		if err != nil {
			b.Fatal(err)
		}
		for _, mode := range []string{"eager", "raw"} {
			decode := ser.Decode
			if mode == "raw" {
				decode = func(f []byte) (spec.Message, error) { return serializer.DecodeRaw(ser, f) }
			}
			b.Run(ser.Name()+"/"+mode, func(b *testing.B) {
				realm := benchRealm(b)
				caller, callerPeer := benchSession(b, realm, ser)
				callee, _ := benchSession(b, realm, ser)
				realm.dealer.register(callee, &spec.Register{Request: 1, Options: spec.Dict{}, Procedure: "bench.proc"})
				b.SetBytes(int64(len(callFrame) + len(yieldFrame)))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					m, err := decode(callFrame)
					if err != nil {
						b.Fatal(err)
					}
					call := m.(*spec.Call)
					call.Request = spec.ID(i + 1)
					realm.dealer.call(caller, call)
					if m, err = decode(yieldFrame); err != nil {
						b.Fatal(err)
					}
					yield := m.(*spec.Yield)
					yield.Request = callee.invocations.Last()
					realm.dealer.yield(callee, yield)
				}
				b.StopTimer()
				if got := callerPeer.frames.Load(); got != int64(b.N) {
					b.Fatalf("the caller got %d results, want %d", got, b.N)
				}
			})
		}
	}
}

// TestPublishedPayloadIsSpliced: a PUBLISH's payload reaches subscribers
// of the publisher's format as the bytes it wrote, in an order (unsorted
// keys, float32, spacing) no encoder produces, so nothing decoded and
// re-encoded it; a subscriber of another format gets it transcoded.
func TestPublishedPayloadIsSpliced(t *testing.T) {
	cases := []struct {
		ser     serializer.Serializer
		publish []byte
		payload string
	}{
		{serializer.JSON, []byte(`[16,1,{},"p.raw",[ 1,"x" ], {"b":1, "a":[2.50]}]`), `[ 1,"x" ], {"b":1, "a":[2.50]}`},
		{serializer.MessagePack, []byte("\x96\x10\x01\x80\xa5p.raw\x91\xca\x3f\xc0\x00\x00\x82\xa1b\x01\xa1a\x02"), "\x91\xca\x3f\xc0\x00\x00\x82\xa1b\x01\xa1a\x02"},
	}
	for _, tc := range cases {
		t.Run(tc.ser.Name(), func(t *testing.T) {
			realm := benchRealm(t)
			pub, same, cbor := capture(t, realm, tc.ser), capture(t, realm, tc.ser), capture(t, realm, serializer.CBOR)
			for _, s := range []captured{same, cbor} {
				realm.broker.subscribe(s.s, &spec.Subscribe{Request: 1, Options: spec.Dict{}, Topic: "p.raw"})
			}
			m, err := serializer.DecodeRaw(tc.ser, tc.publish)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := spec.RawOf(m); !ok {
				t.Fatal("the transport's decoder did not keep the PUBLISH payload raw")
			}
			realm.broker.publish(pub.s, m.(*spec.Publish))
			suffix := tc.payload
			if tc.ser == serializer.JSON {
				suffix += "]"
			}
			if !bytes.HasSuffix(same.p.last, []byte(suffix)) {
				t.Fatalf("EVENT %q does not carry the payload %q as sent", same.p.last, tc.payload)
			}
			ev, err := serializer.CBOR.Decode(cbor.p.last)
			if err != nil {
				t.Fatal(err)
			}
			if e, ok := ev.(*spec.Event); !ok || len(e.Arguments) == 0 || len(e.ArgumentsKw) != 2 {
				t.Fatalf("CBOR subscriber: %#v", ev)
			}
		})
	}
}

// BenchmarkPublishPayload publishes from the frame the transport receives
// to the EVENT frames of 10 subscribers of the publisher's format: decode,
// broker, one encode. "eager" decodes the payload into Go values and
// encodes it again (the path before raw PUBLISH payloads); "raw" keeps it
// in wire form and splices it. "small" is a 16-byte payload, "large" about
// 4 KB.
func BenchmarkPublishPayload(b *testing.B) {
	largeArgs, largeKw := largePayload()
	payloads := []struct {
		name   string
		args   spec.List
		kwargs spec.Dict
	}{
		{"small", spec.List{"0123456789abcdef"}, nil},
		{"large", largeArgs, largeKw},
	}
	for _, ser := range []serializer.Serializer{serializer.MessagePack, serializer.JSON, serializer.CBOR} {
		for _, pl := range payloads {
			frame, err := ser.Encode(nil, &spec.Publish{Request: 1, Options: spec.Dict{}, Topic: "bench.topic", Arguments: pl.args, ArgumentsKw: pl.kwargs})
			if err != nil {
				b.Fatal(err)
			}
			for _, mode := range []string{"eager", "raw"} {
				decode := ser.Decode
				if mode == "raw" {
					decode = func(f []byte) (spec.Message, error) { return serializer.DecodeRaw(ser, f) }
				}
				b.Run(ser.Name()+"/"+pl.name+"/"+mode, func(b *testing.B) {
					realm := benchRealm(b)
					pub, _ := benchSession(b, realm, ser)
					var last *discardPeer
					for range 10 {
						s, peer := benchSession(b, realm, ser)
						realm.broker.subscribe(s, &spec.Subscribe{Request: 1, Options: spec.Dict{}, Topic: "bench.topic"})
						last = peer
					}
					before := last.frames.Load()
					b.SetBytes(int64(len(frame)))
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						m, err := decode(frame)
						if err != nil {
							b.Fatal(err)
						}
						realm.broker.publish(pub, m.(*spec.Publish))
					}
					b.StopTimer()
					if got := last.frames.Load() - before; got != int64(b.N) {
						b.Fatalf("a subscriber got %d events, want %d", got, b.N)
					}
				})
			}
		}
	}
}
