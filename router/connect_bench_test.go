package router

import (
	"context"
	"io"
	"testing"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// scriptPeer plays a client's side of one connect cycle: it hands the router
// HELLO, then GOODBYE, decoded from their wire form as a transport would,
// then reports the connection closed. What the router sends is counted.
type scriptPeer struct {
	ser    serializer.Serializer
	frames [][]byte
	next   int
	sent   int
	done   chan struct{}
}

func (p *scriptPeer) Serializer() serializer.Serializer { return p.ser }
func (p *scriptPeer) Recv(ctx context.Context) (spec.Message, error) {
	if p.next == len(p.frames) {
		return nil, io.EOF
	}
	p.next++
	return p.ser.Decode(p.frames[p.next-1])
}
func (p *scriptPeer) Send(frame []byte) error { p.sent++; return nil }
func (p *scriptPeer) Close(string) error      { return nil }
func (p *scriptPeer) Done() <-chan struct{}   { return p.done }
func (p *scriptPeer) Info() transport.Info {
	return transport.Info{Transport: "rawsocket", Protocol: "wamp.2.msgpack", RemoteAddr: "127.0.0.1:40000"}
}

// BenchmarkConnectCycle is the router's share of one session's life in the
// `switchyard bench connect` cycle: HELLO decoded, WELCOME built and
// encoded, the session joined and announced, GOODBYE answered, the session
// gone. The transport is left out (a scripted peer), so what it measures is
// Switchyard's own per-session cost.
func BenchmarkConnectCycle(b *testing.B) {
	realm := benchRealm(b)
	ser := serializer.MessagePack
	hello, err := ser.Encode(nil, &spec.Hello{Realm: realm.name, Details: spec.Dict{
		"agent": "bench",
		"roles": spec.Dict{
			spec.RoleCaller:     spec.Dict{"features": spec.Dict{spec.FeatureProgressiveCallResults: true, spec.FeatureCallCanceling: true}},
			spec.RoleCallee:     spec.Dict{"features": spec.Dict{spec.FeatureProgressiveCallResults: true, spec.FeatureCallCanceling: true}},
			spec.RolePublisher:  spec.Dict{"features": spec.Dict{spec.FeaturePublisherExclusion: true}},
			spec.RoleSubscriber: spec.Dict{"features": spec.Dict{spec.FeaturePatternBasedSubscription: true}},
		},
	}})
	if err != nil {
		b.Fatal(err)
	}
	goodbye, err := ser.Encode(nil, &spec.Goodbye{Details: spec.Dict{}, Reason: spec.CloseSystemShutdown})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		p := &scriptPeer{ser: ser, frames: [][]byte{hello, goodbye}, done: make(chan struct{})}
		realm.router.ServePeer(ctx, p)
		if p.sent != 2 {
			b.Fatalf("the router sent %d frames, want WELCOME and GOODBYE", p.sent)
		}
	}
	b.StopTimer()
	reportCPU(b, cpu, b.N, "cpu-ns/op")
	if n := realm.SessionCount(); n != 0 {
		b.Fatalf("%d sessions left in the realm", n)
	}
}
