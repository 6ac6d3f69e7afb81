package cluster

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// rpcScenario runs one RPC scenario and returns what every step answered:
// registrations (and their conflicts), calls by precedence of exact, prefix
// and wildcard registrations, errors, caller disclosure and a shared
// roundrobin registration. Sessions go to nodes 1, 2, 0, 1, ... and the
// caller is on node 0, so on three nodes every call crosses.
func rpcScenario(t *testing.T, join joinFunc) []string {
	var out []string
	var mu sync.Mutex
	served := map[string]int{}
	callee := func(name string) client.Handler {
		return func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
			mu.Lock()
			served[name]++
			mu.Unlock()
			if name == "failing" {
				return nil, &client.Error{URI: "com.example.failed", Arguments: spec.List{"sorry"}}
			}
			_, disclosed := inv.Details["caller"]
			return &client.Result{Arguments: spec.List{name, fmt.Sprint(inv.Details["procedure"]), disclosed, inv.Arguments}}, nil
		}
	}
	regs := []struct {
		name, procedure string
		opts            spec.Dict
	}{
		{"exact", "r.a.b", spec.Dict{}},
		{"prefix", "r.a", spec.Dict{"match": "prefix"}},
		{"wildcard", "r..b", spec.Dict{"match": "wildcard"}},
		{"failing", "r.fail", spec.Dict{}},
		{"disclosing", "r.who", spec.Dict{"disclose_caller": true}},
		{"rr1", "r.shared", spec.Dict{"invoke": "roundrobin"}},
		{"rr2", "r.shared", spec.Dict{"invoke": "roundrobin"}},
		{"rr3", "r.shared", spec.Dict{"invoke": "roundrobin"}},
		{"first1", "r.first", spec.Dict{"invoke": "first"}},
		{"first2", "r.first", spec.Dict{"invoke": "first"}},
		{"first3", "r.first", spec.Dict{"invoke": "first"}},
		{"last1", "r.last", spec.Dict{"invoke": "last"}},
		{"last2", "r.last", spec.Dict{"invoke": "last"}},
		{"last3", "r.last", spec.Dict{"invoke": "last"}},
		{"dup", "r.a.b", spec.Dict{}},                                     // single taken
		{"otherpolicy", "r.shared", spec.Dict{"invoke": "random"}},        // policy differs
		{"dupprefix", "r.a", spec.Dict{"match": "prefix", "invoke": "x"}}, // taken
		{"dupwild", "r..b", spec.Dict{"match": "wildcard"}},               // taken
		// On node 1, while r..b is on the caller's node 0: r.x.b goes to
		// r.x. (the literal component first) as on one node.
		{"wild2", "r.x.", spec.Dict{"match": "wildcard"}},
	}
	for i, r := range regs {
		c := join(t, i+1, []serializer.Serializer{serializer.JSON, serializer.MessagePack, serializer.CBOR}[i%3])
		err := register(t, c, r.procedure, callee(r.name), r.opts)
		out = append(out, fmt.Sprintf("register %s %s: %v", r.name, r.procedure, wampErr(err)))
	}
	caller := join(t, 0, serializer.JSON)
	calls := []struct {
		procedure string
		opts      spec.Dict
	}{
		{"r.a.b", nil}, {"r.a.c", nil}, {"r.x.b", nil}, {"r.a.x.b", nil}, {"r.fail", nil},
		{"r.who", nil}, {"r.a.b", spec.Dict{"disclose_me": true}}, {"r.none", nil},
		{"r.shared", nil}, {"r.shared", nil}, {"r.shared", nil}, {"r.shared", nil}, {"r.shared", nil}, {"r.shared", nil},
		{"r.first", nil}, {"r.first", nil}, {"r.last", nil}, {"r.last", nil},
	}
	for i, c := range calls {
		res, err := caller.Call(ctxT(t), c.procedure, spec.List{int64(i)}, nil, &client.CallOptions{Options: c.opts})
		if err != nil {
			out = append(out, fmt.Sprintf("call %s: error %v", c.procedure, wampErr(err)))
			continue
		}
		if c.procedure == "r.shared" {
			continue // which callee answers is counted below
		}
		out = append(out, fmt.Sprintf("call %s: %v", c.procedure, res.Arguments))
	}
	mu.Lock()
	defer mu.Unlock()
	names := make([]string, 0, len(served))
	for k := range served {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out = append(out, fmt.Sprintf("served %s %d", k, served[k]))
	}
	return out
}

// The same RPC scenario on one node and on three nodes gives the same
// results and errors.
func TestDifferentialRPCOneVersusThreeNodes(t *testing.T) {
	want := rpcScenario(t, singleNode(t))
	got := rpcScenario(t, threeNodes(t))
	if len(want) < 20 {
		t.Fatalf("the reference run is too short to compare: %v", want)
	}
	if !reflect.DeepEqual(want, got) {
		for i := range max(len(want), len(got)) {
			var w, g string
			if i < len(want) {
				w = want[i]
			}
			if i < len(got) {
				g = got[i]
			}
			if w != g {
				t.Errorf("step %d:\n one node:    %s\n three nodes: %s", i, w, g)
			}
		}
	}
}
