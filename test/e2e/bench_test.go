package e2e

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestCLIBenchVersus: `bench connect --versus` alternates the router's
// WebSocket and RawSocket listeners round by round, reports the medians of
// both processes' CPU per session, and evaluates the WebSocket/RawSocket
// target with --check; --versus refuses what it cannot compare.
func TestCLIBenchVersus(t *testing.T) {
	p := startRouter(t)
	pid := strconv.Itoa(p.cmd.Process.Pid)
	r := runCLI(t, nil, "bench", "connect", "--url", p.urls["ws"], "--pid", pid,
		"--versus", p.urls["rawsocket"], "--versus-pid", pid, "--rounds", "3",
		"--count", "300", "--concurrency", "4", "--json", "--check")
	// --check may fail the ratio on a loaded machine (exit 1); anything
	// else is a broken run.
	if r.code != 0 && r.code != 1 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	var rep struct {
		Runs []struct {
			Target    string `json:"target"`
			Round     int    `json:"round"`
			Transport string `json:"transport"`
			Ops       int64  `json:"ops"`
			Process   *struct {
				CPUPerOp float64 `json:"cpu_per_op_us"`
			} `json:"process"`
		} `json:"runs"`
		Versus *struct {
			Rounds         int     `json:"rounds"`
			RouterCPUPerOp float64 `json:"router_cpu_per_op_us"`
			VersusCPUPerOp float64 `json:"versus_cpu_per_op_us"`
			CPUPerOpRatio  float64 `json:"cpu_per_op_router_over_versus"`
		} `json:"versus"`
		Checks []struct {
			Target, Status, Detail string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, r.stdout)
	}
	if len(rep.Runs) != 6 {
		t.Fatalf("%d runs, want 3 rounds of two", len(rep.Runs))
	}
	for i, run := range rep.Runs {
		wantTarget, wantTransport := "router", "websocket"
		if i%2 == 1 {
			wantTarget, wantTransport = "versus", "rawsocket"
		}
		if run.Target != wantTarget || run.Round != i/2+1 || run.Transport != wantTransport || run.Ops != 300 || run.Process == nil || run.Process.CPUPerOp <= 0 {
			t.Errorf("run %d = %+v, want %s over %s in round %d with 300 sessions and the process's CPU", i, run, wantTarget, wantTransport, i/2+1)
		}
	}
	v := rep.Versus
	if v == nil || v.Rounds != 3 || v.RouterCPUPerOp <= 0 || v.VersusCPUPerOp <= 0 || v.CPUPerOpRatio != v.RouterCPUPerOp/v.VersusCPUPerOp {
		t.Fatalf("versus = %+v", v)
	}
	var evaluated bool
	for _, c := range rep.Checks {
		if strings.Contains(c.Target, "RawSocket") {
			evaluated = strings.Contains(c.Detail, "over 3 rounds") && (c.Status == "PASS") == (v.CPUPerOpRatio <= 1.3)
		}
	}
	if !evaluated {
		t.Errorf("the WebSocket/RawSocket target was not evaluated from the medians: %+v", rep.Checks)
	}

	refused := runCLI(t, nil, "bench", "connect", "--url", p.urls["ws"], "--versus", p.urls["rawsocket"], "--baseline", "--count", "10")
	if refused.code == 0 || !strings.Contains(refused.stderr, "--versus") {
		t.Errorf("--versus with --baseline: exit %d, stderr %q; want a refusal naming --versus", refused.code, refused.stderr)
	}
}

// TestCLIBenchFloor: `bench floor` prints its two URLs, `bench connect`
// opens and closes sessions on both, and `--versus` compares the router's
// session with the floor's, both processes' CPU measured.
func TestCLIBenchFloor(t *testing.T) {
	floor := startCLI(t, "connect floor listening", "bench", "floor", "--listen", "127.0.0.1:0")
	urls := floor.lines(t, 2)
	if !strings.HasPrefix(urls[0], "tcp://127.0.0.1:") || !strings.HasPrefix(urls[1], "ws://127.0.0.1:") {
		t.Fatalf("floor printed %q, want its RawSocket and WebSocket URLs", urls)
	}
	p := startRouter(t)
	pid, floorPID := strconv.Itoa(p.cmd.Process.Pid), strconv.Itoa(floor.cmd.Process.Pid)
	for i, url := range urls {
		router := p.urls["rawsocket"]
		if i == 1 {
			router = p.urls["ws"]
		}
		r := runCLI(t, nil, "bench", "connect", "--url", router, "--pid", pid,
			"--versus", url, "--versus-pid", floorPID, "--rounds", "1",
			"--count", "200", "--concurrency", "4", "--json")
		if r.code != 0 {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		var rep struct {
			Runs []struct {
				Target string         `json:"target"`
				Ops    int64          `json:"ops"`
				Errors map[string]any `json:"errors"`
			} `json:"runs"`
			Versus *struct {
				RouterCPUPerOp float64 `json:"router_cpu_per_op_us"`
				VersusCPUPerOp float64 `json:"versus_cpu_per_op_us"`
			} `json:"versus"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("report is not JSON: %v\n%s", err, r.stdout)
		}
		if len(rep.Runs) != 2 || rep.Runs[1].Target != "versus" || rep.Runs[1].Ops != 200 || len(rep.Runs[1].Errors) != 0 {
			t.Errorf("%s: runs %+v, want the floor's run with 200 sessions and no errors", url, rep.Runs)
		}
		if v := rep.Versus; v == nil || v.RouterCPUPerOp <= 0 || v.VersusCPUPerOp <= 0 {
			t.Errorf("%s: versus = %+v, want both processes' CPU per session", url, v)
		}
	}
	floor.cmd.Process.Signal(os.Interrupt)
	if code := floor.waitExit(t); code != 0 {
		t.Errorf("floor exited %d on SIGINT, want 0", code)
	}
}
