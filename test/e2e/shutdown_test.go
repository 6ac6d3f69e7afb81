package e2e

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

// TestSIGTERMSaysGoodbye: every session gets GOODBYE system_shutdown and
// the process exits 0.
func TestSIGTERMSaysGoodbye(t *testing.T) {
	p := startRouter(t)
	var clients []*client.Client
	for _, listener := range []string{"ws", "rawsocket", "unix", "listen-tls-rss"} {
		clients = append(clients, connect(t, p, listener, "msgpack"))
	}
	if err := p.terminate(); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		select {
		case <-c.Done():
			var we *client.Error
			if !errors.As(c.Err(), &we) || we.URI != spec.CloseSystemShutdown {
				t.Errorf("client %d ended with %v, want GOODBYE %s", i, c.Err(), spec.CloseSystemShutdown)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("client %d never heard GOODBYE", i)
		}
	}
	select {
	case <-p.exited:
		if p.exitErr != nil {
			t.Fatalf("exit: %v", p.exitErr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the router did not exit")
	}
}

func TestVersionCommand(t *testing.T) {
	out, err := exec.Command(routerBinary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "switchyard ") {
		t.Fatalf("version printed %q (%v)", out, err)
	}
}

// TestSIGTERMUnderLoad: with publications and calls in flight, SIGTERM
// delivers every acknowledged publication to every subscriber (in order,
// without gaps), answers every call in flight, says GOODBYE to everybody
// and exits 0.
func TestSIGTERMUnderLoad(t *testing.T) {
	p := startRouter(t)
	const publishers = 2
	type tally struct {
		mu   sync.Mutex
		last [publishers]int64
		gap  string
	}
	var subs []*client.Client
	var tallies []*tally
	for i, listener := range []string{"ws", "rawsocket", "unix", "listen-rs", "wss"} {
		c := connect(t, p, listener, serializers[i%3])
		tl := &tally{}
		if _, err := c.Subscribe(ctxT(t, 5*time.Second), "load.topic", func(e *client.Event) {
			pub, _ := spec.AsInt(e.Arguments[0])
			seq, _ := spec.AsInt(e.Arguments[1])
			tl.mu.Lock()
			if seq != tl.last[pub]+1 && tl.gap == "" {
				tl.gap = "publisher " + strconv.FormatInt(pub, 10) + ": got " + strconv.FormatInt(seq, 10) + " after " + strconv.FormatInt(tl.last[pub], 10)
			}
			tl.last[pub] = seq
			tl.mu.Unlock()
		}, nil); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, c)
		tallies = append(tallies, tl)
	}
	callee := connect(t, p, "rawsocket", "cbor")
	if _, err := callee.Register(ctxT(t, 5*time.Second), "load.slow", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
		return &client.Result{Arguments: inv.Arguments}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}

	var acked [publishers]atomic.Int64
	var calls, answered atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var everybody []*client.Client
	everybody = append(everybody, subs...)
	everybody = append(everybody, callee)
	for i := 0; i < publishers; i++ {
		pub := connect(t, p, []string{"ws", "rawsocket"}[i], serializers[i])
		everybody = append(everybody, pub)
		wg.Add(1)
		go func(i int, pub *client.Client) {
			defer wg.Done()
			for seq := int64(1); seq <= 100000; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := pub.Publish(context.Background(), "load.topic", spec.List{int64(i), seq}, nil, spec.Dict{"acknowledge": true}); err != nil {
					return
				}
				acked[i].Store(seq)
			}
		}(i, pub)
	}
	for i := 0; i < 3; i++ {
		caller := connect(t, p, "listen-ws", serializers[i])
		everybody = append(everybody, caller)
		wg.Add(1)
		go func(caller *client.Client) {
			defer wg.Done()
			for n := 0; n < 100000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				calls.Add(1)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := caller.Call(ctx, "load.slow", spec.List{int64(n)}, nil, nil)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					return // unanswered: counted below
				}
				answered.Add(1)
				if err != nil {
					return
				}
			}
		}(caller)
	}
	time.Sleep(300 * time.Millisecond)
	if err := p.terminate(); err != nil {
		t.Fatal(err)
	}
	for i, c := range everybody {
		select {
		case <-c.Done():
			var we *client.Error
			if !errors.As(c.Err(), &we) || we.URI != spec.CloseSystemShutdown {
				t.Errorf("client %d ended with %v, want GOODBYE system_shutdown", i, c.Err())
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("client %d never heard GOODBYE", i)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case <-p.exited:
		if p.exitErr != nil {
			t.Fatalf("exit: %v", p.exitErr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the router did not exit")
	}
	if calls.Load() != answered.Load() {
		t.Errorf("%d calls, %d answered", calls.Load(), answered.Load())
	}
	for i := 0; i < publishers; i++ {
		if acked[i].Load() == 0 {
			t.Fatalf("publisher %d got nothing acknowledged: no load", i)
		}
	}
	for s, tl := range tallies {
		tl.mu.Lock()
		if tl.gap != "" {
			t.Errorf("subscriber %d lost an event: %s", s, tl.gap)
		}
		for i := 0; i < publishers; i++ {
			if tl.last[i] < acked[i].Load() {
				t.Errorf("subscriber %d got publisher %d's events up to %d, but %d were acknowledged", s, i, tl.last[i], acked[i].Load())
			}
		}
		tl.mu.Unlock()
	}
	t.Logf("acknowledged %d and %d publications, answered %d calls", acked[0].Load(), acked[1].Load(), answered.Load())
}
