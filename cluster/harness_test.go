package cluster

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/internal/leakcheck"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func testLogger() *slog.Logger {
	if os.Getenv("SWITCHYARD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testNode is one node of an in-process cluster: a NATS-embedding Node and
// the router it links, with sessions over in-process pipes.
type testNode struct {
	t      *testing.T
	name   string
	node   *Node
	router *router.Router
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// fastOptions keeps failure detection short so tests run quickly.
func fastOptions(name string) Options {
	return Options{
		Name:              name,
		Listen:            "127.0.0.1:0",
		HeartbeatInterval: 100 * time.Millisecond,
		FailAfter:         1500 * time.Millisecond, // generous: the full suite loads the machine
		AckTimeout:        2 * time.Second,
		Logger:            testLogger(),
	}
}

// startCluster starts n nodes on loopback, each routing to the first, and
// waits until every node knows every other.
func startCluster(t *testing.T, n int) []*testNode {
	t.Helper()
	var nodes []*testNode
	var seed string
	for i := 0; i < n; i++ {
		opts := fastOptions("node" + string(rune('1'+i)))
		if seed != "" {
			opts.Routes = []string{seed}
		}
		tn := startNode(t, opts)
		if seed == "" {
			seed = tn.node.ClusterAddr()
		}
		nodes = append(nodes, tn)
	}
	waitMesh(t, nodes)
	return nodes
}

// startNode starts one node; tweaks change its router's options.
func startNode(t *testing.T, opts Options, tweaks ...func(*router.Options)) *testNode {
	t.Helper()
	node, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	ropts := router.Options{
		Realms:         []router.RealmConfig{{Name: "realm1"}},
		Logger:         testLogger(),
		GoodbyeTimeout: 500 * time.Millisecond,
		Cluster:        node,
	}
	for _, tweak := range tweaks {
		tweak(&ropts)
	}
	r, err := router.New(ropts)
	if err != nil {
		node.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNode{t: t, name: opts.Name, node: node, router: r, ctx: ctx, cancel: cancel}
	t.Cleanup(tn.stop)
	return tn
}

// stop shuts the router down, then leaves the cluster.
func (tn *testNode) stop() {
	tn.once.Do(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer scancel()
		tn.router.Shutdown(sctx)
		tn.cancel()
		tn.wg.Wait()
		tn.node.Close()
	})
}

// kill ends the node as SIGKILL would, as far as the others can tell: no
// goodbye, its NATS server gone at once.
func (tn *testNode) kill() {
	tn.once.Do(func() {
		tn.node.srv.Shutdown()
		tn.node.srv.WaitForShutdown()
		sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer scancel()
		tn.router.Shutdown(sctx)
		tn.cancel()
		tn.wg.Wait()
		close(tn.node.stop)
		<-tn.node.done
		tn.node.nc.Close()
	})
}

// waitMesh waits until every node takes every other as alive.
func waitMesh(t *testing.T, nodes []*testNode) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := true
		for _, tn := range nodes {
			if len(tn.node.Peers()) != len(nodes)-1 {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for _, tn := range nodes {
				p := tn.node.Peers()
				sort.Strings(p)
				t.Logf("%s sees %v", tn.name, p)
			}
			t.Fatal("the cluster did not form")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// join opens a session on this node.
func (tn *testNode) join(ser serializer.Serializer) *client.Client {
	tn.t.Helper()
	c, err := tn.joinWith(ser, client.Config{})
	if err != nil {
		tn.t.Fatalf("join %s: %v", tn.name, err)
	}
	return c
}

// joinWith opens a session on this node with cfg (realm1 unless it names
// another), returning the error of a refused join.
func (tn *testNode) joinWith(ser serializer.Serializer, cfg client.Config) (*client.Client, error) {
	tn.t.Helper()
	if cfg.Realm == "" {
		cfg.Realm = "realm1"
	}
	clientEnd, serverEnd := transport.Pipe(ser, transport.Options{})
	tn.wg.Add(1)
	go func() {
		defer tn.wg.Done()
		tn.router.ServePeer(tn.ctx, serverEnd)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Join(ctx, clientEnd, cfg)
	if err != nil {
		clientEnd.Close("join refused")
		return nil, err
	}
	tn.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c.Close(ctx)
		clientEnd.Close("test over")
	})
	return c, nil
}

// inbox collects the events of one subscription.
type inbox struct {
	mu     sync.Mutex
	events []*client.Event
	signal chan struct{}
}

func newInbox() *inbox { return &inbox{signal: make(chan struct{}, 1)} }

func (b *inbox) handler(e *client.Event) {
	b.mu.Lock()
	b.events = append(b.events, e)
	b.mu.Unlock()
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

// wait returns once the inbox holds n events, failing after 5s.
func (b *inbox) wait(t *testing.T, n int) []*client.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		b.mu.Lock()
		got := len(b.events)
		evs := append([]*client.Event(nil), b.events...)
		b.mu.Unlock()
		if got >= n {
			return evs
		}
		select {
		case <-b.signal:
		case <-deadline:
			t.Fatalf("got %d events, want %d", got, n)
		}
	}
}

// quiet asserts no more than n events arrive within d.
func (b *inbox) quiet(t *testing.T, n int, d time.Duration) {
	t.Helper()
	time.Sleep(d)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.events) > n {
		t.Fatalf("got %d events, want %d: %v", len(b.events), n, b.events[n].Arguments)
	}
}

func subscribe(t *testing.T, c *client.Client, topic string, opts spec.Dict) *inbox {
	t.Helper()
	b := newInbox()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Subscribe(ctx, topic, b.handler, opts); err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	return b
}

func publish(t *testing.T, c *client.Client, topic string, args spec.List, opts spec.Dict) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Publish(ctx, topic, args, nil, opts)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}
