package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

// clusterProc is one node of a cluster of real processes.
type clusterProc struct {
	args   []string
	ws     string
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
}

func (p *clusterProc) start(t *testing.T) {
	t.Helper()
	p.log = &syncBuffer{}
	p.exited = make(chan struct{})
	p.cmd = exec.Command(routerBinary, p.args...)
	p.cmd.Stderr, p.cmd.Stdout = p.log, &syncBuffer{}
	p.cmd.Env = append(os.Environ(), "SWITCHYARD_ADMIN=")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd, exited := p.cmd, p.exited
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Errorf("node did not exit after SIGTERM")
		}
	})
}

func (p *clusterProc) kill() {
	p.cmd.Process.Kill() // SIGKILL: no goodbye to anybody
	<-p.exited
}

// waitLog waits until the node's log holds s n times.
func (p *clusterProc) waitLog(t *testing.T, s string, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for strings.Count(p.log.String(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q %d times within %v:\n%s", s, n, within, p.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startClusterProcs(t *testing.T, n int) []*clusterProc {
	t.Helper()
	addrs := freePorts(t, 2*n)
	routes := make([]string, n)
	for i := range routes {
		routes[i] = "nats://" + addrs[n+i]
	}
	procs := make([]*clusterProc, n)
	for i := range procs {
		procs[i] = &clusterProc{ws: addrs[i], args: []string{"serve", "--ws", addrs[i], "--rawsocket", "",
			"--node", "node" + string(rune('1'+i)), "--cluster-listen", addrs[n+i],
			"--cluster-routes", strings.Join(routes, ","), "--console=false"}}
		procs[i].start(t)
	}
	for _, p := range procs {
		p.waitLog(t, "cluster: node joined", n-1, 20*time.Second)
	}
	return procs
}

func connectWS(t *testing.T, addr string) *client.Client {
	t.Helper()
	var c *client.Client
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err = client.Connect(ctxT(t, 5*time.Second), "ws://"+addr+"/", client.Config{Serializer: "json"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connect %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

type counter struct {
	mu   sync.Mutex
	args []any
}

func (c *counter) handler(e *client.Event) {
	c.mu.Lock()
	c.args = append(c.args, e.Arguments[0])
	c.mu.Unlock()
}

func (c *counter) wait(t *testing.T, n int) []any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		got := append([]any(nil), c.args...)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d events (%v), want %d", len(got), got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Three switchyard processes form one cluster with no other server: a
// publication on one node reaches subscribers on the others; a node killed
// with SIGKILL is noticed within the documented bound (FailAfter 3s +
// HeartbeatInterval 1s by default), the others go on, and the node
// restarted with the same command rejoins.
func TestThreeProcessCluster(t *testing.T) {
	procs := startClusterProcs(t, 3)
	ctx := ctxT(t, 60*time.Second)
	var b, c counter
	if _, err := connectWS(t, procs[1].ws).Subscribe(ctx, "com.demo", b.handler, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := connectWS(t, procs[2].ws).Subscribe(ctx, "com", c.handler, spec.Dict{"match": "prefix"}); err != nil {
		t.Fatal(err)
	}
	pub := connectWS(t, procs[0].ws)
	for i := 0; i < 20; i++ {
		if err := pub.Publish(ctx, "com.demo", spec.List{int64(i)}, nil, spec.Dict{"acknowledge": true}); err != nil {
			t.Fatal(err)
		}
	}
	for _, got := range [][]any{b.wait(t, 20), c.wait(t, 20)} {
		for i, v := range got {
			if n, _ := spec.AsInt(v); n != int64(i) {
				t.Fatalf("event %d is %v: order lost (%v)", i, v, got)
			}
		}
	}

	// RPC: a callee on node 2 answers a caller on node 1; a call in flight
	// to a callee on node 3 ends in wamp.error.canceled when node 3 dies.
	if _, err := connectWS(t, procs[1].ws).Register(ctx, "com.demo.add", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		a, _ := spec.AsInt(inv.Arguments[0])
		b, _ := spec.AsInt(inv.Arguments[1])
		return &client.Result{Arguments: spec.List{a + b}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	res, err := pub.Call(ctx, "com.demo.add", spec.List{2, 3}, nil, nil)
	if err != nil {
		t.Fatalf("cross-node call: %v", err)
	}
	if n, _ := spec.AsInt(res.Arguments[0]); n != 5 {
		t.Fatalf("cross-node call answered %v", res.Arguments)
	}
	inFlight := make(chan struct{})
	if _, err := connectWS(t, procs[2].ws).Register(ctx, "com.demo.slow", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		close(inFlight)
		<-ctx.Done()
		return nil, ctx.Err()
	}, nil); err != nil {
		t.Fatal(err)
	}
	callErr := make(chan error, 1)
	go func() {
		_, err := pub.Call(ctx, "com.demo.slow", nil, nil, nil)
		callErr <- err
	}()
	select {
	case <-inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow call did not reach node 3")
	}

	procs[2].kill()
	start := time.Now()
	procs[0].waitLog(t, "taken as failed", 1, 5*time.Second)
	t.Logf("SIGKILLed node dropped after %v", time.Since(start).Round(time.Millisecond))
	select {
	case err := <-callErr:
		var we *client.Error
		if !errors.As(err, &we) || we.URI != spec.ErrCanceled {
			t.Fatalf("call in flight to the killed node: %v", err)
		}
		t.Logf("call in flight to the killed node ended after %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("the call in flight to the killed node hangs")
	}
	if err := pub.Publish(ctx, "com.demo", spec.List{int64(20)}, nil, spec.Dict{"acknowledge": true}); err != nil {
		t.Fatal(err)
	}
	b.wait(t, 21)

	procs[2].start(t)
	procs[0].waitLog(t, "cluster: node joined", 3, 20*time.Second)
	var again counter
	if _, err := connectWS(t, procs[2].ws).Subscribe(ctx, "com.demo", again.handler, nil); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, "com.demo", spec.List{"back"}, nil, spec.Dict{"acknowledge": true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range procs {
				t.Logf("node%d log:\n%s", i+1, p.log.String())
			}
		}
	})
	if got := again.wait(t, 1); got[0] != "back" {
		t.Fatalf("restarted node's subscriber got %v", got)
	}
}

// Without cluster flags the router is a single node: no NATS server, no
// cluster log line.
func TestSingleNodeRunsNoCluster(t *testing.T) {
	p := startRouter(t)
	c, err := client.Connect(ctxT(t, 5*time.Second), p.urls["ws"], client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if logContains(p, "cluster") {
		t.Fatalf("a router without cluster flags logged about a cluster:\n%s", p.log.String())
	}
}
