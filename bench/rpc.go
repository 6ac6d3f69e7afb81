package bench

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// RPC is the call scenario: Callers sessions call one procedure that
// Callees sessions register (a shared round-robin registration when there
// are several), each caller keeping Window calls outstanding. Every call
// carries its send time and a payload, which the callee echoes; the caller
// measures the round trip from the echo, so no per-call state is kept.
type RPC struct {
	Common
	Callers int // default 8
	Callees int // default 1
	Window  int // outstanding calls per caller; default 16
	Payload int // bytes of binary payload per call; default 16
	// Procedure is the URI called (default "bench.rpc.echo").
	Procedure string
	// CalleeURLs, if set, spread the callees over these routers (the nodes
	// of a cluster, to measure a call crossing nodes); callers use the
	// target's URL.
	CalleeURLs []string
}

// Name implements Scenario.
func (*RPC) Name() string { return "rpc" }

func (o *RPC) setDefaults() {
	o.Common.setDefaults(200_000, 10*time.Second)
	if o.Callers <= 0 {
		o.Callers = 8
	}
	if o.Callees <= 0 {
		o.Callees = 1
	}
	if o.Window <= 0 {
		o.Window = 16
	}
	if o.Payload < 0 {
		o.Payload = 0
	}
	if o.Procedure == "" {
		o.Procedure = "bench.rpc.echo"
	}
}

// rpcCaller is one caller's tally, owned by its goroutine until joined.
type rpcCaller struct {
	s          *session
	calls      int64
	failed     int64
	unanswered int64
	errors     map[string]int64
	hist       histogram
	closed     bool // the router ended the session or connection
}

// Run implements Scenario.
func (o *RPC) Run(ctx context.Context, t Target) (*Result, error) {
	o.setDefaults()
	ep, d, err := o.prepare(ctx, t, transport.Options{})
	if err != nil {
		return nil, err
	}
	res := newResult(o.Name(), t, ep, o.Serializer, "calls", map[string]any{
		"callers": o.Callers, "callees": o.Callees, "window": o.Window,
		"payload": o.Payload, "count": o.Count, "duration_s": o.Duration.Seconds(),
	})

	var sessions pool
	var readers sync.WaitGroup // callee loops
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sessions.closeAll(cctx, &readers, 2*time.Second)
		readers.Wait()
	}()

	setup, cancel := context.WithTimeout(ctx, o.SetupTimeout)
	defer cancel()
	regOpts := emptyDict
	if o.Callees > 1 {
		regOpts = spec.Dict{spec.OptInvoke: "roundrobin"}
	}
	calleeDialers := []*dialer{d}
	if len(o.CalleeURLs) > 0 {
		calleeDialers = calleeDialers[:0]
		for _, u := range o.CalleeURLs {
			_, cd, err := o.prepare(ctx, Target{URL: u}, transport.Options{})
			if err != nil {
				return nil, err
			}
			calleeDialers = append(calleeDialers, cd)
		}
		res.Params["callee_urls"] = strings.Join(o.CalleeURLs, ",")
	}
	callees := make([]*session, o.Callees)
	for i := range callees {
		s, err := calleeDialers[i%len(calleeDialers)].join(setup, o.Realm)
		if err != nil {
			return nil, setupError("callee", i, err)
		}
		sessions.add(s)
		if err := s.register(setup, o.Procedure, regOpts); err != nil {
			return nil, setupError("callee", i, err)
		}
		callees[i] = s
	}
	callers := make([]*rpcCaller, o.Callers)
	for i := range callers {
		s, err := d.join(setup, o.Realm)
		if err != nil {
			return nil, setupError("caller", i, err)
		}
		sessions.add(s)
		callers[i] = &rpcCaller{s: s, errors: map[string]int64{}}
	}
	for _, s := range callees {
		readers.Add(1)
		go func() {
			defer readers.Done()
			runCallee(s)
		}()
	}

	// A call whose answer never comes must not hang the run: past the
	// duration and a grace period the connections are closed under the
	// callers, which then count what is still outstanding as unanswered.
	runCtx, stopRun := context.WithTimeout(ctx, o.Duration+5*time.Second)
	defer stopRun()
	unblock := context.AfterFunc(runCtx, func() {
		for _, s := range sessions.all() {
			s.peer.Close("bench run over")
		}
	})
	defer unblock()

	payload := payloadOf(o.Payload)
	var tickets atomic.Int64
	tickets.Store(o.Count)
	o.Meter.begin(t.Label+" rpc", "calls", o.Count, o.Duration)
	m := startMeasure(t.pids(), false)
	start := time.Now()
	var callerWG sync.WaitGroup
	for _, c := range callers {
		callerWG.Add(1)
		go func() {
			defer callerWG.Done()
			o.runCaller(c, &tickets, start, payload)
		}()
	}
	callerWG.Wait()
	elapsed := time.Since(start)

	rs := &RPCStats{}
	var hist histogram
	for _, c := range callers {
		rs.Calls += c.calls
		rs.Failed += c.failed
		rs.Unanswered += c.unanswered
		res.addErrors(c.errors)
		hist.merge(&c.hist)
		if c.closed {
			res.Errors["session closed by the router"]++
		}
	}
	if rs.Unanswered > 0 {
		res.Errors["unanswered"] += rs.Unanswered
	}
	res.setRate(rs.Calls, elapsed)
	res.RPC = rs
	res.Latency = hist.summary()
	m.finish(res, rs.Calls)
	if ctxDone(ctx) {
		return res, ctx.Err()
	}
	return res, nil
}

// runCaller keeps Window calls outstanding until the tickets run out or the
// duration passes, then collects the answers still due. It is the
// session's only reader.
func (o *RPC) runCaller(c *rpcCaller, tickets *atomic.Int64, start time.Time, payload []byte) {
	limit := o.Duration
	proc := spec.URI(o.Procedure)
	outstanding := 0
	issue := func() bool {
		now := time.Since(start)
		if now >= limit || tickets.Add(-1) < 0 {
			return false
		}
		err := c.s.send(&spec.Call{
			Request:   c.s.nextRequest(),
			Options:   emptyDict,
			Procedure: proc,
			Arguments: spec.List{int64(now), payload},
		})
		if err != nil {
			c.errors["send: "+err.Error()]++
			return false
		}
		outstanding++
		return true
	}
	for outstanding < o.Window && issue() {
	}
	for outstanding > 0 {
		msg, err := c.s.peer.Recv(context.Background())
		if err != nil {
			c.unanswered += int64(outstanding)
			c.closed = true
			return
		}
		var args spec.List
		switch msg := msg.(type) {
		case *spec.Result:
			args = msg.Arguments
		case *spec.Error:
			c.failed++
			c.errors[errorKey(msg.Error)]++
		case *spec.Goodbye:
			c.s.answerGoodbye()
			c.unanswered += int64(outstanding)
			c.closed = true
			return
		case *spec.Abort:
			c.unanswered += int64(outstanding)
			c.closed = true
			return
		default:
			continue
		}
		outstanding--
		if args != nil {
			c.calls++
			if len(args) > 0 {
				if sent, ok := asInt(args[0]); ok {
					c.hist.record(time.Since(start) - time.Duration(sent))
				}
			}
		}
		o.Meter.add(1)
		issue()
	}
}

// runCallee answers every INVOCATION with a YIELD echoing its arguments,
// in the order they arrive, until the session ends. Answering in order is
// what lets the baseline relay route YIELDs back without a table of calls.
func runCallee(s *session) {
	for {
		msg, err := s.peer.Recv(context.Background())
		if err != nil {
			return
		}
		var req spec.ID
		var args spec.List
		switch msg := msg.(type) {
		case *spec.Invocation:
			req, args = msg.Request, msg.Arguments
		case *spec.Goodbye:
			s.answerGoodbye()
			return
		case *spec.Abort:
			return
		default:
			continue
		}
		if err := s.send(&spec.Yield{Request: req, Options: emptyDict, Arguments: args}); err != nil {
			return
		}
	}
}
