package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/internal/leakcheck"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// idleWorkerEnv makes the test binary an idle worker process
// (RunIdleWorker) instead of running the tests: TestIdleWorkers starts it so.
const idleWorkerEnv = "SWITCHYARD_BENCH_TEST_IDLE_WORKER"

// TestMain fails the package if a scenario leaves a goroutine behind.
func TestMain(m *testing.M) {
	if os.Getenv(idleWorkerEnv) == "1" {
		if err := RunIdleWorker(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	leakcheck.Main(m)
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startRouter starts an in-process router, shut down at the end of the test.
func startRouter(t *testing.T, o RouterOptions) *InProcessRouter {
	t.Helper()
	ir, err := StartRouter(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ir.Shutdown(ctx); err != nil {
			t.Errorf("router shutdown: %v", err)
		}
	})
	return ir
}

// startRelay starts a baseline relay, closed at the end of the test.
func startRelay(t *testing.T) *Relay {
	t.Helper()
	r, err := ListenRelay("tcp", "127.0.0.1:0", RelayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// targets returns the in-process router and a relay, the two things every
// data-path scenario must run against.
func targets(t *testing.T) []Target {
	ir := startRouter(t, RouterOptions{})
	relay := startRelay(t)
	return []Target{{Label: "router", URL: ir.RawSocketURL()}, {Label: "baseline", URL: relay.URL()}}
}

func TestRPCCompletesEveryCall(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		for _, ser := range []string{"msgpack", "json"} {
			o := &RPC{Common: Common{Serializer: ser, Count: 300, Duration: 5 * time.Second}, Callers: 3, Callees: 2, Window: 4}
			res, err := o.Run(testContext(t), tg)
			if err != nil {
				t.Fatalf("%s/%s: %v", tg.Label, ser, err)
			}
			if res.RPC.Calls != 300 || res.ErrorCount() != 0 {
				t.Errorf("%s/%s: %d calls answered, errors %v; want 300 and none", tg.Label, ser, res.RPC.Calls, res.Errors)
			}
			if res.Latency == nil || res.Latency.P50 <= 0 || res.Latency.P999 < res.Latency.P50 || res.Rate <= 0 {
				t.Errorf("%s/%s: implausible figures: rate %v latency %+v", tg.Label, ser, res.Rate, res.Latency)
			}
		}
	}
}

func TestFanoutLosesNothing(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		o := &Fanout{Common: Common{Serializer: "cbor", Count: 200, Duration: 5 * time.Second}, Publishers: 2, Subscribers: 10, Window: 4}
		res, err := o.Run(testContext(t), tg)
		if err != nil {
			t.Fatalf("%s: %v", tg.Label, err)
		}
		f := res.Fanout
		if f.Published != 200 || f.Acks != 200 || f.Delivered != 2000 || f.Expected != 2000 {
			t.Errorf("%s: published %d, acks %d, delivered %d of %d; want 200, 200, 2000 of 2000", tg.Label, f.Published, f.Acks, f.Delivered, f.Expected)
		}
		if f.Lost != 0 || f.OutOfOrder != 0 || f.Disconnected != 0 || res.ErrorCount() != 0 {
			t.Errorf("%s: lost %d, out of order %d, disconnected %d, errors %v", tg.Label, f.Lost, f.OutOfOrder, f.Disconnected, res.Errors)
		}
	}
}

func TestConnectOpensAndCloses(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		o := &Connect{Common: Common{Count: 40, Duration: 5 * time.Second}, Concurrency: 4}
		res, err := o.Run(testContext(t), tg)
		if err != nil {
			t.Fatalf("%s: %v", tg.Label, err)
		}
		if res.Ops != 40 || res.ErrorCount() != 0 {
			t.Errorf("%s: %d sessions, errors %v; want 40 and none", tg.Label, res.Ops, res.Errors)
		}
	}
}

func TestIdleMeasuresMemory(t *testing.T) {
	t.Parallel()
	ir := startRouter(t, RouterOptions{WebSocket: true})
	for _, url := range []string{ir.RawSocketURL(), ir.WebSocketURL()} {
		// The router runs in this process: its pid is ours.
		o := &Idle{Common: Common{Count: 30}, Concurrency: 4, Settle: 10 * time.Millisecond}
		res, err := o.Run(testContext(t), Target{URL: url, PID: os.Getpid()})
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		if res.Idle.Sessions != 30 || res.ErrorCount() != 0 {
			t.Errorf("%s: %d sessions held, errors %v; want 30", url, res.Idle.Sessions, res.Errors)
		}
		if res.Process == nil || res.Process.RSSAfter <= 0 {
			t.Errorf("%s: no process figures: %+v", url, res.Process)
		}
	}
}

// TestIdleCurve: a run reads memory at each checkpoint on the way up, and
// sessions to a loopback router dial from addresses spread over 127.0.0.0/8
// (past one address's ephemeral ports).
func TestIdleCurve(t *testing.T) {
	t.Parallel()
	ir := startRouter(t, RouterOptions{})
	o := &Idle{Common: Common{Count: 30}, Concurrency: 4, Settle: 10 * time.Millisecond, Checkpoints: []int64{10, 20, 40}}
	res, err := o.Run(testContext(t), Target{URL: ir.RawSocketURL(), PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Idle.Sessions != 30 || res.ErrorCount() != 0 {
		t.Fatalf("%d sessions held, errors %v; want 30", res.Idle.Sessions, res.Errors)
	}
	var got []int64
	for _, pt := range res.Idle.Curve {
		got = append(got, pt.Target)
		if pt.Sessions != pt.Target || pt.RSS <= 0 || pt.ConnectRate <= 0 {
			t.Errorf("point %+v: want every session open, an RSS and a rate", pt)
		}
	}
	if !slices.Equal(got, []int64{10, 20, 30}) {
		t.Errorf("checkpoints %v, want [10 20 30]", got)
	}
	ep, err := parseEndpoint(ir.RawSocketURL())
	if err != nil {
		t.Fatal(err)
	}
	if !spreadSources(ep) {
		t.Errorf("%s: sources not spread", ir.RawSocketURL())
	}
	seen := map[string]bool{}
	for i := range int64(100_000) {
		ip := sourceAddr(i)
		if !ip.IsLoopback() || ip.To4()[1] != 1 {
			t.Fatalf("source %d: %v, want 127.1.x.y", i, ip)
		}
		seen[ip.String()] = true
	}
	if len(seen) < 50_000 {
		t.Errorf("100,000 sessions dial from %d addresses", len(seen))
	}
}

func TestSlowConsumerIsDisconnected(t *testing.T) {
	t.Parallel()
	ir := startRouter(t, RouterOptions{Transport: transport.Options{QueueMaxBytes: 64 << 10}})
	o := &Slow{Common: Common{Duration: 10 * time.Second}, Subscribers: 3, Payload: 512, After: 200}
	res, err := o.Run(testContext(t), Target{URL: ir.RawSocketURL(), PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Slow.Disconnected || res.Slow.DetectedAfter <= 0 {
		t.Errorf("stalled subscriber: disconnected %v (%s), on_leave after %vs", res.Slow.Disconnected, res.Slow.HowClosed, res.Slow.DetectedAfter)
	}
	f := res.Fanout
	if f.Lost != 0 || f.Disconnected != 0 || f.Delivered != 3*f.Published || f.Published < 200 {
		t.Errorf("others: published %d, delivered %d, lost %d, disconnected %d", f.Published, f.Delivered, f.Lost, f.Disconnected)
	}
	rep := &Report{Scenario: "slow", Runs: []*Result{res}}
	if failed := Check(rep); len(failed) > 0 {
		t.Errorf("check failed: %+v", failed)
	}
}

func TestCompareReportsRatioAndChecks(t *testing.T) {
	t.Parallel()
	tg := targets(t)
	relay, router := tg[1], tg[0]
	relay.PID, router.PID = os.Getpid(), os.Getpid()
	sc := &RPC{Common: Common{Count: 200, Duration: 5 * time.Second}, Callers: 8, Window: 16}
	rep, err := Run(testContext(t), sc, relay, router)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ratio == nil || rep.Ratio.Value <= 0 || rep.Ratio.Metric != "calls/s" {
		t.Fatalf("ratio = %+v", rep.Ratio)
	}
	checks := Check(rep)
	for _, c := range checks {
		// Timing targets may miss under -race; configuration must match.
		if strings.Contains(c.Detail, "defined for") || strings.Contains(c.Detail, "needs") {
			t.Errorf("check not evaluated: %+v", c)
		}
	}
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"calls/s", "baseline", "router/baseline", "latency p99.9"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Runs) != 2 {
		t.Errorf("JSON does not round-trip: %v", err)
	}
}

func TestCheckNamesMissedTargets(t *testing.T) {
	rep := &Report{Scenario: "fanout", Runs: []*Result{{
		Target: "router", Transport: "rawsocket", Serializer: "msgpack",
		Params: map[string]any{"publishers": 1, "subscribers": 1000},
		Fanout: &FanoutStats{Lost: 3},
	}}}
	failed := Check(rep)
	if len(failed) != 2 {
		t.Fatalf("failed = %+v, want the ratio (no baseline) and the loss", failed)
	}
	if !strings.Contains(failed[0].Detail, "--baseline") || !strings.Contains(failed[1].Detail, "3 lost") {
		t.Errorf("failures do not say why: %+v", failed)
	}
}

func TestRemoteTargetRefused(t *testing.T) {
	o := &RPC{Common: Common{Count: 1}}
	_, err := o.Run(context.Background(), Target{URL: "tcp://192.0.2.1:8081"})
	if !errors.Is(err, ErrRemoteTarget) {
		t.Errorf("err = %v, want ErrRemoteTarget", err)
	}
}

func TestPeekType(t *testing.T) {
	msgs := []spec.Message{
		&spec.Hello{Realm: "r", Details: spec.Dict{}},
		&spec.Call{Request: 1, Options: spec.Dict{}, Procedure: "p", Arguments: spec.List{int64(1)}},
		&spec.Yield{Request: 1 << 40, Options: spec.Dict{}},
		&spec.Publish{Request: 7, Options: spec.Dict{"acknowledge": true}, Topic: "t"},
		&spec.Error{RequestType: spec.TypeInvocation, Request: 3, Details: spec.Dict{}, Error: "e"},
		&spec.Goodbye{Details: spec.Dict{}, Reason: spec.CloseNormal},
	}
	for _, s := range serializer.All() {
		for _, m := range msgs {
			b, err := s.Encode(nil, m)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := peekType(s.Name(), b); !ok || got != m.Type() {
				t.Errorf("%s %s: peek = %v, %v", s.Name(), m.Type(), got, ok)
			}
		}
	}
	if _, ok := peekType("msgpack", []byte{0x01}); ok {
		t.Error("peek accepted a non-list")
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {0.999, 999 * time.Microsecond}} {
		got := h.quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d < -0.02 || d > 0.02 {
			t.Errorf("q%v = %v, want %v within 2%%", c.q, got, c.want)
		}
	}
}

// TestEnvelopeRewrites checks the relay's head rewriting against the
// serializers: what it builds must decode to the message a router sends.
func TestEnvelopeRewrites(t *testing.T) {
	args := spec.List{int64(1), "two", []byte{3}, spec.Dict{"k": spec.List{1.5, nil, true}}}
	kw := spec.Dict{"x": int64(-7)}
	for _, s := range serializer.All() {
		e := envelopeFor(s.Name())
		enc := func(m spec.Message) []byte {
			b, err := s.Encode(nil, m)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		for _, c := range []struct {
			args spec.List
			kw   spec.Dict
		}{{nil, nil}, {args, nil}, {args, kw}} {
			call := enc(&spec.Call{Request: 1 << 50, Options: spec.Dict{"timeout": int64(5), "x": "y"}, Procedure: "a.b", Arguments: c.args, ArgumentsKw: c.kw})
			h, ok := parseHead(e, call, 2)
			if !ok || h.id != 1<<50 {
				t.Fatalf("%s: parse CALL: %v %d", s.Name(), ok, h.id)
			}
			got, err := s.Decode(rewrite4(e, call, h, uint64(spec.TypeInvocation), 9, 1<<53))
			inv, _ := got.(*spec.Invocation)
			if err != nil || inv == nil || inv.Request != 9 || inv.Registration != 1<<53 || len(inv.Details) != 0 || len(inv.Arguments) != len(c.args) || len(inv.ArgumentsKw) != len(c.kw) {
				t.Errorf("%s: INVOCATION from CALL = %#v, %v", s.Name(), got, err)
			}
			yield := enc(&spec.Yield{Request: 9, Options: spec.Dict{}, Arguments: c.args, ArgumentsKw: c.kw})
			h, ok = parseHead(e, yield, 1)
			got, err = s.Decode(rewrite3(e, yield, h, uint64(spec.TypeResult), 1<<50))
			res, _ := got.(*spec.Result)
			if !ok || err != nil || res == nil || res.Request != 1<<50 || len(res.Arguments) != len(c.args) || len(res.ArgumentsKw) != len(c.kw) {
				t.Errorf("%s: RESULT from YIELD = %#v, %v", s.Name(), got, err)
			}
			pub := enc(&spec.Publish{Request: 300, Options: spec.Dict{"acknowledge": true}, Topic: "t.u", Arguments: c.args, ArgumentsKw: c.kw})
			h, ok = parseHead(e, pub, 2)
			got, err = s.Decode(rewrite4(e, pub, h, uint64(spec.TypeEvent), 5, 70000))
			ev, _ := got.(*spec.Event)
			if !ok || err != nil || ev == nil || ev.Subscription != 5 || ev.Publication != 70000 || len(ev.Arguments) != len(c.args) {
				t.Errorf("%s: EVENT from PUBLISH = %#v, %v", s.Name(), got, err)
			}
			got, err = s.Decode(build3(e, uint64(spec.TypePublished), h.id, 70000))
			if p, _ := got.(*spec.Published); err != nil || p == nil || p.Request != 300 || p.Publication != 70000 {
				t.Errorf("%s: PUBLISHED = %#v, %v", s.Name(), got, err)
			}
		}
		for _, bad := range [][]byte{nil, {0x01}, []byte("[48,"), {0x95, 0x30}} {
			if _, ok := parseHead(e, bad, 2); ok {
				t.Errorf("%s: parsed a truncated head % x", s.Name(), bad)
			}
		}
	}
}

// FuzzEnvelope: the relay parses heads of frames from the network; no
// input may make it panic.
func FuzzEnvelope(f *testing.F) {
	for _, s := range serializer.All() {
		b, _ := s.Encode(nil, &spec.Publish{Request: 3, Options: spec.Dict{"a": spec.List{1}}, Topic: "t", Arguments: spec.List{"x"}})
		f.Add(s.Name(), b)
	}
	f.Fuzz(func(t *testing.T, format string, b []byte) {
		e := envelopeFor(format)
		if e == nil {
			return
		}
		if h, ok := parseHead(e, b, 2); ok {
			rewrite4(e, b, h, 36, 1, 2)
		}
		peekType(format, b)
	})
}

// TestRelayTranscodesMixedSerializers: the generator never mixes
// serializers, but a user pointing a client at the relay may.
func TestRelayTranscodesMixedSerializers(t *testing.T) {
	relay := startRelay(t)
	ctx := testContext(t)
	callee, err := client.Connect(ctx, relay.URL(), client.Config{Serializer: "msgpack"})
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close(ctx)
	if _, err := callee.Register(ctx, "p", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Arguments: inv.Arguments}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	caller, err := client.Connect(ctx, relay.URL(), client.Config{Serializer: "json"})
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close(ctx)
	res, err := caller.Call(ctx, "p", spec.List{"hi", int64(2)}, nil, nil)
	if err != nil || len(res.Arguments) != 2 || res.Arguments[0] != "hi" {
		t.Fatalf("call through the relay: %+v, %v", res, err)
	}
}

// Subscribers join through SubscriberURLs (here two listeners of one
// router, as the nodes of a cluster would be) and the run still loses
// nothing; a bad subscriber URL is an error.
func TestFanoutSpreadsSubscribers(t *testing.T) {
	ir := startRouter(t, RouterOptions{})
	o := &Fanout{Common: Common{Serializer: "msgpack", Count: 100, Duration: 5 * time.Second}, Subscribers: 6, Window: 4,
		SubscriberURLs: []string{ir.RawSocketURL(), ir.RawSocketURL()}}
	res, err := o.Run(testContext(t), Target{Label: "router", URL: ir.RawSocketURL()})
	if err != nil {
		t.Fatal(err)
	}
	if f := res.Fanout; f.Delivered != 600 || f.Lost != 0 || res.Params["subscriber_urls"] == nil {
		t.Fatalf("delivered %d, lost %d, params %v", f.Delivered, f.Lost, res.Params)
	}
	bad := &Fanout{Common: Common{Count: 10}, Subscribers: 2, SubscriberURLs: []string{"bogus://x"}}
	if _, err := bad.Run(testContext(t), Target{Label: "router", URL: ir.RawSocketURL()}); err == nil {
		t.Fatal("a bad subscriber URL was accepted")
	}
}

// Callees join through CalleeURLs and every call is answered; a bad callee
// URL is an error.
func TestRPCSpreadsCallees(t *testing.T) {
	ir := startRouter(t, RouterOptions{})
	o := &RPC{Common: Common{Serializer: "msgpack", Count: 200, Duration: 5 * time.Second}, Callers: 2, Callees: 2, Window: 4,
		CalleeURLs: []string{ir.RawSocketURL(), ir.RawSocketURL()}}
	res, err := o.Run(testContext(t), Target{Label: "router", URL: ir.RawSocketURL()})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.RPC; r.Calls != 200 || r.Failed != 0 || r.Unanswered != 0 || res.Params["callee_urls"] == nil {
		t.Fatalf("calls %+v, params %v", r, res.Params)
	}
	bad := &RPC{Common: Common{Count: 10}, Callees: 1, CalleeURLs: []string{"bogus://x"}}
	if _, err := bad.Run(testContext(t), Target{Label: "router", URL: ir.RawSocketURL()}); err == nil {
		t.Fatal("a bad callee URL was accepted")
	}
}

// TestConnectSpreadsSources: over IPv4 loopback, successive sessions of
// bench connect dial from different 127.a.b.c addresses (their ports in
// TIME_WAIT do not pile up on one address), wrapping around without ever
// using a .0 or .255 byte; elsewhere the dialer is left alone. TestConnectOpensAndCloses runs such sessions end to end.
func TestConnectSpreadsSources(t *testing.T) {
	ep, err := parseEndpoint("tcp://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	if !spreadSources(ep) {
		t.Fatal("a loopback TCP target is not spread")
	}
	seen := map[string]bool{}
	for _, n := range []int64{0, 253, 254, 64515, 64516, loopbackSources - 1, loopbackSources, 3 * loopbackSources / 2} {
		ip := connectSource(n).To4()
		if ip[0] != 127 || ip[1] == 0 || ip[1] == 255 || ip[2] == 0 || ip[2] == 255 || ip[3] == 0 || ip[3] == 255 {
			t.Errorf("session %d dials from %v", n, ip)
		}
	}
	if !connectSource(loopbackSources).Equal(connectSource(0)) {
		t.Error("the addresses do not wrap around")
	}
	for n := range int64(1000) {
		cfg := sessionConfig(client.Config{}, true, 65000+n)
		if cfg.Dialer == nil || cfg.Dialer.LocalAddr == nil {
			t.Fatalf("session %d dials from no chosen address", n)
		}
		a := cfg.Dialer.LocalAddr.(*net.TCPAddr)
		if !a.IP.IsLoopback() || a.Port != 0 {
			t.Fatalf("session %d dials from %v", n, a)
		}
		seen[a.IP.String()] = true
	}
	if len(seen) != 1000 {
		t.Errorf("1,000 sessions dialed from %d addresses", len(seen))
	}
	if cfg := sessionConfig(client.Config{}, false, 7); cfg.Dialer != nil {
		t.Errorf("not spread, yet the dialer was set: %v", cfg.Dialer.LocalAddr)
	}
}
