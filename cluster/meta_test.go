package cluster

import (
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// wamp.session.count, list and get answer for the whole cluster, whichever
// node the caller is on.
func TestSessionMetaIsClusterWide(t *testing.T) {
	nodes := startCluster(t, 3)
	var want []spec.ID
	for i := 0; i < 5; i++ {
		want = append(want, nodes[i%3].join(serializer.MessagePack).ID())
	}
	caller := nodes[1].join(serializer.JSON)
	want = append(want, caller.ID())
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })

	res, err := caller.Call(ctxT(t), "wamp.session.count", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := spec.AsInt(res.Arguments[0]); n != int64(len(want)) {
		t.Fatalf("wamp.session.count = %v, want %d", res.Arguments, len(want))
	}
	res, err = caller.Call(ctxT(t), "wamp.session.count", spec.List{[]any{"nobody"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := spec.AsInt(res.Arguments[0]); n != 0 {
		t.Fatalf("wamp.session.count([nobody]) = %v, want 0", res.Arguments)
	}
	res, err = caller.Call(ctxT(t), "wamp.session.list", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := res.Arguments[0].([]any)
	if len(l) != len(want) {
		t.Fatalf("wamp.session.list = %v, want %v", l, want)
	}
	for i, v := range l {
		if id, _ := spec.AsID(v); id != want[i] {
			t.Fatalf("wamp.session.list = %v, want %v (sorted)", l, want)
		}
	}
	remote := want[0]
	if remote == caller.ID() {
		remote = want[1]
	}
	res, err = caller.Call(ctxT(t), "wamp.session.get", spec.List{int64(remote)}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := res.Arguments[0].(map[string]any)
	if id, _ := spec.AsID(d["session"]); id != remote || d["authrole"] != "anonymous" {
		t.Fatalf("wamp.session.get(%d) = %v", remote, d)
	}
	if _, err := caller.Call(ctxT(t), "wamp.session.get", spec.List{int64(12345)}, nil, nil); err == nil {
		t.Fatal("wamp.session.get of an unknown session succeeded")
	}
}

// The sessions of a node killed without a word leave the meta API: every
// other node says wamp.session.on_leave for them to its subscribers, and
// wamp.session.count no longer counts them.
func TestKilledNodesSessionsLeave(t *testing.T) {
	nodes := startCluster(t, 3)
	watcher := nodes[0].join(serializer.JSON)
	leaves := subscribe(t, watcher, "wamp.session.on_leave", nil)
	victim := nodes[2].join(serializer.CBOR)
	victimID := victim.ID()
	survivor := nodes[1].join(serializer.JSON)
	// Wait until node1 knows the victim (it joined after the snapshot).
	deadline := time.Now().Add(2 * time.Second)
	for !knowsSession(nodes[0].node, victimID) {
		if time.Now().After(deadline) {
			t.Fatal("node1 never learned of the session on node3")
		}
		time.Sleep(10 * time.Millisecond)
	}
	nodes[2].kill()
	evs := leaves.wait(t, 1)
	if id, _ := spec.AsID(evs[0].Arguments[0]); id != victimID || evs[0].Arguments[2] != "anonymous" {
		t.Fatalf("on_leave %v, want session %d", evs[0].Arguments, victimID)
	}
	res, err := survivor.Call(ctxT(t), "wamp.session.count", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := spec.AsInt(res.Arguments[0]); n != 2 {
		t.Fatalf("wamp.session.count after the kill = %v, want 2", res.Arguments)
	}
}

func knowsSession(n *Node, id spec.ID) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, p := range n.peers {
		if _, ok := p.sessions["realm1"][id]; ok {
			return true
		}
	}
	return false
}

// A node does not give a new session the ID of a session it knows on
// another node.
func TestSessionKnownAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 2)
	c := nodes[1].join(serializer.JSON)
	deadline := time.Now().Add(2 * time.Second)
	for !knowsSession(nodes[0].node, c.ID()) {
		if time.Now().After(deadline) {
			t.Fatal("node1 never learned of the session on node2")
		}
		time.Sleep(10 * time.Millisecond)
	}
	l := nodes[0].node.realms["realm1"]
	if !l.SessionKnown(c.ID()) || l.SessionKnown(c.ID()+1) {
		t.Fatal("SessionKnown does not reflect the other node's sessions")
	}
}

// A node too busy to answer in time (here: one whose session questions are
// received but never answered) is counted from the sessions it announced:
// wamp.session.count and list stay whole, and get still finds its sessions,
// with their authid and authrole.
func TestSessionMetaCountsASilentNodeFromItsAnnouncements(t *testing.T) {
	nodes := startCluster(t, 3)
	caller := nodes[0].join(serializer.JSON)
	nodes[1].join(serializer.JSON)
	quiet := []spec.ID{nodes[2].join(serializer.JSON).ID(), nodes[2].join(serializer.MessagePack).ID()}
	// Every node knows node3's two sessions before it falls silent.
	deadline := time.Now().Add(5 * time.Second)
	for !knowsSession(nodes[0].node, quiet[0]) || !knowsSession(nodes[0].node, quiet[1]) {
		if time.Now().After(deadline) {
			t.Fatal("node1 never learned of node3's sessions")
		}
		time.Sleep(10 * time.Millisecond)
	}
	n3 := nodes[2].node
	n3.mu.Lock()
	for _, s := range n3.subs {
		if s.Subject == n3.subj.metaOf(n3.token) {
			_ = s.Unsubscribe()
		}
	}
	// Still listening, never answering: the asking node times out.
	mute, err := n3.nc.Subscribe(n3.subj.metaOf(n3.token), func(*nats.Msg) {})
	if err != nil {
		n3.mu.Unlock()
		t.Fatal(err)
	}
	n3.mu.Unlock()
	defer mute.Unsubscribe()
	if err := n3.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, _ := spec.AsInt(call(t, caller, "wamp.session.count", nil, nil)); n != 4 {
		t.Fatalf("wamp.session.count = %d, want 4 (node3's two from their announcements)", n)
	}
	l, _ := call(t, caller, "wamp.session.list", nil, nil).([]any)
	if len(l) != 4 {
		t.Fatalf("wamp.session.list = %v, want 4 sessions", l)
	}
	res, err := caller.Call(ctxT(t), "wamp.session.get", spec.List{int64(quiet[1])}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := res.Arguments[0].(map[string]any); d["authrole"] != "anonymous" {
		t.Fatalf("wamp.session.get(%d) = %v", quiet[1], d)
	}
}
