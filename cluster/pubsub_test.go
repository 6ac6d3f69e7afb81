package cluster

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

var ack = spec.Dict{"acknowledge": true}

// Events published on one node reach exact, prefix and wildcard
// subscribers on the other nodes, whatever their serializers, in order.
func TestEventsReachSubscribersOnEveryNode(t *testing.T) {
	nodes := startCluster(t, 3)
	exact := subscribe(t, nodes[1].join(serializer.JSON), "com.app.temp", nil)
	prefix := subscribe(t, nodes[2].join(serializer.CBOR), "com.app", spec.Dict{"match": "prefix"})
	wild := subscribe(t, nodes[2].join(serializer.MessagePack), "com..temp", spec.Dict{"match": "wildcard"})
	local := subscribe(t, nodes[0].join(serializer.JSON), "com.app.temp", nil)

	pub := nodes[0].join(serializer.MessagePack)
	for i := 0; i < 50; i++ {
		if err := publish(t, pub, "com.app.temp", spec.List{int64(i)}, ack); err != nil {
			t.Fatal(err)
		}
	}
	if err := publish(t, pub, "com.app.other", spec.List{int64(-1)}, ack); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]*inbox{"exact": exact, "local": local, "wildcard": wild} {
		evs := b.wait(t, 50)
		for i, e := range evs[:50] {
			if n, _ := spec.AsInt(e.Arguments[0]); n != int64(i) {
				t.Fatalf("%s subscriber: event %d carries %v: order lost", name, i, e.Arguments)
			}
		}
		b.quiet(t, 50, 100*time.Millisecond)
	}
	evs := prefix.wait(t, 51)
	if evs[50].Details["topic"] != "com.app.other" {
		t.Fatalf("prefix subscriber's last event details %v, want topic com.app.other", evs[50].Details)
	}
	if _, ok := evs[0].Details["publisher"]; ok {
		t.Fatal("publisher disclosed without disclose_me")
	}
}

// A node without matching subscribers receives nothing, and a node with
// many subscribers receives each publication once.
func TestPublicationCrossesOncePerInterestedNode(t *testing.T) {
	nodes := startCluster(t, 3)
	for i := 0; i < 5; i++ {
		subscribe(t, nodes[1].join(serializer.JSON), "a.b", nil)
	}
	all := subscribe(t, nodes[1].join(serializer.JSON), "a", spec.Dict{"match": "prefix"})
	subscribe(t, nodes[2].join(serializer.JSON), "x.y", nil)

	spy, err := nats.Connect("", nats.InProcessServer(nodes[0].node.srv))
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close()
	var mu sync.Mutex
	got := map[string]int{}
	sub, err := spy.Subscribe("switchyard.ev.*", func(m *nats.Msg) {
		mu.Lock()
		got[m.Subject]++
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	spy.Flush()
	time.Sleep(50 * time.Millisecond) // the spy's interest reaches the other servers

	pub := nodes[0].join(serializer.JSON)
	for i := 0; i < 10; i++ {
		if err := publish(t, pub, "a.b", spec.List{int64(i)}, ack); err != nil {
			t.Fatal(err)
		}
	}
	all.wait(t, 10)
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if n := got[nodes[1].node.subj.events]; n != 10 {
		t.Errorf("node2 (6 subscribers) received %d messages for 10 publications, want 10", n)
	}
	if n := got[nodes[2].node.subj.events]; n != 0 {
		t.Errorf("node3 (no matching subscriber) received %d messages, want 0", n)
	}
}

// exclude_me, exclude/eligible by session, authid and authrole, and
// publisher disclosure work for subscribers on other nodes.
func TestDeliveryOptionsAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b := nodes[1].join(serializer.JSON), nodes[2].join(serializer.MessagePack)
	ia, ib := subscribe(t, a, "t", nil), subscribe(t, b, "t", nil)
	pub := nodes[0].join(serializer.JSON)
	self := subscribe(t, pub, "t", nil)

	must := func(opts spec.Dict) {
		t.Helper()
		opts["acknowledge"] = true
		if err := publish(t, pub, "t", spec.List{opts["n"]}, opts); err != nil {
			t.Fatal(err)
		}
	}
	must(spec.Dict{"n": "excluded-b", "exclude": []any{int64(b.ID())}})
	must(spec.Dict{"n": "eligible-b", "eligible": []any{int64(b.ID())}})
	must(spec.Dict{"n": "role-none", "eligible_authrole": []any{"nobody"}})
	must(spec.Dict{"n": "authid-excluded", "exclude_authrole": []any{"anonymous"}})
	must(spec.Dict{"n": "disclosed", "disclose_me": true, "exclude_me": false})

	ea, eb := ia.wait(t, 2), ib.wait(t, 2)
	ia.quiet(t, 2, 100*time.Millisecond)
	ib.quiet(t, 2, 0)
	if ea[0].Arguments[0] != "excluded-b" || ea[1].Arguments[0] != "disclosed" {
		t.Fatalf("node2 subscriber got %v, %v", ea[0].Arguments, ea[1].Arguments)
	}
	if eb[0].Arguments[0] != "eligible-b" || eb[1].Arguments[0] != "disclosed" {
		t.Fatalf("node3 subscriber got %v, %v", eb[0].Arguments, eb[1].Arguments)
	}
	d := eb[1].Details
	if id, _ := spec.AsID(d["publisher"]); id != pub.ID() || d["publisher_authrole"] != "anonymous" {
		t.Fatalf("disclosed details %v, want publisher %d", d, pub.ID())
	}
	if _, ok := ea[0].Details["publisher"]; ok {
		t.Fatal("publisher disclosed without disclose_me")
	}
	self.wait(t, 1)
	self.quiet(t, 1, 0)
}

// A subscriber that leaves stops the traffic to its node; one that
// subscribes later receives what is published after SUBSCRIBED.
func TestInterestFollowsSubscriptions(t *testing.T) {
	nodes := startCluster(t, 2)
	c := nodes[1].join(serializer.JSON)
	b := newInbox()
	ctx := ctxT(t)
	id, err := c.Subscribe(ctx, "t", b.handler, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := nodes[0].join(serializer.JSON)
	publish(t, pub, "t", spec.List{"one"}, ack)
	b.wait(t, 1)
	if err := c.Unsubscribe(ctx, id); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for peerInterested(nodes[0].node, "realm1", "t") {
		if time.Now().After(deadline) {
			t.Fatal("node1 still sends to node2 after its last subscriber left")
		}
		time.Sleep(10 * time.Millisecond)
	}
	late := subscribe(t, nodes[1].join(serializer.CBOR), "t", nil)
	publish(t, pub, "t", spec.List{"two"}, ack)
	if evs := late.wait(t, 1); evs[0].Arguments[0] != "two" {
		t.Fatalf("late subscriber got %v", evs[0].Arguments)
	}
}

func peerInterested(n *Node, realm, topic string) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, p := range n.peers {
		if p.interested(realm, topic) {
			return true
		}
	}
	return false
}

// Subscription meta events of sessions on other nodes are delivered.
func TestMetaEventsFromEveryNode(t *testing.T) {
	nodes := startCluster(t, 2)
	joins := subscribe(t, nodes[0].join(serializer.JSON), "wamp.session.on_join", nil)
	c := nodes[1].join(serializer.JSON)
	evs := joins.wait(t, 1)
	d, _ := evs[0].Arguments[0].(map[string]any)
	if id, _ := spec.AsID(d["session"]); id != c.ID() {
		t.Fatalf("on_join details %v, want session %d", d, c.ID())
	}
}

// Retained events are kept by every node: a subscriber on another node
// asking for them gets the last one.
func TestRetainedEventVisibleFromEveryNode(t *testing.T) {
	nodes := startCluster(t, 3)
	pub := nodes[0].join(serializer.JSON)
	if err := publish(t, pub, "state", spec.List{"v1"}, spec.Dict{"acknowledge": true, "retain": true}); err != nil {
		t.Fatal(err)
	}
	if err := nodes[2].node.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// A subscription made while the publication is still on its way gets
	// it live; one made after it arrived gets it as the retained event.
	deadline := time.Now().Add(2 * time.Second)
	for {
		b := subscribe(t, nodes[2].join(serializer.JSON), "state", spec.Dict{"get_retained": true})
		time.Sleep(20 * time.Millisecond)
		b.mu.Lock()
		evs := append([]*client.Event(nil), b.events...)
		b.mu.Unlock()
		for _, e := range evs {
			if e.Details["retained"] == true {
				if e.Arguments[0] != "v1" {
					t.Fatalf("retained event %v", e.Arguments)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("node3 did not keep the retained event")
		}
	}
}

// A node that cannot reach the cluster answers an acknowledged publication
// with an ERROR instead of PUBLISHED.
func TestAcknowledgedPublishRefusedWhenClusterUnreachable(t *testing.T) {
	opts := fastOptions("lonely")
	opts.Routes = []string{"nats://127.0.0.1:1"} // nothing listens there
	tn := startNode(t, opts)
	if tn.node.Err() == nil || tn.node.Ready() == nil {
		t.Fatal("a node with no route up reports itself reachable")
	}
	pub := tn.join(serializer.JSON)
	err := publish(t, pub, "t", nil, spec.Dict{"acknowledge": true})
	var we *client.Error
	if !errors.As(err, &we) || we.URI != router.ErrClusterUnreachable {
		t.Fatalf("acknowledged publish: %v, want ERROR %s", err, router.ErrClusterUnreachable)
	}
	// Unacknowledged publications and local delivery go on.
	local := subscribe(t, tn.join(serializer.JSON), "t", nil)
	if err := publish(t, pub, "t", spec.List{"x"}, nil); err != nil {
		t.Fatal(err)
	}
	local.wait(t, 1)
}

// A node that dies without a word is dropped within the documented bound,
// and the cluster keeps routing between the survivors; a node restarted
// under the same name is taken back.
func TestKilledNodeIsDroppedAndRestartRejoins(t *testing.T) {
	nodes := startCluster(t, 3)
	subscribe(t, nodes[2].join(serializer.JSON), "t", nil)
	nodes[2].kill()
	start := time.Now()
	bound := nodes[0].node.opts.FailAfter + nodes[0].node.opts.HeartbeatInterval + 200*time.Millisecond
	for len(nodes[0].node.Peers()) != 1 || len(nodes[1].node.Peers()) != 1 {
		if time.Since(start) > bound {
			t.Fatalf("killed node still listed after %v: %v", bound, nodes[0].node.Peers())
		}
		time.Sleep(10 * time.Millisecond)
	}
	b := subscribe(t, nodes[1].join(serializer.JSON), "t", nil)
	pub := nodes[0].join(serializer.JSON)
	if err := publish(t, pub, "t", spec.List{"after"}, ack); err != nil {
		t.Fatal(err)
	}
	b.wait(t, 1)

	opts := fastOptions("node3")
	opts.Routes = []string{nodes[0].node.ClusterAddr()}
	again := startNode(t, opts)
	waitMesh(t, []*testNode{nodes[0], nodes[1], again})
	c := subscribe(t, again.join(serializer.JSON), "t", nil)
	if err := publish(t, pub, "t", spec.List{"back"}, ack); err != nil {
		t.Fatal(err)
	}
	if evs := c.wait(t, 1); evs[0].Arguments[0] != "back" {
		t.Fatalf("restarted node's subscriber got %v", evs[0].Arguments)
	}
}

// A subscriber on a node that has just started, before that node has
// heard from the others, still receives what is published after SUBSCRIBED.
func TestSubscriberOnFreshNode(t *testing.T) {
	slow := func(name string) Options {
		o := fastOptions(name)
		o.HeartbeatInterval, o.FailAfter = time.Second, 3*time.Second
		return o
	}
	first := startNode(t, slow("node1"))
	opts := slow("fresh")
	opts.Routes = []string{first.node.ClusterAddr()}
	fresh := startNode(t, opts)
	deadline := time.Now().Add(5 * time.Second)
	for len(first.node.Peers()) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("node1 never saw the fresh node")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b := subscribe(t, fresh.join(serializer.JSON), "t", nil)
	pub := first.join(serializer.JSON)
	if err := publish(t, pub, "t", spec.List{"x"}, ack); err != nil {
		t.Fatal(err)
	}
	b.wait(t, 1)
}

// A node whose only route drops refuses acknowledged publications and says
// so in Ready; when the route comes back (the other node restarted on the
// same address) it heals by itself and events flow again.
func TestRouteLossHeals(t *testing.T) {
	a := startNode(t, fastOptions("a"))
	addr := a.node.ClusterAddr()
	bOpts := fastOptions("b")
	bOpts.Routes = []string{"nats://" + addr}
	b := startNode(t, bOpts)
	waitMesh(t, []*testNode{a, b})
	pub := b.join(serializer.JSON)

	a.kill()
	deadline := time.Now().Add(5 * time.Second)
	for b.node.Err() == nil || b.node.Ready() == nil {
		if time.Now().After(deadline) {
			t.Fatal("b still reports the cluster reachable after its only route dropped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	err := publish(t, pub, "t", nil, spec.Dict{"acknowledge": true})
	var we *client.Error
	if !errors.As(err, &we) || we.URI != router.ErrClusterUnreachable {
		t.Fatalf("acknowledged publish without a route: %v, want %s", err, router.ErrClusterUnreachable)
	}

	aOpts := fastOptions("a")
	aOpts.Listen = addr
	again := startNode(t, aOpts)
	waitMesh(t, []*testNode{again, b})
	for b.node.Err() != nil {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("b did not heal: %v", b.node.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
	in := subscribe(t, again.join(serializer.JSON), "t", nil)
	if err := publish(t, pub, "t", spec.List{"healed"}, ack); err != nil {
		t.Fatal(err)
	}
	if evs := in.wait(t, 1); evs[0].Arguments[0] != "healed" {
		t.Fatalf("after healing got %v", evs[0].Arguments)
	}
}
