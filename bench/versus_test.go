package bench

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	rate := func(r *Result) (float64, bool) { return r.Rate, true }
	runs := func(rates ...float64) []*Result {
		rs := make([]*Result, len(rates))
		for i, x := range rates {
			rs[i] = &Result{Rate: x}
		}
		return rs
	}
	for _, tc := range []struct {
		rates []float64
		want  float64
	}{
		{[]float64{7}, 7},
		{[]float64{9, 1, 5}, 5},
		{[]float64{300, 1, 2, 3, 4}, 3}, // a spoiled round does not move it
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got, ok := median(runs(tc.rates...), rate); !ok || got != tc.want {
			t.Errorf("median(%v) = %v, %v; want %v", tc.rates, got, ok, tc.want)
		}
	}
	cpu := func(r *Result) (float64, bool) {
		if r.Process == nil {
			return 0, false
		}
		return r.Process.CPUPerOpMicros, true
	}
	mixed := []*Result{{Process: &ProcessStats{CPUPerOpMicros: 3}}, {}}
	if _, ok := median(mixed, cpu); ok {
		t.Error("median over a run without the figure reported a value")
	}
}

// TestAlternateComparesMedians runs connect against an in-process router's
// WebSocket and RawSocket listeners in turn and checks the report: runs
// alternate and are numbered, the medians are those of the runs, and the
// connect target is evaluated from them. Not parallel: its sessions would
// add to the memory TestSlowConsumerIsDisconnected measures in this process.
func TestAlternateComparesMedians(t *testing.T) {
	ir := startRouter(t, RouterOptions{WebSocket: true})
	ws := Target{URL: ir.WebSocketURL(), PID: os.Getpid()}
	rs := Target{URL: ir.RawSocketURL(), PID: os.Getpid()}
	sc := &Connect{Common: Common{Count: 200, Duration: 5 * time.Second}, Concurrency: 4}
	rep, err := Alternate(testContext(t), sc, ws, rs, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 6 {
		t.Fatalf("%d runs, want 6", len(rep.Runs))
	}
	var wsCPU, rsCPU, wsRate []float64
	for i, r := range rep.Runs {
		label, transport := "router", "websocket"
		if i%2 == 1 {
			label, transport = "versus", "rawsocket"
		}
		if r.Target != label || r.Round != i/2+1 || r.Transport != transport || r.Ops != 200 || r.Process == nil {
			t.Fatalf("run %d: %s round %d over %s, %d sessions; want %s round %d over %s, 200", i, r.Target, r.Round, r.Transport, r.Ops, label, i/2+1, transport)
		}
		if label == "router" {
			wsCPU, wsRate = append(wsCPU, r.Process.CPUPerOpMicros), append(wsRate, r.Rate)
		} else {
			rsCPU = append(rsCPU, r.Process.CPUPerOpMicros)
		}
	}
	mid := func(xs []float64) float64 { // three values
		a, b, c := xs[0], xs[1], xs[2]
		return max(min(a, b), min(max(a, b), c))
	}
	v := rep.Versus
	if v == nil || v.Rounds != 3 || v.Metric != "sessions/s" || v.RouterRate != mid(wsRate) ||
		v.RouterCPUPerOp != mid(wsCPU) || v.VersusCPUPerOp != mid(rsCPU) || v.CPUPerOpRatio != mid(wsCPU)/mid(rsCPU) {
		t.Fatalf("versus = %+v; want the medians of WebSocket %v (rates %v) and RawSocket %v", v, wsCPU, wsRate, rsCPU)
	}
	Check(rep)
	var target *CheckResult
	for i, c := range rep.Checks {
		if strings.Contains(c.Target, "RawSocket's") {
			target = &rep.Checks[i]
		}
	}
	if target == nil || !strings.Contains(target.Detail, "over 3 rounds") || (target.Status == "PASS") != (v.CPUPerOpRatio <= TargetConnectWSOverRS) {
		t.Errorf("connect target = %+v, ratio %.2f", target, v.CPUPerOpRatio)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"router 1", "versus 3", "medians of 3 alternated rounds", "versus: " + rs.URL} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

// TestCheckConnectTarget: the WebSocket/RawSocket target passes and fails
// on the medians' ratio, and fails, saying why, when the runs cannot show
// it.
func TestCheckConnectTarget(t *testing.T) {
	report := func(routerTransport, versusTransport string, ratio float64, errs int64) *Report {
		run := func(label, transport string) *Result {
			r := &Result{Target: label, Round: 1, Transport: transport, Op: "sessions"}
			if errs > 0 && label == "versus" {
				r.Errors = map[string]int64{"dial": errs}
			}
			return r
		}
		rep := &Report{Scenario: "connect", Runs: []*Result{run("router", routerTransport), run("versus", versusTransport)}}
		rep.Versus = &Versus{Rounds: 1, RouterCPUPerOp: 100 * ratio, VersusCPUPerOp: 100, CPUPerOpRatio: ratio}
		return rep
	}
	status := func(rep *Report, substr string) (string, string) {
		Check(rep)
		for _, c := range rep.Checks {
			if strings.Contains(c.Target, substr) {
				return c.Status, c.Detail
			}
		}
		return "missing", ""
	}
	for _, tc := range []struct {
		name   string
		rep    *Report
		target string
		want   string
		why    string
	}{
		{"within", report("websocket", "rawsocket", 1.2, 0), "RawSocket's", "PASS", "= 1.20"},
		{"beyond", report("websocket", "rawsocket", 1.4, 0), "RawSocket's", "FAIL", "= 1.40"},
		{"no CPU", report("websocket", "rawsocket", 0, 0), "RawSocket's", "FAIL", "--versus-pid"},
		{"other transports", report("websocket", "websocket", 1.0, 0), "RawSocket's", "FAIL", "defined for"},
		{"no versus", &Report{Scenario: "connect", Runs: []*Result{{Target: "router", Transport: "websocket"}}}, "RawSocket's", "FAIL", "--versus"},
		{"errors", report("websocket", "rawsocket", 1.0, 3), "every session", "FAIL", "3 errors"},
	} {
		st, detail := status(tc.rep, tc.target)
		if st != tc.want || !strings.Contains(detail, tc.why) {
			t.Errorf("%s: %s (%s), want %s mentioning %q", tc.name, st, detail, tc.want, tc.why)
		}
	}
}

// A comparison reports the kernel's share of each side's CPU, as medians.
func TestCompareRunsReportsTheKernelShare(t *testing.T) {
	runs := func(cpuKernel ...float64) []*Result {
		var rs []*Result
		for i := 0; i < len(cpuKernel); i += 2 {
			rs = append(rs, &Result{Op: "sessions", Rate: 1, Process: &ProcessStats{CPUPerOpMicros: cpuKernel[i], KernelPerOpMicros: cpuKernel[i+1]}})
		}
		return rs
	}
	router, versus := runs(100, 60, 90, 50, 500, 400), runs(200, 80, 210, 90, 190, 70)
	v := compareRuns(router, versus)
	if v.RouterCPUPerOp != 100 || v.VersusCPUPerOp != 200 || v.RouterKernelPerOp != 60 || v.VersusKernelPerOp != 80 {
		t.Fatalf("medians %+v; want CPU 100 / 200, kernel 60 / 80", v)
	}
	var buf bytes.Buffer
	if err := (&Report{Scenario: "connect", Runs: append(router, versus...), Versus: v}).WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	if want := "100.0 / 200.0 µs = 0.50 (in the kernel: 60.0 / 80.0 µs)"; !strings.Contains(buf.String(), want) {
		t.Fatalf("table:\n%s\nwant %q", buf.String(), want)
	}
}
