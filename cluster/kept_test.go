package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// historyOf returns the arguments of the events wamp.subscription.get_events
// gives on tn for the prefix subscription to topic, oldest first.
func historyOf(t *testing.T, tn *testNode, topic string) []string {
	t.Helper()
	c := tn.join(serializer.JSON)
	id, err := c.Subscribe(ctxT(t), topic, newInbox().handler, spec.Dict{"match": "prefix"})
	if err != nil {
		t.Fatal(err)
	}
	v := call(t, c, "wamp.subscription.get_events", spec.List{int64(id)}, nil)
	entries, _ := v.([]any)
	var out []string
	for _, e := range entries {
		d, _ := e.(map[string]any)
		args, _ := d["args"].([]any)
		out = append(out, fmt.Sprint(args...))
	}
	return out
}

// A node that joins after retained events and history were published gets
// them from the nodes it finds, so that get_retained and get_events answer
// the same on every node; a node restarted under its name gets them again.
func TestRetainedAndHistoryReachLateNodes(t *testing.T) {
	withHistory := func(o *router.Options) {
		o.Realms = []router.RealmConfig{{Name: "realm1", History: []router.HistoryConfig{{Topic: "h", Match: spec.MatchPrefix, Limit: 5}}}}
	}
	first := startNode(t, fastOptions("node1"), withHistory)
	seed := first.node.ClusterAddr()
	joinNode := func(name string) *testNode {
		opts := fastOptions(name)
		opts.Routes = []string{seed}
		return startNode(t, opts, withHistory)
	}
	second := joinNode("node2")
	waitMesh(t, []*testNode{first, second})

	pub := first.join(serializer.MessagePack)
	retain := spec.Dict{"acknowledge": true, "retain": true}
	for _, v := range []string{"v1", "v2"} {
		if err := publish(t, pub, "state", spec.List{v}, retain); err != nil {
			t.Fatal(err)
		}
	}
	if err := publish(t, pub, "state.other", spec.List{"o1"}, retain); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := publish(t, pub, "h.a", spec.List{fmt.Sprint("e", i)}, ack); err != nil {
			t.Fatal(err)
		}
	}
	want := "[e1 e2 e3]"
	deadline := time.Now().Add(5 * time.Second)
	for fmt.Sprint(historyOf(t, second, "h")) != want {
		if time.Now().After(deadline) {
			t.Fatalf("node2, up all along, has history %v, want %s", historyOf(t, second, "h"), want)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// retainedOn subscribes on tn and returns the retained events, once
	// want of them arrived.
	retainedOn := func(tn *testNode, topic string, opts spec.Dict, want int) []string {
		b := subscribe(t, tn.join(serializer.CBOR), topic, opts)
		var got []string
		for _, e := range b.wait(t, want) {
			if e.Details["retained"] == true {
				got = append(got, fmt.Sprint(e.Arguments...))
			}
		}
		return got
	}
	check := func(tn *testNode) {
		t.Helper()
		if got := fmt.Sprint(retainedOn(tn, "state", spec.Dict{"get_retained": true}, 1)); got != "[v2]" {
			t.Fatalf("%s: retained event of state %s, want [v2]", tn.name, got)
		}
		if got := fmt.Sprint(historyOf(t, tn, "h")); got != want {
			t.Fatalf("%s: history %s, want %s", tn.name, got, want)
		}
	}

	third := joinNode("node3")
	waitMesh(t, []*testNode{first, second, third})
	waitReady(t, third)
	check(third)
	if got := retainedOn(third, "state", spec.Dict{"get_retained": true, "match": "prefix"}, 2); len(got) != 2 {
		t.Fatalf("node3: retained events under the prefix state: %v, want v2 and o1", got)
	}

	// Later events join the history the late node got, in order and within
	// its limit, on every node alike.
	for i := 4; i <= 7; i++ {
		if err := publish(t, pub, "h.a", spec.List{fmt.Sprint("e", i)}, ack); err != nil {
			t.Fatal(err)
		}
	}
	want = "[e3 e4 e5 e6 e7]"
	for _, tn := range []*testNode{first, second, third} {
		deadline := time.Now().Add(5 * time.Second)
		for fmt.Sprint(historyOf(t, tn, "h")) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: history %v, want %s", tn.name, historyOf(t, tn, "h"), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// node2 restarts empty and gets everything back from the others.
	second.stop()
	again := joinNode("node2")
	waitMesh(t, []*testNode{first, third, again})
	waitReady(t, again)
	check(again)
}

// waitReady waits for the node's readiness, which includes having the
// other nodes' retained events and history.
func waitReady(t *testing.T, tn *testNode) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for tn.node.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %v", tn.name, tn.node.Ready())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
