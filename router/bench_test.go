package router

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// discardPeer is a Peer whose frames vanish: the benchmarks measure the
// router's own work, not a transport.
type discardPeer struct {
	ser    serializer.Serializer
	frames atomic.Int64
	done   chan struct{}
}

func newDiscardPeer(ser serializer.Serializer) *discardPeer {
	return &discardPeer{ser: ser, done: make(chan struct{})}
}

func (p *discardPeer) Serializer() serializer.Serializer { return p.ser }
func (p *discardPeer) Recv(ctx context.Context) (spec.Message, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (p *discardPeer) Send(frame []byte) error { p.frames.Add(1); return nil }
func (p *discardPeer) Close(string) error      { return nil }
func (p *discardPeer) Done() <-chan struct{}   { return p.done }
func (p *discardPeer) Info() transport.Info    { return transport.Info{Transport: "discard"} }

// benchSession joins a session on a discard peer, skipping the handshake.
func benchSession(b testing.TB, realm *Realm, ser serializer.Serializer) (*session, *discardPeer) {
	peer := newDiscardPeer(ser)
	s, _ := benchSessionOn(b, realm, peer)
	return s, peer
}

// benchSessionOn joins a session on peer, skipping the handshake.
func benchSessionOn(b testing.TB, realm *Realm, peer transport.Peer) (*session, transport.Peer) {
	c := &conn{router: realm.router, peer: peer}
	hello := &spec.Hello{Realm: realm.name, Details: spec.Dict{"roles": spec.Dict{"caller": spec.Dict{}, "callee": spec.Dict{}, "publisher": spec.Dict{}, "subscriber": spec.Dict{}}}}
	s := newSession(c, realm, hello.Details["roles"].(map[string]any), auth.Identity{AuthID: "bench", AuthRole: "anonymous"}, spec.GlobalID())
	if !realm.join(s) {
		b.Fatal("join failed")
	}
	return s, peer
}

func benchRealm(b testing.TB) *Realm {
	r, err := New(Options{Realms: []RealmConfig{{Name: "bench"}}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	return r.Realm("bench")
}

// BenchmarkFanout publishes one event to N subscribers: one encoding per
// serializer, then one queue append per subscriber.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			realm := benchRealm(b)
			pub, _ := benchSession(b, realm, serializer.MessagePack)
			var last *discardPeer
			for i := 0; i < n; i++ {
				s, peer := benchSession(b, realm, serializer.MessagePack)
				realm.broker.subscribe(s, &spec.Subscribe{Request: 1, Options: spec.Dict{}, Topic: "bench.topic"})
				last = peer
			}
			m := &spec.Publish{Request: 1, Options: spec.Dict{}, Topic: "bench.topic", Arguments: spec.List{"payload", int64(42)}}
			before := last.frames.Load()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for i := 0; i < b.N; i++ {
				realm.broker.publishFrom(pub, m, false)
			}
			b.StopTimer()
			reportCPU(b, cpu, b.N*n, "cpu-ns/event")
			if got := last.frames.Load() - before; got != int64(b.N) {
				b.Fatalf("the last subscriber got %d events, want %d", got, b.N)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}

// BenchmarkDeliverEncoded routes an EVENT whose frame is already encoded to
// a subscriber: the per-subscriber cost of a fan-out. It must not allocate.
func BenchmarkDeliverEncoded(b *testing.B) {
	realm := benchRealm(b)
	s, _ := benchSession(b, realm, serializer.MessagePack)
	realm.broker.subscribe(s, &spec.Subscribe{Request: 1, Options: spec.Dict{}, Topic: "bench.topic"})
	sub, _ := realm.broker.index.get(spec.MatchExact, "bench.topic")
	p := &publication{id: 1, topic: "bench.topic", options: spec.Dict{}, filter: newDeliveryFilter(nil)}
	var frames frameCache
	if _, err := frames.get(s.ser, p, sub); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		realm.broker.sendEvent(s, p, sub, &frames)
	}
	b.StopTimer()
	reportCPU(b, cpu, b.N, "cpu-ns/op")
	if allocs := testing.AllocsPerRun(100, func() { realm.broker.sendEvent(s, p, sub, &frames) }); allocs != 0 {
		b.Fatalf("delivering an encoded EVENT allocates %.1f times", allocs)
	}
}

// BenchmarkCallRoundTrip routes CALL → INVOCATION and YIELD → RESULT
// between two sessions in memory.
func BenchmarkCallRoundTrip(b *testing.B) {
	realm := benchRealm(b)
	caller, callerPeer := benchSession(b, realm, serializer.MessagePack)
	callee, _ := benchSession(b, realm, serializer.MessagePack)
	realm.dealer.register(callee, &spec.Register{Request: 1, Options: spec.Dict{}, Procedure: "bench.proc"})
	call := &spec.Call{Options: spec.Dict{}, Procedure: "bench.proc", Arguments: spec.List{"x", int64(1)}}
	yield := &spec.Yield{Options: spec.Dict{}, Arguments: spec.List{"y"}}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		call.Request = spec.ID(i + 1)
		realm.dealer.call(caller, call)
		yield.Request = callee.invocations.Last()
		realm.dealer.yield(callee, yield)
	}
	b.StopTimer()
	reportCPU(b, cpu, b.N, "cpu-ns/op")
	if got := callerPeer.frames.Load(); got != int64(b.N) {
		b.Fatalf("the caller got %d results, want %d", got, b.N)
	}
	// The call's state (its INVOCATION and RESULT inside it) and the two
	// encoded frames; the decoded CALL and YIELD are the transport's.
	next := spec.ID(b.N)
	allocs := testing.AllocsPerRun(100, func() {
		next++
		call.Request = next
		realm.dealer.call(caller, call)
		yield.Request = callee.invocations.Last()
		realm.dealer.yield(callee, yield)
	})
	if allocs > 3 {
		b.Fatalf("a call round trip allocates %.1f times, want at most 3", allocs)
	}
}
