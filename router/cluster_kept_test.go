package router_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// What a node hands a late-joining node (KeptEvents) and how it merges what
// it is handed (AddKept): the newer retained event of a topic wins, history
// logs unite by publication ID in time order within their limit, and an
// undecodable payload is left out.
func TestKeptEventsMerge(t *testing.T) {
	tr := newTestRouter(t, router.Options{Realms: []router.RealmConfig{{Name: "realm1",
		History: []router.HistoryConfig{{Topic: "h", Match: spec.MatchPrefix, Limit: 3}}}}})
	c := tr.join(serializer.JSON)
	ack := spec.Dict{"acknowledge": true}
	if err := c.Publish(ctxT(t), "s", spec.List{"local"}, nil, spec.Dict{"acknowledge": true, "retain": true}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"l1", "l2"} {
		if err := c.Publish(ctxT(t), "h.a", spec.List{v}, nil, ack); err != nil {
			t.Fatal(err)
		}
	}
	realm := tr.r.Realm("realm1")
	kept := realm.KeptEvents()
	argsOf := func(k router.KeptEvent) spec.List {
		if k.Raw.N == 0 {
			return k.Arguments
		}
		args, _, err := spec.Payload(nil, nil, k.Raw)
		if err != nil {
			t.Fatal(err)
		}
		return args
	}
	if len(kept) != 3 || !kept[0].Retained || kept[0].History || !kept[1].History || !kept[2].History ||
		fmt.Sprint(argsOf(kept[1]), argsOf(kept[2])) != "[l1] [l2]" {
		t.Fatalf("kept events %+v, want the retained one and l1, l2 in order", kept)
	}
	l1 := kept[1]
	ev := func(id spec.ID, topic, v string, when time.Time, retained, history bool) router.KeptEvent {
		return router.KeptEvent{RemoteEvent: router.RemoteEvent{Publication: id, Topic: spec.URI(topic), Options: spec.Dict{}, Arguments: spec.List{v}, Publisher: 1},
			Retained: retained, History: history, When: when}
	}
	now := time.Now()
	broken := ev(99, "h.a", "broken", now, true, true)
	broken.Arguments, broken.Raw = nil, spec.Raw{Format: "json", N: 1, Bytes: []byte("[")}
	realm.AddKept([]router.KeptEvent{
		ev(10, "s", "older", kept[0].When.Add(-time.Second), true, false),
		ev(11, "t", "elsewhere", now, true, false),
		ev(12, "h.a", "r0", l1.When.Add(-time.Second), false, true),
		l1, // already in the log
		ev(13, "h.b", "r3", now.Add(time.Second), false, true),
		broken,
	})
	retained := func(topic string) string {
		got := make(chan string, 4)
		if _, err := c.Subscribe(ctxT(t), topic, func(e *client.Event) { got <- fmt.Sprint(e.Arguments...) }, spec.Dict{"get_retained": true}); err != nil {
			t.Fatal(err)
		}
		select {
		case v := <-got:
			return v
		case <-time.After(2 * time.Second):
			return ""
		}
	}
	if v := retained("s"); v != "local" {
		t.Fatalf("an older retained event replaced the newer: %q", v)
	}
	if v := retained("t"); v != "elsewhere" {
		t.Fatalf("a retained event of a topic new here: %q", v)
	}
	history := func() string {
		id, err := c.Subscribe(ctxT(t), "h", func(*client.Event) {}, spec.Dict{"match": "prefix"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Call(ctxT(t), "wamp.subscription.get_events", spec.List{int64(id)}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range res.Arguments[0].([]any) {
			out = append(out, fmt.Sprint(e.(map[string]any)["args"].([]any)...))
		}
		return fmt.Sprint(out)
	}
	if h := history(); h != "[l1 l2 r3]" {
		t.Fatalf("history after the merge %s, want [l1 l2 r3] (r0 too old for the limit, l1 once, broken left out)", h)
	}
	// The same publication arriving live after its node's history: once.
	realm.DeliverRemote(&router.RemoteEvent{Publication: 13, Topic: "h.b", Options: spec.Dict{}, Arguments: spec.List{"r3"}, Publisher: 1})
	if h := history(); h != "[l1 l2 r3]" {
		t.Fatalf("history after r3 arrived live too %s, want [l1 l2 r3]", h)
	}
	if err := c.Publish(ctxT(t), "h.a", spec.List{"l4"}, nil, ack); err != nil {
		t.Fatal(err)
	}
	if h := history(); h != "[l2 r3 l4]" {
		t.Fatalf("history after a later publication %s, want [l2 r3 l4]", h)
	}
	if v := retained("h.a"); v != "" {
		t.Fatalf("an undecodable retained event was kept: %q", v)
	}
}
