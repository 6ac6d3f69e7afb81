package cluster

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// regWatch records the registration meta events about some procedures.
type regWatch struct {
	mu  sync.Mutex
	ids map[spec.ID]bool // registrations of the watched procedures
	got []metaEvent
}

func watchRegistrationMeta(t *testing.T, c *client.Client, procedures ...string) *regWatch {
	t.Helper()
	w := &regWatch{ids: map[spec.ID]bool{}}
	watched := map[string]bool{}
	for _, p := range procedures {
		watched[p] = true
	}
	for _, ev := range []string{"on_create", "on_register", "on_unregister", "on_delete"} {
		ev := ev
		_, err := c.Subscribe(ctxT(t), "wamp.registration."+ev, func(e *client.Event) {
			w.mu.Lock()
			defer w.mu.Unlock()
			if ev == "on_create" {
				d, _ := e.Arguments[1].(map[string]any)
				uri, _ := d["uri"].(string)
				if watched[uri] {
					id, _ := spec.AsID(d["id"])
					w.ids[id] = true
					w.got = append(w.got, metaEvent{fmt.Sprintf("on_create %s %v %v", uri, d["match"], d["invoke"]), id})
				}
				return
			}
			// Kept whatever the registration: events said by different
			// nodes may arrive before the on_create that names it.
			id, _ := spec.AsID(e.Arguments[1])
			w.got = append(w.got, metaEvent{ev, id})
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// events returns the sorted events about the watched procedures once at
// least want of them arrived (or 5 s passed) and quiet passed after.
func (w *regWatch) events(want int, quiet time.Duration) []string {
	deadline := time.Now().Add(5 * time.Second)
	for len(w.watched()) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(quiet)
	got := w.watched()
	sort.Strings(got)
	return got
}

func (w *regWatch) watched() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, e := range w.got {
		if w.ids[e.id] {
			out = append(out, e.what)
		}
	}
	return out
}

func registerID(t *testing.T, c *client.Client, procedure string, opts spec.Dict) spec.ID {
	t.Helper()
	id, err := c.Register(ctxT(t), procedure, func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Arguments: spec.List{procedure}}, nil
	}, opts)
	if err != nil {
		t.Fatalf("register %s: %v", procedure, err)
	}
	return id
}

// The registration meta procedures answer for callees on every node, from
// any node, as one node would: one ID per (procedure, match) shared by the
// callees on different nodes, WAMP's precedence over every node's
// registrations, callees of every node; on_create and on_delete said once.
func TestRegistrationMetaAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	watcher := nodes[2].join(serializer.JSON)
	w := watchRegistrationMeta(t, watcher, "q.shared", "q.single", "q.p", "q..x", "q.w.")
	a := nodes[0].join(serializer.JSON)
	b := nodes[1].join(serializer.MessagePack)
	c := nodes[2].join(serializer.CBOR)
	callers := []*client.Client{nodes[0].join(serializer.JSON), nodes[1].join(serializer.CBOR), nodes[2].join(serializer.MessagePack)}

	shared := spec.Dict{"invoke": "roundrobin"}
	ida := registerID(t, a, "q.shared", shared)
	time.Sleep(5 * time.Millisecond)
	beforeB := time.Now()
	idb := registerID(t, b, "q.shared", shared)
	if ida != idb {
		t.Fatalf("callees of q.shared on two nodes hold registrations %d and %d, want one ID", ida, idb)
	}
	single := registerID(t, c, "q.single", nil)
	prefix := registerID(t, b, "q.p", spec.Dict{"match": "prefix"})
	wildX := registerID(t, a, "q..x", spec.Dict{"match": "wildcard"})
	wildW := registerID(t, b, "q.w.", spec.Dict{"match": "wildcard"})

	// Every node gives the same answers, and they are these.
	ask := func(caller *client.Client, proc string, args ...any) (any, spec.URI) {
		res, err := caller.Call(ctxT(t), proc, spec.List(args), nil, nil)
		if err != nil {
			return nil, errURI(err)
		}
		if len(res.Arguments) == 0 {
			return nil, ""
		}
		return res.Arguments[0], ""
	}
	id := func(v any, _ spec.URI) string {
		if v == nil {
			return "null"
		}
		x, _ := spec.AsID(v)
		return fmt.Sprint(x)
	}
	ids := func(v any, _ spec.URI) string { return fmt.Sprint(idsOf(v)) }
	errOnly := func(_ any, uri spec.URI) string { return string(uri) }
	for i, caller := range callers {
		check := func(what, got, want string) {
			t.Helper()
			if got != want {
				t.Errorf("from node %d: %s = %s, want %s", i, what, got, want)
			}
		}
		check("lookup(q.shared)", id(ask(caller, "wamp.registration.lookup", "q.shared")), fmt.Sprint(ida))
		check("lookup(q.single)", id(ask(caller, "wamp.registration.lookup", "q.single")), fmt.Sprint(single))
		check("lookup(q.p, prefix)", id(ask(caller, "wamp.registration.lookup", "q.p", spec.Dict{"match": "prefix"})), fmt.Sprint(prefix))
		check("lookup(q..x, wildcard)", id(ask(caller, "wamp.registration.lookup", "q..x", spec.Dict{"match": "wildcard"})), fmt.Sprint(wildX))
		check("lookup(q.p) exact", id(ask(caller, "wamp.registration.lookup", "q.p")), "null")
		check("match(q.shared)", id(ask(caller, "wamp.registration.match", "q.shared")), fmt.Sprint(ida))
		check("match(q.p.x)", id(ask(caller, "wamp.registration.match", "q.p.x")), fmt.Sprint(prefix)) // prefix before wildcard
		check("match(q.w.x)", id(ask(caller, "wamp.registration.match", "q.w.x")), fmt.Sprint(wildW))  // literal component first
		check("match(q.z.x)", id(ask(caller, "wamp.registration.match", "q.z.x")), fmt.Sprint(wildX))
		check("match(q.none)", id(ask(caller, "wamp.registration.match", "q.none")), "null")
		list, _ := ask(caller, "wamp.registration.list")
		l, _ := list.(map[string]any)
		check("list().exact", fmt.Sprint(idsOf(l["exact"])), fmt.Sprint(sortedIDList(ida, single)))
		check("list().prefix", fmt.Sprint(idsOf(l["prefix"])), fmt.Sprint([]spec.ID{prefix}))
		check("list().wildcard", fmt.Sprint(idsOf(l["wildcard"])), fmt.Sprint(sortedIDList(wildX, wildW)))
		v, _ := ask(caller, "wamp.registration.get", int64(ida))
		d, _ := v.(map[string]any)
		check("get(shared) uri/match/invoke", fmt.Sprintln(d["uri"], d["match"], d["invoke"]), "q.shared exact roundrobin\n")
		check("get(shared).id", id(d["id"], ""), fmt.Sprint(ida))
		created, err := time.Parse(time.RFC3339Nano, fmt.Sprint(d["created"]))
		if err != nil || !created.Before(beforeB) {
			t.Errorf("from node %d: get(shared).created = %v, want the first node's, before %v", i, d["created"], beforeB)
		}
		v, _ = ask(caller, "wamp.registration.get", int64(single))
		d, _ = v.(map[string]any)
		check("get(single)", fmt.Sprintln(d["uri"], d["match"], d["invoke"]), "q.single exact single\n")
		check("list_callees(shared)", ids(ask(caller, "wamp.registration.list_callees", int64(ida))), fmt.Sprint(sortedIDList(a.ID(), b.ID())))
		check("list_callees(single)", ids(ask(caller, "wamp.registration.list_callees", int64(single))), fmt.Sprint([]spec.ID{c.ID()}))
		check("count_callees(shared)", id(ask(caller, "wamp.registration.count_callees", int64(ida))), "2")
		check("count_callees(q.w.)", id(ask(caller, "wamp.registration.count_callees", int64(wildW))), "1")
		check("get(4242)", errOnly(ask(caller, "wamp.registration.get", int64(4242))), string(spec.ErrNoSuchRegistration))
		check("list_callees(4242)", errOnly(ask(caller, "wamp.registration.list_callees", int64(4242))), string(spec.ErrNoSuchRegistration))
		check("count_callees(x)", errOnly(ask(caller, "wamp.registration.count_callees", "x")), string(spec.ErrInvalidArgument))
		// A call follows the same precedence as match, whichever node
		// holds the losing pattern (a holds q..x on node 0).
		res, err := caller.Call(ctxT(t), "q.w.x", nil, nil, nil)
		if err != nil || len(res.Arguments) == 0 || res.Arguments[0] != "q.w." {
			t.Errorf("from node %d: call q.w.x = %v, %v; want the q.w. callee", i, res, err)
		}
	}

	if err := a.Unregister(ctxT(t), ida); err != nil {
		t.Fatal(err)
	}
	if n, _ := ask(callers[2], "wamp.registration.count_callees", int64(ida)); fmt.Sprint(n) != "1" {
		t.Fatalf("count_callees after one callee left = %v, want 1", n)
	}
	if err := b.Unregister(ctxT(t), idb); err != nil {
		t.Fatal(err)
	}
	if err := c.Unregister(ctxT(t), single); err != nil {
		t.Fatal(err)
	}
	// Meta events said by different nodes interleave as they arrive, so
	// compare what was said, not in which order.
	want := []string{
		"on_create q..x wildcard single", "on_create q.p prefix single", "on_create q.shared exact roundrobin",
		"on_create q.single exact single", "on_create q.w. wildcard single",
		"on_delete", "on_delete",
		"on_register", "on_register", "on_register", "on_register", "on_register", "on_register",
		"on_unregister", "on_unregister", "on_unregister",
	}
	if got := w.events(len(want), 300*time.Millisecond); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("meta events\n got  %v\n want %v", got, want)
	}
	for i, caller := range callers {
		if v, _ := ask(caller, "wamp.registration.lookup", "q.shared"); v != nil {
			t.Errorf("from node %d: lookup(q.shared) after the last callee left = %v, want null", i, v)
		}
		if _, uri := ask(caller, "wamp.registration.get", int64(ida)); uri != spec.ErrNoSuchRegistration {
			t.Errorf("from node %d: get of a deleted registration: %q, want %s", i, uri, spec.ErrNoSuchRegistration)
		}
	}
}

// Last callees on two nodes leaving at the same instant: neither has heard
// of the other's leaving, and still on_delete is said exactly once.
func TestRegistrationOnDeleteOnceWhenLastCalleesLeaveTogether(t *testing.T) {
	nodes := startCluster(t, 2)
	watcher := nodes[0].join(serializer.JSON)
	for round := 0; round < 5; round++ {
		procedure := fmt.Sprintf("together.%d", round)
		w := watchRegistrationMeta(t, watcher, procedure)
		a, b := nodes[0].join(serializer.JSON), nodes[1].join(serializer.JSON)
		ida := registerID(t, a, procedure, spec.Dict{"invoke": "random"})
		idb := registerID(t, b, procedure, spec.Dict{"invoke": "random"})
		var wg sync.WaitGroup
		for _, x := range []struct {
			cl *client.Client
			id spec.ID
		}{{a, ida}, {b, idb}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := x.cl.Unregister(ctxT(t), x.id); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		got := w.events(6, 300*time.Millisecond)
		want := "[on_create together." + fmt.Sprint(round) + " exact random on_delete on_register on_register on_unregister on_unregister]"
		if fmt.Sprint(got) != want {
			t.Fatalf("round %d: meta events %v, want %s", round, got, want)
		}
	}
}

// A registration the cluster accepted but the proposer's node then refused
// (the session's registration limit) is withdrawn: calls on another node
// do not go to it, and on_delete is said when the real callee leaves.
func TestRegistrationRefusedAfterProposalIsWithdrawn(t *testing.T) {
	a := startNode(t, fastOptions("node1"))
	bopts := fastOptions("node2")
	bopts.Routes = []string{a.node.ClusterAddr()}
	b := startNode(t, bopts, func(o *router.Options) { o.MaxRegistrationsPerSession = 1 })
	waitMesh(t, []*testNode{a, b})

	watcher := a.join(serializer.JSON)
	w := watchRegistrationMeta(t, watcher, "lim.two")
	callee, caller := a.join(serializer.JSON), a.join(serializer.MessagePack)
	id := registerID(t, callee, "lim.two", spec.Dict{"invoke": "roundrobin"})
	limited := b.join(serializer.CBOR)
	registerID(t, limited, "lim.one", nil)
	err := register(t, limited, "lim.two", echo, spec.Dict{"invoke": "roundrobin"})
	if wampErr(err) != router.ErrLimitExceeded {
		t.Fatalf("second registration of a session limited to one: %v, want %s", err, router.ErrLimitExceeded)
	}
	time.Sleep(100 * time.Millisecond) // the withdrawal arrives
	for i := 0; i < 4; i++ {
		res, err := caller.Call(ctxT(t), "lim.two", nil, nil, nil)
		if err != nil || len(res.Arguments) == 0 || res.Arguments[0] != "lim.two" {
			t.Fatalf("call %d: %v, %v; want the callee on node 1 every time", i, res, err)
		}
	}
	if err := callee.Unregister(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
	want := "[on_create lim.two exact roundrobin on_delete on_register on_unregister]"
	if got := w.events(4, 300*time.Millisecond); fmt.Sprint(got) != want {
		t.Fatalf("meta events %v, want %s", got, want)
	}
}
