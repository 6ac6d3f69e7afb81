package e2e

import (
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

// buildExample builds examples/NAME into the test's temporary directory.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(t.TempDir(), name)
	build := exec.Command("go", "build", "-o", bin, "./examples/"+name)
	build.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building examples/%s: %v\n%s", name, err, out)
	}
	return bin
}

// waitForService polls cond (bounded) and fails with what the service logged.
func waitForService(t *testing.T, what string, log *syncBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened; service log:\n%s", what, log.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestExampleServiceSurvivesARouterCrash(t *testing.T) {
	bin := buildExample(t, "service")
	addr := freePorts(t, 1)
	serve := []string{"serve", "--rawsocket", addr[0], "--ws", ""}
	first := startRouterWith(t, addr, serve...)
	url := "rs://" + addr[0]

	svcLog := &syncBuffer{}
	svc := exec.Command(bin, "--url", url, "--max-delay", "500ms")
	svc.Stdout, svc.Stderr = svcLog, svcLog
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	svcExited := make(chan error, 1)
	go func() { svcExited <- svc.Wait() }()
	t.Cleanup(func() {
		svc.Process.Signal(syscall.SIGTERM)
		select {
		case <-svcExited:
		case <-time.After(10 * time.Second):
			svc.Process.Kill()
			<-svcExited
			t.Error("the service did not stop on SIGTERM")
		}
	})
	waitForService(t, "serving", svcLog, func() bool { return strings.Contains(svcLog.String(), "msg=serving") })

	call := func(procedure string, args ...any) (*client.Result, error) {
		c, err := client.Connect(ctxT(t, 5*time.Second), url, client.Config{Serializer: "json"})
		if err != nil {
			return nil, err
		}
		defer c.Close(ctxT(t, 5*time.Second))
		return c.Call(ctxT(t, 5*time.Second), procedure, args, nil, nil)
	}
	tick := func() {
		c, err := client.Connect(ctxT(t, 5*time.Second), url, client.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctxT(t, 5*time.Second))
		if err := c.Publish(ctxT(t, 5*time.Second), "com.example.service.tick", nil, nil, spec.Dict{"acknowledge": true}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := call("com.example.service.add", 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := spec.AsInt(res.Arguments[0]); n != 5 {
		t.Fatalf("add: %v", res.Arguments)
	}
	tick()

	// Crash the router: no GOODBYE, the connection just breaks.
	first.cmd.Process.Signal(syscall.SIGKILL)
	<-first.exited
	first.exitErr = nil // killed on purpose
	waitForService(t, "disconnected", svcLog, func() bool { return strings.Contains(svcLog.String(), "msg=disconnected") })
	time.Sleep(300 * time.Millisecond) // a few failed attempts while it is down

	// The same port again: the service comes back by itself.
	startRouterWith(t, addr, serve...)
	waitForService(t, "reconnected", svcLog, func() bool { return strings.Count(svcLog.String(), "msg=connected") >= 2 })
	var lastErr error
	waitForService(t, "an answer after the restart", svcLog, func() bool {
		res, lastErr = call("com.example.service.add", 20, 22)
		return lastErr == nil
	})
	if n, _ := spec.AsInt(res.Arguments[0]); n != 42 {
		t.Fatalf("add after restart: %v", res.Arguments)
	}
	tick() // the subscription is back too
	res, err = call("com.example.service.stats")
	if err != nil {
		t.Fatal(err)
	}
	stats, _ := res.Arguments[0].(spec.Dict)
	calls, _ := spec.AsInt(stats["calls"])
	events, _ := spec.AsInt(stats["events"])
	if calls != 2 || events != 2 {
		t.Fatalf("stats %v: want 2 calls and 2 events (state survived, subscription re-established)", stats)
	}
	var we *client.Error
	if _, err := call("com.example.service.add", "x"); !errors.As(err, &we) || we.URI != spec.ErrInvalidArgument {
		t.Fatalf("bad argument: %v", err)
	}
}
