package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// startClusterRouters starts n routers that form one cluster on embedded
// NATS servers, and waits until each knows the others.
func startClusterRouters(t *testing.T, n int) []*routerProc {
	t.Helper()
	addrs := freeAddrs(t, n)
	routes := make([]string, n)
	for i, a := range addrs {
		routes[i] = "nats://" + a
	}
	routers := make([]*routerProc, n)
	for i := range routers {
		routers[i] = startRouter(t, "--node", "node"+string(rune('1'+i)),
			"--cluster-listen", addrs[i], "--cluster-routes", strings.Join(routes, ","))
	}
	deadline := time.Now().Add(readyTimeout)
	for i, r := range routers {
		for strings.Count(r.out.String(), "cluster: node joined") < n-1 {
			if time.Now().After(deadline) {
				t.Fatalf("node%d never saw the others:\n%s", i+1, r.out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return routers
}

// Real clients on different nodes of a three-node cluster: autobahn-python
// (asyncio and Twisted) and autobahn-js subscribers on nodes 2 and 3 receive
// the events that autobahn publishers on node 1 publish.
func TestClusterPubSubAcrossNodes(t *testing.T) {
	subs := []struct {
		node int
		p    peer
	}{
		{1, peer{"py-asyncio", "websocket", "json"}},
		{2, peer{"py-twisted", "rawsocket", "cbor"}},
		{2, peer{"js", "websocket", "msgpack"}},
		{0, peer{"py-asyncio", "rawsocket", "msgpack"}},
	}
	pubs := map[string]peer{
		"pub_py_ws_msgpack": {"py-asyncio", "websocket", "msgpack"},
		"pub_js_ws_json":    {"js", "websocket", "json"},
	}
	var names []string
	for n, p := range pubs {
		p.require(t)
		names = append(names, n)
	}
	for _, s := range subs {
		s.p.require(t)
	}
	routers := startClusterRouters(t, 3)
	prefix := uriPrefix("cluster")
	ctx, cancel := context.WithTimeout(context.Background(), clientKillAfter)
	defer cancel()
	var started []*client
	for _, s := range subs {
		started = append(started, startClient(t, ctx, routers[s.node], s.p, "subscriber", prefix,
			"--expect", strings.Join(names, ",")))
	}
	for i, c := range started {
		c.waitReady(t, routers[subs[i].node])
	}
	for n, p := range pubs {
		if !runClient(t, routers[0], p, "publisher", prefix, "--name", n) {
			cancel()
		}
	}
	for i, c := range started {
		c.wait(t, routers[subs[i].node])
	}
	for _, r := range routers {
		r.stop(t)
	}
}

// autobahn-python on node 1 looks up a subscription made by an
// autobahn-python session on node 2 (wamp.subscription.lookup and
// list_subscribers answer for every node) and kills that session
// (wamp.session.kill with reason and message), which gets that GOODBYE.
func TestClusterMetaKillAcrossNodes(t *testing.T) {
	target := peer{"py-asyncio", "websocket", "json"}
	killer := peer{"py-twisted", "rawsocket", "cbor"}
	target.require(t)
	killer.require(t)
	routers := startClusterRouters(t, 3)
	prefix := uriPrefix("clustermeta")
	ctx, cancel := context.WithTimeout(context.Background(), clientKillAfter)
	defer cancel()
	tc := startClient(t, ctx, routers[1], target, "killtarget", prefix)
	tc.waitReady(t, routers[1])
	var sid, subid string
	for _, line := range strings.Split(tc.out.String(), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "TARGET" {
			sid, subid = f[1], f[2]
		}
	}
	if sid == "" {
		t.Fatalf("the target printed no TARGET line:\n%s", tc.out)
	}
	if !runClient(t, routers[0], killer, "killer", prefix, "--expect", sid+","+subid) {
		cancel()
	}
	tc.wait(t, routers[1])
	for _, r := range routers {
		r.stop(t)
	}
}

// autobahn-python (Twisted, RawSocket/CBOR) on node 1 asks the
// registration meta API about a registration an autobahn-python (asyncio,
// WebSocket/JSON) callee made on node 2: lookup, match, get, list,
// list_callees and count_callees answer for every node; after one call
// the callee leaves, and its registration goes from node 1's meta API.
func TestClusterRegistrationMetaAcrossNodes(t *testing.T) {
	callee := peer{"py-asyncio", "websocket", "json"}
	asker := peer{"py-twisted", "rawsocket", "cbor"}
	callee.require(t)
	asker.require(t)
	routers := startClusterRouters(t, 3)
	prefix := uriPrefix("clusterregmeta")
	ctx, cancel := context.WithTimeout(context.Background(), clientKillAfter)
	defer cancel()
	tc := startClient(t, ctx, routers[1], callee, "regtarget", prefix, "--count", "1")
	tc.waitReady(t, routers[1])
	var sid, regid string
	for _, line := range strings.Split(tc.out.String(), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "TARGET" {
			sid, regid = f[1], f[2]
		}
	}
	if sid == "" {
		t.Fatalf("the callee printed no TARGET line:\n%s", tc.out)
	}
	if !runClient(t, routers[0], asker, "regmeta", prefix, "--expect", sid+","+regid) {
		cancel()
	}
	tc.wait(t, routers[1])
	for _, r := range routers {
		r.stop(t)
	}
}

// Real callees on one node called by real callers on the others: an
// autobahn-python callee on node 2 answers autobahn-js and autobahn-python
// callers on nodes 1 and 3 (the binary echo crosses the cluster both ways),
// and an autobahn-js callee on node 3 answers a Python caller on node 1.
func TestClusterRPCAcrossNodes(t *testing.T) {
	cases := []struct {
		name    string
		callee  peer
		node    int
		callers []struct {
			node int
			p    peer
		}
	}{
		{"py-callee", peer{"py-asyncio", "rawsocket", "msgpack"}, 1, []struct {
			node int
			p    peer
		}{{0, peer{"js", "websocket", "json"}}, {2, peer{"py-twisted", "websocket", "cbor"}}}},
		{"js-callee", peer{"js", "websocket", "msgpack"}, 2, []struct {
			node int
			p    peer
		}{{0, peer{"py-asyncio", "websocket", "json"}}}},
	}
	for _, tc := range cases {
		tc.callee.require(t)
		for _, c := range tc.callers {
			c.p.require(t)
		}
	}
	routers := startClusterRouters(t, 3)
	for _, tc := range cases {
		prefix := uriPrefix("cluster", tc.name)
		ctx, cancel := context.WithTimeout(context.Background(), clientKillAfter)
		callee := startClient(t, ctx, routers[tc.node], tc.callee, "callee", prefix,
			"--count", fmt.Sprint(len(tc.callers)), "--name", tc.callee.String())
		callee.waitReady(t, routers[tc.node])
		for _, c := range tc.callers {
			if !runClient(t, routers[c.node], c.p, "caller", prefix, "--name", c.p.String()) {
				cancel()
			}
		}
		if t.Failed() {
			cancel()
			callee.logAborted(t)
			return
		}
		callee.wait(t, routers[tc.node])
		cancel()
	}
	for _, r := range routers {
		r.stop(t)
	}
}
