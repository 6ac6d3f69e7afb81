package bench

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// realmSessions counts the sessions the in-process router's realm holds.
func realmSessions(ir *InProcessRouter) int {
	n := 0
	for _, rs := range ir.Router.Snapshot() {
		for _, c := range rs.Sessions {
			n += c
		}
	}
	return n
}

// TestIdleWorkers: a run split over worker processes (this test binary,
// made a worker by idleWorkerEnv) and spread over two routers holds every
// session, half on each router, reads the curve over all of them, counts
// the workers' CPU as the generator's, and ends the workers and their
// sessions with the run.
func TestIdleWorkers(t *testing.T) {
	t.Setenv(idleWorkerEnv, "1")
	a, b := startRouter(t, RouterOptions{}), startRouter(t, RouterOptions{})
	var onA, onB int
	o := &Idle{Common: Common{Count: 60}, Concurrency: 6, Settle: 10 * time.Millisecond, Checkpoints: []int64{30},
		SessionURLs: []string{a.RawSocketURL(), b.RawSocketURL()}, Workers: 3, WorkerCommand: []string{os.Args[0]},
		Held: func() { onA, onB = realmSessions(a), realmSessions(b) }}
	res, err := o.Run(testContext(t), Target{URL: a.RawSocketURL(), PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Idle.Sessions != 60 || res.ErrorCount() != 0 {
		t.Fatalf("%d sessions held, errors %v; want 60", res.Idle.Sessions, res.Errors)
	}
	if onA != 30 || onB != 30 {
		t.Errorf("routers held %d and %d sessions, want 30 each", onA, onB)
	}
	var got []int64
	for _, pt := range res.Idle.Curve {
		got = append(got, pt.Target)
		if pt.Sessions != pt.Target {
			t.Errorf("point %+v: want every session open", pt)
		}
	}
	if !slices.Equal(got, []int64{30, 60}) {
		t.Errorf("checkpoints %v, want [30 60]", got)
	}
	if res.Params["workers"] != 3 || res.Params["session_urls"] == nil {
		t.Errorf("params %v: want 3 workers and the session URLs", res.Params)
	}
	// The workers' CPU (opening 60 sessions, at least a few milliseconds
	// over three processes) is in the generator's figure.
	if res.Generator.CPUSeconds <= 0 {
		t.Errorf("generator CPU %v", res.Generator.CPUSeconds)
	}
	deadline := time.Now().Add(5 * time.Second)
	for realmSessions(a)+realmSessions(b) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := realmSessions(a) + realmSessions(b); n != 0 {
		t.Errorf("%d sessions still open after the run", n)
	}
}

// TestIdleWorkerLost: a worker that exits at once is a clear error, not a
// hang.
func TestIdleWorkerLost(t *testing.T) {
	ir := startRouter(t, RouterOptions{})
	o := &Idle{Common: Common{Count: 10}, Workers: 2, WorkerCommand: []string{"/bin/sh", "-c", "echo worker failed >&2; exit 3"}}
	_, err := o.Run(testContext(t), Target{URL: ir.RawSocketURL()})
	if err == nil || !strings.Contains(err.Error(), "stopped answering") || !strings.Contains(err.Error(), "worker failed") {
		t.Fatalf("err %v, want the worker's loss and its stderr", err)
	}
}

// TestIdleWorkerCount: without Workers, one process holds what its file
// limit allows and workers share the rest; more than one worker needs a
// command to start them.
func TestIdleWorkerCount(t *testing.T) {
	per := hardFileLimit() - idleFileReserve
	if per <= 0 {
		t.Skip("no file limit to compute from")
	}
	cmd := []string{"worker"}
	for _, c := range []struct {
		count int64
		cmd   []string
		want  int
	}{
		{per, cmd, 1},
		{per + 1, cmd, 2},
		{5*per + 1, cmd, 6},
		{5*per + 1, nil, 1}, // nothing to start workers with: this process tries
	} {
		o := &Idle{Common: Common{Count: c.count}, WorkerCommand: c.cmd}
		if got, err := o.workerCount(); err != nil || got != c.want {
			t.Errorf("count %d, command %v: %d workers (%v), want %d", c.count, c.cmd, got, err, c.want)
		}
	}
	if _, err := (&Idle{Workers: 2}).workerCount(); err == nil {
		t.Error("two workers without a command were accepted")
	}
}

// A worker whose sessions are slow to open (here: a router that never
// answers the handshake) answers an open request with one reply only: no
// progress line that could be read as the reply before any session opened.
func TestIdleWorkerRepliesOncePerRequest(t *testing.T) {
	ln := silentListener(t)
	in := strings.NewReader(`{"urls":["tcp://` + ln.Addr().String() + `"],"worker":0,"workers":1,"concurrency":2,"sessions":2}` + "\n" +
		`{"open":true,"n":2,"timeout_ms":700}` + "\n")
	var out bytes.Buffer
	if err := RunIdleWorker(testContext(t), in, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("worker wrote %q, want one reply", lines)
	}
	var r idleWorkerReply
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil || r.Opened != 0 || r.Progress != 0 || r.Fatal != "" {
		t.Fatalf("reply %q (%v), want nothing opened and no failure (the deadline is the duration bound)", lines[0], err)
	}
}

// A run that reaches its duration bound while opening is measured and
// noted, not failed, with workers as without.
func TestIdleDurationBoundIsNotAFailure(t *testing.T) {
	t.Setenv(idleWorkerEnv, "1")
	ln := silentListener(t)
	for _, workers := range []int{1, 2} {
		o := &Idle{Common: Common{Count: 4, Duration: 300 * time.Millisecond}, Concurrency: 4, Settle: 10 * time.Millisecond,
			Workers: workers, WorkerCommand: []string{os.Args[0]}}
		res, err := o.Run(testContext(t), Target{URL: "tcp://" + ln.Addr().String()})
		if err != nil {
			t.Fatalf("%d workers: %v", workers, err)
		}
		if res.Idle.Sessions != 0 || !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "duration bound") }) {
			t.Fatalf("%d workers: %d sessions, notes %v; want none and the bound noted", workers, res.Idle.Sessions, res.Notes)
		}
	}
}

// silentListener accepts connections and never answers them (a router that
// hangs in the handshake). Listener and connections close with the test.
func silentListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln
}
