package bench

import (
	"fmt"
)

// CheckResult is one target evaluated against a report.
type CheckResult struct {
	Target string `json:"target"`
	// Status is "PASS", "FAIL", or "INFO" for an aim that is reported but
	// does not fail the check (the design's "What to beat" column).
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// Targets of issue 5 and aims of the design, in one place so that the
// documentation and the check cannot drift apart.
const (
	TargetRPCRatio        = 0.50       // of the relay's round trips, 8 callers × window 16, RawSocket/msgpack
	TargetFanoutRatio     = 0.60       // of the relay's delivered frames/s, 1 → 1,000
	TargetIdleRawSocket   = 16 << 10   // bytes per idle session at 10,000 sessions
	TargetIdleWebSocket   = 24 << 10   // bytes per idle session at 10,000 sessions
	TargetIdleSessions    = 10_000     // where the idle target is defined
	TargetSlowRSSGrowth   = 64 << 20   // bound on the router's RSS growth with one stalled subscriber
	TargetConnectWSOverRS = 1.3        // WebSocket connect cycle's router CPU over RawSocket's (issue 14)
	AimRPCCPUMicros       = 25.0       // router CPU per call
	AimEventCPUMicros     = 6.0        // router CPU per delivered event
	AimIdleRawSocketByte  = 8.5 * 1024 // per idle session
	AimIdleWebSocketByte  = 10 * 1024  // per idle session
)

// Check evaluates the targets that apply to the report's scenario, stores
// them in rep.Checks and returns those that failed. A target whose
// conditions the run does not meet (no baseline, another configuration,
// no pid) fails with the reason: a check that cannot be evaluated has not
// been passed.
func Check(rep *Report) (failed []CheckResult) {
	var cs []CheckResult
	pass := func(target string, ok bool, format string, args ...any) {
		st := "FAIL"
		if ok {
			st = "PASS"
		}
		cs = append(cs, CheckResult{Target: target, Status: st, Detail: fmt.Sprintf(format, args...)})
	}
	info := func(target, format string, args ...any) {
		cs = append(cs, CheckResult{Target: target, Status: "INFO", Detail: fmt.Sprintf(format, args...)})
	}
	router, baseline := rep.Run("router"), rep.Run("baseline")
	if router == nil {
		pass(rep.Scenario, false, "no run against the router to check")
		rep.Checks = cs
		return cs
	}
	switch rep.Scenario {
	case "rpc":
		const name = "rpc: ≥ 50% of the baseline's round trips (RawSocket/msgpack, 8 callers, window 16)"
		switch {
		case router.Transport != "rawsocket" || router.Serializer != "msgpack" || router.Params["callers"] != 8 || router.Params["window"] != 16:
			pass(name, false, "the run is %s/%s with %v callers and window %v; the target is defined for rawsocket/msgpack, 8 callers, window 16",
				router.Transport, router.Serializer, router.Params["callers"], router.Params["window"])
		case baseline == nil || rep.Ratio == nil:
			pass(name, false, "needs the baseline relay in the same invocation (--baseline)")
		default:
			pass(name, rep.Ratio.Value >= TargetRPCRatio, "router %.0f calls/s, baseline %.0f calls/s: %.2f", rep.Ratio.Router, rep.Ratio.Baseline, rep.Ratio.Value)
		}
		pass("rpc: no call answered with an error or left unanswered", router.ErrorCount() == 0,
			"%d errors (%v)", router.ErrorCount(), router.Errors)
		if p := router.Process; p != nil && router.Params["window"] == 1 {
			// The design's aim is stated for one outstanding call per caller.
			info(fmt.Sprintf("aim: router CPU per call ≤ %.0f µs (window 1)", AimRPCCPUMicros), "%.1f µs", p.CPUPerOpMicros)
		}
	case "fanout":
		const name = "fanout: 1 → 1,000 subscribers ≥ 60% of the baseline's delivered events/s"
		switch {
		case router.Params["publishers"] != 1 || router.Params["subscribers"] != 1000:
			pass(name, false, "the run has %v publishers and %v subscribers; the target is defined for 1 → 1,000",
				router.Params["publishers"], router.Params["subscribers"])
		case baseline == nil || rep.Ratio == nil:
			pass(name, false, "needs the baseline relay in the same invocation (--baseline)")
		default:
			pass(name, rep.Ratio.Value >= TargetFanoutRatio, "router %.0f events/s, baseline %.0f events/s: %.2f", rep.Ratio.Router, rep.Ratio.Baseline, rep.Ratio.Value)
		}
		if f := router.Fanout; f != nil {
			pass("fanout: no event lost, none out of order, no subscriber disconnected", f.Lost == 0 && f.OutOfOrder == 0 && f.Disconnected == 0 && router.ErrorCount() == 0,
				"%d lost, %d out of order, %d subscribers disconnected, %d errors", f.Lost, f.OutOfOrder, f.Disconnected, router.ErrorCount())
		}
		if p := router.Process; p != nil {
			info(fmt.Sprintf("aim: router CPU per delivered event ≤ %.0f µs", AimEventCPUMicros), "%.2f µs", p.CPUPerOpMicros)
		}
	case "connect":
		var errs int64
		for _, r := range rep.Runs {
			errs += r.ErrorCount()
		}
		pass("connect: every session opened, joined and closed", errs == 0, "%d errors over %d runs", errs, len(rep.Runs))
		name := fmt.Sprintf("connect: WebSocket router CPU per session ≤ %.1f× RawSocket's (medians of alternated rounds)", TargetConnectWSOverRS)
		versus, v := rep.runsOf("versus"), rep.Versus
		switch {
		case v == nil || len(versus) == 0:
			pass(name, false, "needs the router's RawSocket listener run alternately with its WebSocket one (--url ws://… --versus tcp://… with --pid and --versus-pid)")
		case router.Transport != "websocket" || versus[0].Transport != "rawsocket":
			pass(name, false, "the runs compare %s with %s; the target is defined for websocket (--url) against rawsocket (--versus)", router.Transport, versus[0].Transport)
		case v.CPUPerOpRatio == 0:
			pass(name, false, "needs both processes' CPU (--pid and --versus-pid)")
		default:
			pass(name, v.CPUPerOpRatio <= TargetConnectWSOverRS, "%.1f / %.1f µs per session = %.2f over %d rounds",
				v.RouterCPUPerOp, v.VersusCPUPerOp, v.CPUPerOpRatio, v.Rounds)
		}
	case "idle":
		limit, aim := int64(TargetIdleRawSocket), AimIdleRawSocketByte
		if router.Transport == "websocket" {
			limit, aim = TargetIdleWebSocket, AimIdleWebSocketByte
		}
		name := fmt.Sprintf("idle: < %d KiB of router memory per %s session at 10,000 sessions", limit>>10, router.Transport)
		switch {
		case router.Process == nil || router.Idle == nil:
			pass(name, false, "needs the router's pid (--pid)")
		case router.Idle.Sessions < TargetIdleSessions:
			pass(name, false, "only %d sessions were held; the target is defined at %d", router.Idle.Sessions, TargetIdleSessions)
		default:
			b := router.Idle.BytesPerSession
			pass(name, b < float64(limit), "%.0f bytes (%.2f KiB) per session", b, b/1024)
			info(fmt.Sprintf("aim: ≤ %.1f KiB per %s session", aim/1024, router.Transport), "%.2f KiB", b/1024)
		}
	case "slow":
		s, f := router.Slow, router.Fanout
		if s == nil || f == nil {
			pass("slow", false, "no slow-consumer figures in the report")
			break
		}
		pass("slow: the stalled subscriber is disconnected", s.Disconnected, "%s", s.HowClosed)
		pass("slow: every other subscriber receives every event", f.Lost == 0 && f.OutOfOrder == 0 && f.Disconnected == 0,
			"%d lost, %d out of order, %d disconnected", f.Lost, f.OutOfOrder, f.Disconnected)
		if router.Process != nil {
			pass(fmt.Sprintf("slow: router memory stays bounded (peak RSS growth < %d MiB)", TargetSlowRSSGrowth>>20),
				s.RSSGrowth < TargetSlowRSSGrowth, "peak growth %s", formatBytes(float64(s.RSSGrowth)))
		} else {
			info("slow: router memory", "not measured (give --pid)")
		}
	default:
		info(rep.Scenario, "no target is defined for this scenario")
	}
	rep.Checks = cs
	for _, c := range cs {
		if c.Status == "FAIL" {
			failed = append(failed, c)
		}
	}
	return failed
}
