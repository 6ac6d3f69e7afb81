package cluster

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// metaWatch records the subscription meta events about some topics.
type metaWatch struct {
	mu  sync.Mutex
	ids map[spec.ID]bool // subscriptions of the watched topics
	got []metaEvent
}

// metaEvent is one subscription meta event: its name, as the tests compare
// it, and the subscription it is about.
type metaEvent struct {
	what string
	id   spec.ID
}

func watchSubscriptionMeta(t *testing.T, c *client.Client, topics ...string) *metaWatch {
	t.Helper()
	w := &metaWatch{ids: map[spec.ID]bool{}}
	watched := map[string]bool{}
	for _, tp := range topics {
		watched[tp] = true
	}
	for _, ev := range []string{"on_create", "on_subscribe", "on_unsubscribe", "on_delete"} {
		ev := ev
		_, err := c.Subscribe(ctxT(t), "wamp.subscription."+ev, func(e *client.Event) {
			w.mu.Lock()
			defer w.mu.Unlock()
			if ev == "on_create" {
				d, _ := e.Arguments[1].(map[string]any)
				uri, _ := d["uri"].(string)
				if watched[uri] {
					id, _ := spec.AsID(d["id"])
					w.ids[id] = true
					w.got = append(w.got, metaEvent{fmt.Sprintf("on_create %s %v", uri, d["match"]), id})
				}
				return
			}
			// Kept whatever the subscription: events said by different
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

// events returns the events about the watched topics' subscriptions once
// at least want of them arrived (or 5 s passed) and then quiet lasted for
// a further quiet period, so that extra events show too.
func (w *metaWatch) events(want int, quiet time.Duration) []string {
	deadline := time.Now().Add(5 * time.Second)
	for len(w.watched()) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(quiet)
	return w.watched()
}

func (w *metaWatch) watched() []string {
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

func idsOf(v any) []spec.ID {
	l, _ := v.([]any)
	out := make([]spec.ID, 0, len(l))
	for _, x := range l {
		id, _ := spec.AsID(x)
		out = append(out, id)
	}
	return out
}

func sortedIDList(ids ...spec.ID) []spec.ID {
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// The subscription meta procedures answer for subscribers on every node,
// from any node, as one node would: one ID per (topic, match) shared by
// subscribers on different nodes, and on_create/on_delete said once.
func TestSubscriptionMetaAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	watcher := nodes[2].join(serializer.JSON)
	w := watchSubscriptionMeta(t, watcher, "s.t", "s")
	a := nodes[0].join(serializer.JSON)
	b := nodes[1].join(serializer.MessagePack)
	c := nodes[2].join(serializer.CBOR)
	caller := nodes[2].join(serializer.JSON) // on a node without s.t subscribers

	ida, err := a.Subscribe(ctxT(t), "s.t", func(*client.Event) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	idb, err := b.Subscribe(ctxT(t), "s.t", func(*client.Event) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ida != idb {
		t.Fatalf("subscribers of s.t on two nodes hold subscriptions %d and %d, want one ID", ida, idb)
	}
	idp, err := c.Subscribe(ctxT(t), "s", func(*client.Event) {}, spec.Dict{"match": "prefix"})
	if err != nil {
		t.Fatal(err)
	}

	if id, _ := spec.AsID(call(t, caller, "wamp.subscription.lookup", spec.List{"s.t"}, nil)); id != ida {
		t.Fatalf("lookup(s.t) = %d, want %d", id, ida)
	}
	if id, _ := spec.AsID(call(t, caller, "wamp.subscription.lookup", spec.List{"s", spec.Dict{"match": "prefix"}}, nil)); id != idp {
		t.Fatalf("lookup(s, prefix) = %d, want %d", id, idp)
	}
	if v := call(t, caller, "wamp.subscription.lookup", spec.List{"s.none"}, nil); v != nil {
		t.Fatalf("lookup(s.none) = %v, want null", v)
	}
	if got, want := idsOf(call(t, caller, "wamp.subscription.match", spec.List{"s.t"}, nil)), sortedIDList(ida, idp); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("match(s.t) = %v, want %v", got, want)
	}
	if v := call(t, caller, "wamp.subscription.match", spec.List{"x"}, nil); v != nil {
		t.Fatalf("match(x) = %v, want null", v)
	}
	list, _ := call(t, caller, "wamp.subscription.list", nil, nil).(map[string]any)
	if got := idsOf(list["exact"]); len(got) != 1 || got[0] != ida {
		// The watcher's own meta subscriptions are exact too.
		found := false
		for _, id := range got {
			found = found || id == ida
		}
		if !found {
			t.Fatalf("list().exact = %v, want it to hold %d", got, ida)
		}
	}
	if got := idsOf(list["prefix"]); len(got) != 1 || got[0] != idp {
		t.Fatalf("list().prefix = %v, want [%d]", got, idp)
	}
	d, _ := call(t, caller, "wamp.subscription.get", spec.List{int64(ida)}, nil).(map[string]any)
	if d["uri"] != "s.t" || d["match"] != "exact" {
		t.Fatalf("get(%d) = %v", ida, d)
	}
	if id, _ := spec.AsID(d["id"]); id != ida {
		t.Fatalf("get(%d) = %v", ida, d)
	}
	if got, want := idsOf(call(t, caller, "wamp.subscription.list_subscribers", spec.List{int64(ida)}, nil)), sortedIDList(a.ID(), b.ID()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("list_subscribers = %v, want %v", got, want)
	}
	if n, _ := spec.AsInt(call(t, caller, "wamp.subscription.count_subscribers", spec.List{int64(ida)}, nil)); n != 2 {
		t.Fatalf("count_subscribers = %d, want 2", n)
	}
	if _, err := caller.Call(ctxT(t), "wamp.subscription.get", spec.List{int64(4242)}, nil, nil); errURI(err) != spec.ErrNoSuchSubscription {
		t.Fatalf("get of an unknown subscription: %v", err)
	}
	if _, err := caller.Call(ctxT(t), "wamp.subscription.count_subscribers", spec.List{"x"}, nil, nil); errURI(err) != spec.ErrInvalidArgument {
		t.Fatalf("count_subscribers(x): %v", err)
	}

	if err := a.Unsubscribe(ctxT(t), ida); err != nil {
		t.Fatal(err)
	}
	if err := b.Unsubscribe(ctxT(t), idb); err != nil {
		t.Fatal(err)
	}
	// Meta events said by different nodes interleave as they arrive, so
	// compare what was said, not in which order.
	want := []string{"on_create s prefix", "on_create s.t exact", "on_delete", "on_subscribe", "on_subscribe", "on_subscribe", "on_unsubscribe", "on_unsubscribe"}
	got := w.events(len(want), 300*time.Millisecond)
	sort.Strings(got)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("meta events\n got  %v\n want %v", got, want)
	}
	if v := call(t, caller, "wamp.subscription.lookup", spec.List{"s.t"}, nil); v != nil {
		t.Fatalf("lookup(s.t) after the last unsubscribe = %v, want null", v)
	}
}

// Last subscribers on two nodes leaving at the same instant: neither has
// heard of the other's leaving, and still on_delete is said exactly once.
func TestOnDeleteOnceWhenLastSubscribersLeaveTogether(t *testing.T) {
	nodes := startCluster(t, 2)
	watcher := nodes[0].join(serializer.JSON)
	for round := 0; round < 5; round++ {
		topic := fmt.Sprintf("together.%d", round)
		w := watchSubscriptionMeta(t, watcher, topic)
		a, b := nodes[0].join(serializer.JSON), nodes[1].join(serializer.JSON)
		ida, err := a.Subscribe(ctxT(t), topic, func(*client.Event) {}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Subscribe(ctxT(t), topic, func(*client.Event) {}, nil); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, cl := range []*client.Client{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := cl.Unsubscribe(ctxT(t), ida); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		got := w.events(6, 300*time.Millisecond)
		deletes := 0
		for _, e := range got {
			if e == "on_delete" {
				deletes++
			}
		}
		if deletes != 1 || len(got) != 6 {
			t.Fatalf("round %d: meta events %v, want one on_create, two on_subscribe, two on_unsubscribe, one on_delete", round, got)
		}
	}
}
