package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

func errURI(err error) spec.URI {
	var we *client.Error
	if errors.As(err, &we) {
		return we.URI
	}
	return ""
}

// ended waits for a session to end and returns the GOODBYE or ABORT it got.
func ended(t *testing.T, c *client.Client) *client.Error {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the killed session did not end")
	}
	var we *client.Error
	if !errors.As(c.Err(), &we) {
		t.Fatalf("the killed session ended with %v, not a GOODBYE", c.Err())
	}
	return we
}

func call(t *testing.T, c *client.Client, proc string, args spec.List, kwargs spec.Dict) any {
	t.Helper()
	res, err := c.Call(ctxT(t), proc, args, kwargs, nil)
	if err != nil {
		t.Fatalf("%s%v: %v", proc, args, err)
	}
	if len(res.Arguments) == 0 {
		return nil
	}
	return res.Arguments[0]
}

// wamp.session.kill on one node ends a session on another, with the reason
// and message given, as on one node; a session still cannot kill itself,
// and an unknown session is no_such_session.
func TestSessionKillAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	admin := nodes[0].join(serializer.JSON)
	victim := nodes[2].join(serializer.CBOR)
	bystander := nodes[1].join(serializer.MessagePack)

	call(t, admin, "wamp.session.kill", spec.List{int64(victim.ID())}, spec.Dict{"reason": "com.example.banned", "message": "go away"})
	we := ended(t, victim)
	if we.URI != "com.example.banned" || we.Details["message"] != "go away" {
		t.Fatalf("the killed session got GOODBYE %s %v, want com.example.banned with the message", we.URI, we.Details)
	}
	if _, err := admin.Call(ctxT(t), "wamp.session.kill", spec.List{int64(victim.ID())}, nil, nil); errURI(err) != spec.ErrNoSuchSession {
		t.Fatalf("killing a gone session: %v, want no_such_session", err)
	}
	if _, err := admin.Call(ctxT(t), "wamp.session.kill", spec.List{int64(admin.ID())}, nil, nil); errURI(err) != spec.ErrNoSuchSession {
		t.Fatalf("killing itself: %v, want no_such_session", err)
	}
	call(t, bystander, "wamp.session.kill", spec.List{int64(admin.ID())}, nil)
	if we := ended(t, admin); we.URI != spec.CloseKilled {
		t.Fatalf("default reason %s, want %s", we.URI, spec.CloseKilled)
	}
	select {
	case <-bystander.Done():
		t.Fatal("the caller was killed too")
	default:
	}
}

// kill_by_authid, kill_by_authrole and kill_all reach every node; their
// lists and counts sum the nodes' and never include the caller.
func TestKillByAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	admin := nodes[1].join(serializer.JSON)
	var victims []*client.Client
	for i := 0; i < 6; i++ {
		victims = append(victims, nodes[i%3].join(serializer.MessagePack))
	}
	authid, _ := victims[0].Details()["authid"].(string)
	ids, _ := call(t, admin, "wamp.session.kill_by_authid", spec.List{authid}, nil).([]any)
	if len(ids) != 1 {
		t.Fatalf("kill_by_authid(%s) = %v, want the one session", authid, ids)
	}
	if id, _ := spec.AsID(ids[0]); id != victims[0].ID() {
		t.Fatalf("kill_by_authid killed %v, want %d", ids, victims[0].ID())
	}
	ended(t, victims[0])
	if n, _ := spec.AsInt(call(t, admin, "wamp.session.kill_by_authrole", spec.List{"anonymous"}, spec.Dict{"message": "all of you"})); n != 5 {
		t.Fatalf("kill_by_authrole killed %d, want 5 (the caller excluded)", n)
	}
	for _, v := range victims[1:] {
		if we := ended(t, v); we.Details["message"] != "all of you" {
			t.Fatalf("GOODBYE details %v", we.Details)
		}
	}
	select {
	case <-admin.Done():
		t.Fatal("kill_by_authrole killed the caller")
	default:
	}
	nodes[0].join(serializer.JSON)
	nodes[2].join(serializer.JSON)
	if n, _ := spec.AsInt(call(t, admin, "wamp.session.kill_all", nil, nil)); n != 2 {
		t.Fatalf("kill_all killed %d, want 2", n)
	}
	if _, err := admin.Call(ctxT(t), "wamp.session.kill_all", nil, spec.Dict{"reason": "not a uri"}, nil); errURI(err) != spec.ErrInvalidURI {
		t.Fatalf("bad reason: %v", err)
	}
}

// A node that does not answer in the bound is left out: the kill answers
// with what the other nodes did, within AckTimeout/2.
func TestKillLeavesOutASilentNode(t *testing.T) {
	nodes := startCluster(t, 3)
	admin := nodes[0].join(serializer.JSON)
	nodes[1].join(serializer.JSON)
	silent := nodes[2].join(serializer.JSON)
	// node3 stops answering meta calls but stays in the cluster.
	nodes[2].node.mu.Lock()
	for _, s := range nodes[2].node.subs {
		if s.Subject == nodes[2].node.subj.metaCallOf(nodes[2].node.token) {
			_ = s.Unsubscribe()
		}
	}
	nodes[2].node.mu.Unlock()
	start := time.Now()
	if n, _ := spec.AsInt(call(t, admin, "wamp.session.kill_all", nil, nil)); n != 1 {
		t.Fatalf("kill_all killed %d, want 1 (node3 left out)", n)
	}
	if d := time.Since(start); d > nodes[0].node.opts.AckTimeout {
		t.Fatalf("kill_all took %v", d)
	}
	select {
	case <-silent.Done():
		t.Fatal("the silent node's session was killed")
	default:
	}
}
