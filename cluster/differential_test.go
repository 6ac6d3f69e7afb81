package cluster

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// natsGoroutines counts the goroutines running NATS or cluster code.
func natsGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "nats-io/") || strings.Contains(g, "switchyard/cluster.(*") {
			n++
		}
	}
	return n
}

// joinFunc opens a session on node i of a deployment.
type joinFunc func(t *testing.T, node int, ser serializer.Serializer) *client.Client

// singleNode is a plain router without a cluster: the reference.
func singleNode(t *testing.T) joinFunc {
	r, err := router.New(router.Options{Realms: []router.RealmConfig{{Name: "realm1"}}, Logger: testLogger(), GoodbyeTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer scancel()
		r.Shutdown(sctx)
		cancel()
		wg.Wait()
	})
	return func(t *testing.T, _ int, ser serializer.Serializer) *client.Client {
		clientEnd, serverEnd := transport.Pipe(ser, transport.Options{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.ServePeer(ctx, serverEnd)
		}()
		c, err := client.Join(ctxT(t), clientEnd, client.Config{Realm: "realm1"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			c.Close(ctx)
			clientEnd.Close("test over")
		})
		return c
	}
}

func threeNodes(t *testing.T) joinFunc {
	nodes := startCluster(t, 3)
	return func(t *testing.T, i int, ser serializer.Serializer) *client.Client {
		return nodes[i%3].join(ser)
	}
}

// recorder keeps what each subscriber received, without the IDs that
// differ from run to run.
type recorder struct {
	mu  sync.Mutex
	got map[string][]string
}

func (r *recorder) sub(t *testing.T, c *client.Client, name, topic, match string) {
	t.Helper()
	_, err := c.Subscribe(ctxT(t), topic, func(e *client.Event) {
		_, disclosed := e.Details["publisher"]
		line := fmt.Sprintf("%v topic=%v disclosed=%v role=%v", e.Arguments, e.Details["topic"], disclosed, e.Details["publisher_authrole"])
		r.mu.Lock()
		r.got[name] = append(r.got[name], line)
		r.mu.Unlock()
	}, spec.Dict{"match": match})
	if err != nil {
		t.Fatal(err)
	}
}

// pubsubScenario runs one PubSub scenario and returns every delivery.
// Sessions go to nodes 0, 1, 2, 0, 1, ... of the deployment.
func pubsubScenario(t *testing.T, join joinFunc) map[string][]string {
	rec := &recorder{got: map[string][]string{}}
	sers := []serializer.Serializer{serializer.JSON, serializer.MessagePack, serializer.CBOR}
	subs := []struct{ name, topic, match string }{
		{"exact", "d.a", "exact"},
		{"prefix", "d", "prefix"},
		{"wildcard", "d..x", "wildcard"},
		{"exact2", "d.a", "exact"},
		{"other", "z", "exact"},
	}
	clients := map[string]*client.Client{}
	for i, s := range subs {
		c := join(t, i+1, sers[i%3])
		clients[s.name] = c
		rec.sub(t, c, s.name, s.topic, s.match)
	}
	pub := join(t, 0, serializer.JSON)
	rec.sub(t, pub, "self", "d", "prefix")
	id := func(name string) any { return int64(clients[name].ID()) }
	steps := []struct {
		topic string
		opts  spec.Dict
	}{
		{"d.a", spec.Dict{}},
		{"d.b.x", spec.Dict{}},
		{"d.a", spec.Dict{"exclude": []any{id("exact")}}},
		{"d.a", spec.Dict{"eligible": []any{id("exact2"), id("prefix")}}},
		{"d.a", spec.Dict{"disclose_me": true, "exclude_me": false}},
		{"e", spec.Dict{}},
		{"d.c.x", spec.Dict{"eligible_authrole": []any{"anonymous"}, "exclude_authrole": []any{"nobody"}}},
		{"d.a", spec.Dict{"eligible_authid": []any{"nobody"}}},
		{"z", spec.Dict{}},
	}
	for i, s := range steps {
		s.opts["acknowledge"] = true
		if err := pub.Publish(ctxT(t), s.topic, spec.List{int64(i)}, nil, s.opts); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	// A last publication every subscriber receives marks the end.
	if err := pub.Publish(ctxT(t), "d.end.x", spec.List{"end"}, nil, spec.Dict{"acknowledge": true, "exclude_me": false}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec.mu.Lock()
		done := len(rec.got["prefix"]) > 0 && rec.got["prefix"][len(rec.got["prefix"])-1][:5] == "[end]" &&
			len(rec.got["wildcard"]) > 0 && rec.got["wildcard"][len(rec.got["wildcard"])-1][:5] == "[end]"
		rec.mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // anything extra would show
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := map[string][]string{}
	for k, v := range rec.got {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// The same PubSub scenario on one node and on three nodes (subscribers and
// publisher spread over them) gives the same deliveries.
func TestDifferentialPubSubOneVersusThreeNodes(t *testing.T) {
	before := natsGoroutines()
	want := pubsubScenario(t, singleNode(t))
	// A router without a cluster runs no NATS and no cluster code.
	if after := natsGoroutines(); after > before {
		t.Fatalf("a single-node router started %d NATS or cluster goroutines", after-before)
	}
	got := pubsubScenario(t, threeNodes(t))
	if len(want["exact"]) == 0 || len(want["prefix"]) < 5 {
		t.Fatalf("the reference run delivered too little to compare: %v", want)
	}
	if !reflect.DeepEqual(want, got) {
		names := make([]string, 0, len(want))
		for k := range want {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if !reflect.DeepEqual(want[k], got[k]) {
				t.Errorf("%s:\n one node:    %v\n three nodes: %v", k, want[k], got[k])
			}
		}
	}
}
