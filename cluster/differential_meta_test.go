package cluster

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// names turns the IDs of one run into the names the scenario gave them, so
// that two runs compare.
type names struct {
	mu   sync.Mutex
	ids  map[spec.ID]string
	strs map[string]string // random authids
}

func (n *names) setString(s, name string) {
	n.mu.Lock()
	n.strs[s] = name
	n.mu.Unlock()
}

func (n *names) set(id spec.ID, name string) {
	n.mu.Lock()
	n.ids[id] = name
	n.mu.Unlock()
}

// of renders a meta answer with every known ID as its name; lists of IDs
// are sorted (nodes merge them in ID order, one node in its index order).
func (n *names) of(v any) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.render(v)
}

func (n *names) render(v any) string {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = n.render(e)
		}
		sort.Strings(parts)
		return "[" + strings.Join(parts, " ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			if k != "created" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + n.render(x[k])
		}
		return "{" + strings.Join(parts, " ") + "}"
	case nil:
		return "null"
	case string:
		if name, ok := n.strs[x]; ok {
			return name
		}
		return x
	}
	if id, ok := spec.AsID(v); ok {
		if name, ok := n.ids[id]; ok {
			return name
		}
		if id > 1000 {
			return "?" // an ID the scenario did not name (meta subscriptions)
		}
	}
	return fmt.Sprint(v)
}

// metaScenario runs the session-kill, subscription and registration meta
// procedures and events over sessions spread as in pubsubScenario, and returns a
// transcript without run-specific IDs.
func metaScenario(t *testing.T, join joinFunc) []string {
	nm := &names{ids: map[spec.ID]string{}, strs: map[string]string{}}
	var (
		mu  sync.Mutex
		out []string
	)
	say := func(format string, a ...any) {
		mu.Lock()
		out = append(out, fmt.Sprintf(format, a...))
		mu.Unlock()
	}
	sess := map[string]*client.Client{}
	for i, name := range []string{"admin", "watcher", "s1", "s2", "s3", "v1", "v2"} {
		c := join(t, i, []serializer.Serializer{serializer.JSON, serializer.MessagePack, serializer.CBOR}[i%3])
		sess[name] = c
		nm.set(c.ID(), name)
		authid, _ := c.Details()["authid"].(string)
		nm.setString(authid, "authid("+name+")")
	}
	// The watcher's meta events, rendered at the end (an event can arrive
	// before the scenario names its subscription) and compared as a
	// multiset: nodes say them in the order they arrive.
	type rawEvent struct {
		kind string
		args spec.List
	}
	var raw []rawEvent
	var evMu sync.Mutex
	for _, ev := range []string{"on_create", "on_subscribe", "on_unsubscribe", "on_delete"} {
		ev := ev
		if _, err := sess["watcher"].Subscribe(ctxT(t), "wamp.subscription."+ev, func(e *client.Event) {
			evMu.Lock()
			raw = append(raw, rawEvent{ev, e.Arguments})
			evMu.Unlock()
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, ev := range []string{"on_create", "on_register", "on_unregister", "on_delete"} {
		ev := ev
		if _, err := sess["watcher"].Subscribe(ctxT(t), "wamp.registration."+ev, func(e *client.Event) {
			evMu.Lock()
			raw = append(raw, rawEvent{"reg." + ev, e.Arguments})
			evMu.Unlock()
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	register := func(who, procedure, match, invoke string) spec.ID {
		id, err := sess[who].Register(ctxT(t), procedure, func(context.Context, *client.Invocation) (*client.Result, error) {
			return &client.Result{}, nil
		}, spec.Dict{"match": match, "invoke": invoke})
		if err != nil {
			t.Fatal(err)
		}
		nm.set(id, "reg("+procedure+","+match+")")
		return id
	}
	subscribe := func(who, topic, match string) spec.ID {
		id, err := sess[who].Subscribe(ctxT(t), topic, func(*client.Event) {}, spec.Dict{"match": match})
		if err != nil {
			t.Fatal(err)
		}
		nm.set(id, "sub("+topic+","+match+")")
		return id
	}
	meta := func(who, proc string, args spec.List, kwargs spec.Dict) {
		res, err := sess[who].Call(ctxT(t), proc, args, kwargs, nil)
		if err != nil {
			say("%s %s%v -> error %s", who, proc, nm.of([]any(args)), errURI(err))
			return
		}
		say("%s %s%v -> %s", who, proc, nm.of([]any(args)), nm.of([]any(res.Arguments)))
	}

	ma := subscribe("s1", "m.a", "exact")
	if id := subscribe("s2", "m.a", "exact"); id != ma {
		say("s2 holds another subscription to m.a than s1")
	}
	mp := subscribe("s3", "m", "prefix")
	mw := subscribe("s2", "m..z", "wildcard")
	// Registrations: one shared by callees on two nodes, the others on
	// one node each; two wildcards on different nodes both match m.w.x.
	rs := register("s1", "m.shared", "exact", "roundrobin")
	if id := register("s3", "m.shared", "exact", "roundrobin"); id != rs {
		say("s3 holds another registration of m.shared than s1")
	}
	rsingle := register("s2", "m.single", "exact", "single")
	rp := register("s3", "m.p", "prefix", "single")
	rx := register("s1", "m..x", "wildcard", "single")
	rw := register("s2", "m.w.", "wildcard", "single")
	time.Sleep(100 * time.Millisecond)

	for _, who := range []string{"admin", "s3"} {
		meta(who, "wamp.subscription.lookup", spec.List{"m.a"}, nil)
		meta(who, "wamp.subscription.lookup", spec.List{"m", spec.Dict{"match": "prefix"}}, nil)
		meta(who, "wamp.subscription.lookup", spec.List{"m..z", spec.Dict{"match": "wildcard"}}, nil)
		meta(who, "wamp.subscription.lookup", spec.List{"m.b"}, nil)
		meta(who, "wamp.subscription.match", spec.List{"m.a"}, nil)
		meta(who, "wamp.subscription.match", spec.List{"m.a.z"}, nil)
		meta(who, "wamp.subscription.match", spec.List{"n"}, nil)
		meta(who, "wamp.subscription.list", nil, nil)
		for _, id := range []spec.ID{ma, mp, mw, 4242} {
			meta(who, "wamp.subscription.get", spec.List{int64(id)}, nil)
			meta(who, "wamp.subscription.list_subscribers", spec.List{int64(id)}, nil)
			meta(who, "wamp.subscription.count_subscribers", spec.List{int64(id)}, nil)
		}
		meta(who, "wamp.registration.lookup", spec.List{"m.shared"}, nil)
		meta(who, "wamp.registration.lookup", spec.List{"m.p", spec.Dict{"match": "prefix"}}, nil)
		meta(who, "wamp.registration.lookup", spec.List{"m..x", spec.Dict{"match": "wildcard"}}, nil)
		meta(who, "wamp.registration.lookup", spec.List{"m.none"}, nil)
		meta(who, "wamp.registration.lookup", spec.List{"m.p"}, nil)
		for _, uri := range []string{"m.shared", "m.p.x", "m.w.x", "m.z.x", "n"} {
			meta(who, "wamp.registration.match", spec.List{uri}, nil)
		}
		meta(who, "wamp.registration.list", nil, nil)
		for _, id := range []spec.ID{rs, rsingle, rp, rx, rw, 4242} {
			meta(who, "wamp.registration.get", spec.List{int64(id)}, nil)
			meta(who, "wamp.registration.list_callees", spec.List{int64(id)}, nil)
			meta(who, "wamp.registration.count_callees", spec.List{int64(id)}, nil)
		}
		meta(who, "wamp.registration.count_callees", spec.List{"x"}, nil)
	}
	if err := sess["s1"].Unsubscribe(ctxT(t), ma); err != nil {
		t.Fatal(err)
	}
	meta("admin", "wamp.subscription.count_subscribers", spec.List{int64(ma)}, nil)
	meta("admin", "wamp.subscription.list_subscribers", spec.List{int64(ma)}, nil)
	if err := sess["s1"].Unregister(ctxT(t), rs); err != nil {
		t.Fatal(err)
	}
	meta("admin", "wamp.registration.count_callees", spec.List{int64(rs)}, nil)
	meta("admin", "wamp.registration.list_callees", spec.List{int64(rs)}, nil)

	// Kills: by ID on another node (reason and message), of itself, of
	// nobody; by authid; then s2 (holding m.a and m..z) by authrole-free
	// kill, which deletes its subscriptions.
	meta("admin", "wamp.session.kill", spec.List{int64(sess["v1"].ID())}, spec.Dict{"reason": "com.example.out", "message": "bye"})
	we := ended(t, sess["v1"])
	say("v1 got %s %v", we.URI, we.Details["message"])
	meta("admin", "wamp.session.kill", spec.List{int64(sess["admin"].ID())}, nil)
	meta("admin", "wamp.session.kill", spec.List{int64(4242)}, nil)
	meta("admin", "wamp.session.kill", spec.List{"x"}, nil)
	meta("admin", "wamp.session.kill_by_authid", spec.List{sess["v2"].Details()["authid"]}, nil)
	ended(t, sess["v2"])
	meta("admin", "wamp.session.kill_by_authid", spec.List{"nobody"}, nil)
	meta("s3", "wamp.session.kill", spec.List{int64(sess["s2"].ID())}, nil)
	ended(t, sess["s2"])
	time.Sleep(200 * time.Millisecond)
	meta("admin", "wamp.subscription.lookup", spec.List{"m.a"}, nil)
	meta("admin", "wamp.subscription.match", spec.List{"m.a.z"}, nil)
	meta("admin", "wamp.registration.lookup", spec.List{"m.single"}, nil)
	meta("admin", "wamp.registration.match", spec.List{"m.w.x"}, nil)
	meta("admin", "wamp.registration.get", spec.List{int64(rw)}, nil)
	meta("admin", "wamp.session.count", nil, nil)
	meta("admin", "wamp.session.kill_by_authrole", spec.List{"nobody"}, nil)

	time.Sleep(300 * time.Millisecond) // the last meta events arrive
	evMu.Lock()
	var events []string
	for _, e := range raw {
		line := e.kind + " " + nm.of(e.args[0]) + " "
		if e.kind == "on_create" || e.kind == "reg.on_create" {
			d, _ := e.args[1].(map[string]any)
			if !strings.HasPrefix(fmt.Sprint(d["uri"]), "m") {
				continue
			}
			line += nm.of(d)
		} else {
			line += nm.of(e.args[1])
		}
		if !strings.HasSuffix(line, "?") {
			events = append(events, line)
		}
	}
	evMu.Unlock()
	sort.Strings(events)
	for _, e := range events {
		say("event %s", e)
	}
	// Last: everyone but the caller goes.
	meta("admin", "wamp.session.kill_by_authrole", spec.List{"anonymous"}, nil)
	meta("admin", "wamp.session.kill_all", nil, nil)
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), out...)
}

// The meta scenario on one node and on three nodes gives the same answers
// and the same meta events.
func TestDifferentialMetaOneVersusThreeNodes(t *testing.T) {
	want := metaScenario(t, singleNode(t))
	got := metaScenario(t, threeNodes(t))
	if len(want) < 40 {
		t.Fatalf("the reference run says too little to compare: %v", want)
	}
	if !reflect.DeepEqual(want, got) {
		for i := 0; i < len(want) || i < len(got); i++ {
			var w, g string
			if i < len(want) {
				w = want[i]
			}
			if i < len(got) {
				g = got[i]
			}
			if w != g {
				t.Errorf("line %d:\n one node:    %s\n three nodes: %s", i, w, g)
			}
		}
	}
}
