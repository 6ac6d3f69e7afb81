// Package interop drives real third-party WAMP clients (autobahn-js on Node, autobahn-python on
// asyncio and Twisted) against the switchyard binary: every transport × serializer they support,
// RPC and PubSub with binary payloads, error paths, cross-serializer routing, the Advanced Profile,
// authentication with every method and role-based authorization (auth_test.go), and graceful
// shutdown on SIGTERM.
//
// Install the clients with scripts/install-test-deps.sh, then:
//
//	SWITCHYARD_REQUIRE_INTEROP=1 go test -race -count=1 -v ./test/interop/
//
// Without the clients the tests skip, unless SWITCHYARD_REQUIRE_INTEROP=1 (CI sets it), which makes
// a missing client a failure. SWITCHYARD_INTEROP_BINARY=/path/to/router tests a prebuilt binary
// instead of building ./cmd/switchyard. The client scripts in js/ and python/ run on their own too;
// see their usage text.
package interop

import (
	"context"
	"fmt"
	"github.com/switchyard/switchyard/internal/leakcheck"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if err := locate(); err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "switchyard-interop-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(2)
	}
	routerBin, buildErr = buildRouter(dir)
	code := leakcheck.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// The client matrix.
var (
	jsPeers = []peer{
		{"js", "websocket", "json"},
		{"js", "websocket", "msgpack"},
		{"js", "websocket", "cbor"},
		{"js", "rawsocket", "json"}, // autobahn-js RawSocket speaks JSON only
		{"js", "unix", "json"},
	}
	pyPeers = func() []peer {
		var ps []peer
		for _, lang := range []string{"py-asyncio", "py-twisted"} {
			for _, tr := range []string{"websocket", "rawsocket"} {
				for _, ser := range []string{"json", "msgpack", "cbor"} {
					ps = append(ps, peer{lang, tr, ser})
				}
			}
		}
		return append(ps, peer{"py-asyncio", "unix", "msgpack"}, peer{"py-twisted", "unix", "cbor"})
	}()
)

// TestInterop starts one router and runs the whole matrix against it, then shuts it down with
// SIGTERM while clients are connected.
func TestInterop(t *testing.T) {
	t.Parallel() // with TestKeepalive, which mostly sleeps
	checkDeps()
	r := startRouter(t)
	defer r.checkLog(t)
	defer r.saveLog(t, "interop-router.log")

	t.Run("clients", func(t *testing.T) {
		// Each client: RPC with positional args, kwargs and binaries, the no_such_procedure and
		// application error paths, duplicate registration; PubSub with acknowledge, binaries,
		// exclude_me. Both sessions use the client's own transport and serializer.
		for _, p := range append(append([]peer{}, jsPeers...), pyPeers...) {
			t.Run("scenario/"+p.String(), func(t *testing.T) {
				p.require(t)
				t.Parallel()
				runClient(t, r, p, "scenario", uriPrefix("scn", p.String()))
			})
		}

		// Advanced Profile features the router announces (autobahn-python is the strict judge).
		for _, p := range []peer{
			{"py-asyncio", "websocket", "json"},
			{"py-twisted", "rawsocket", "cbor"},
			{"py-asyncio", "rawsocket", "msgpack"},
		} {
			t.Run("advanced/"+p.String(), func(t *testing.T) {
				p.require(t)
				t.Parallel()
				runClient(t, r, p, "advanced", uriPrefix("adv", p.String()))
			})
		}

		// RPC across languages, serializers and transports, binary payload checked both ways
		// (the callee checks the argument bytes, the caller checks the result bytes).
		crossRPC := []struct {
			name    string
			callee  peer
			callers []peer
		}{
			{
				name:   "rpc/py-twisted-rawsocket-cbor-callee",
				callee: peer{"py-twisted", "rawsocket", "cbor"},
				callers: []peer{
					{"js", "websocket", "json"},
					{"js", "websocket", "msgpack"},
					{"js", "rawsocket", "json"},
					{"py-asyncio", "websocket", "cbor"},
					{"py-asyncio", "rawsocket", "msgpack"},
				},
			},
			{
				name:   "rpc/js-websocket-cbor-callee",
				callee: peer{"js", "websocket", "cbor"},
				callers: []peer{
					{"py-asyncio", "rawsocket", "json"},
					{"py-twisted", "websocket", "msgpack"},
					{"js", "unix", "json"},
				},
			},
		}
		for _, tc := range crossRPC {
			t.Run("cross/"+tc.name, func(t *testing.T) {
				tc.callee.require(t)
				for _, c := range tc.callers {
					c.require(t)
				}
				t.Parallel()
				prefix := uriPrefix("rpc", tc.name)
				ctx, cancel := context.WithTimeout(context.Background(), clientKillAfter)
				defer cancel()
				callee := startClient(t, ctx, r, tc.callee, "callee", prefix,
					"--count", fmt.Sprint(len(tc.callers)), "--name", tc.callee.String())
				callee.waitReady(t, r)
				var wg sync.WaitGroup
				for _, c := range tc.callers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						runClient(t, r, c, "caller", prefix, "--name", c.String())
					}()
				}
				wg.Wait()
				if t.Failed() {
					cancel() // the callee would wait for calls that never come
					callee.logAborted(t)
					return
				}
				callee.wait(t, r)
			})
		}

		// A callee that vanishes without GOODBYE (SIGKILL): its registration must go with it, so
		// a later call gets wamp.error.no_such_procedure instead of hanging.
		for _, tc := range []struct{ callee, caller peer }{
			{peer{"py-twisted", "rawsocket", "cbor"}, peer{"js", "websocket", "json"}},
			{peer{"js", "websocket", "msgpack"}, peer{"py-asyncio", "rawsocket", "json"}},
		} {
			t.Run("cross/killed-callee/"+tc.callee.String(), func(t *testing.T) {
				tc.callee.require(t)
				tc.caller.require(t)
				t.Parallel()
				prefix := uriPrefix("killed", tc.callee.String())
				ctx, cancel := context.WithTimeout(context.Background(), clientKillAfter)
				defer cancel()
				callee := startClient(t, ctx, r, tc.callee, "callee", prefix)
				callee.waitReady(t, r)
				callee.cmd.Process.Kill()
				<-callee.done
				time.Sleep(300 * time.Millisecond) // the router sees the connection close
				runClient(t, r, tc.caller, "caller", prefix, "--expect-error", "wamp.error.no_such_procedure")
			})
		}

		// CANCEL in mode kill, from autobahn-js (autobahn-python's cancel sends no mode): the dealer
		// interrupts the Python callee and passes its ERROR on to the JS caller. (The callee is
		// Twisted: autobahn-python on asyncio sends nothing for an interrupted invocation.)
		t.Run("cross/cancel-kill/js-websocket-json-to-py-twisted-rawsocket-cbor", func(t *testing.T) {
			callee, caller := peer{"py-twisted", "rawsocket", "cbor"}, peer{"js", "websocket", "json"}
			callee.require(t)
			caller.require(t)
			t.Parallel()
			prefix := uriPrefix("cancel_kill")
			ctx, cancel := context.WithTimeout(context.Background(), clientKillAfter)
			defer cancel()
			c := startClient(t, ctx, r, callee, "interruptible", prefix, "--count", "1")
			c.waitReady(t, r)
			if !runClient(t, r, caller, "canceler", prefix) {
				cancel() // the callee would wait for an INTERRUPT that never comes
				c.logAborted(t)
				return
			}
			c.wait(t, r)
		})

		// PubSub across languages, serializers and transports: every subscriber must receive the
		// event of every publisher, args, kwargs and binaries intact.
		t.Run("cross/pubsub", func(t *testing.T) {
			subs := []peer{
				{"py-asyncio", "websocket", "json"},
				{"py-asyncio", "rawsocket", "msgpack"},
				{"py-twisted", "websocket", "cbor"},
				{"py-twisted", "rawsocket", "json"},
				{"js", "websocket", "msgpack"},
				{"js", "websocket", "cbor"},
				{"js", "rawsocket", "json"},
			}
			pubs := map[string]peer{
				"pub_js_ws_json":      {"js", "websocket", "json"},
				"pub_py_rs_cbor":      {"py-twisted", "rawsocket", "cbor"},
				"pub_py_ws_msgpack":   {"py-asyncio", "websocket", "msgpack"},
				"pub_py_unix_msgpack": {"py-asyncio", "unix", "msgpack"},
			}
			for _, p := range subs {
				p.require(t)
			}
			var names []string
			for n, p := range pubs {
				p.require(t)
				names = append(names, n)
			}
			t.Parallel()
			prefix := uriPrefix("pubsub")
			ctx, cancel := context.WithTimeout(context.Background(), clientKillAfter)
			defer cancel()
			var started []*client
			for _, p := range subs {
				started = append(started, startClient(t, ctx, r, p, "subscriber", prefix,
					"--expect", strings.Join(names, ",")))
			}
			for _, c := range started {
				c.waitReady(t, r)
			}
			var wg sync.WaitGroup
			for n, p := range pubs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					runClient(t, r, p, "publisher", prefix, "--name", n)
				}()
			}
			wg.Wait()
			if t.Failed() {
				cancel() // subscribers would wait for events that never come
				for _, c := range started {
					c.logAborted(t)
				}
				return
			}
			for _, c := range started {
				c.wait(t, r)
			}
		})
	})

	// Graceful shutdown: clients connected over every transport must get GOODBYE
	// wamp.close.system_shutdown, and the router must exit 0.
	t.Run("shutdown", func(t *testing.T) {
		watchers := []peer{
			{"py-asyncio", "websocket", "json"},
			{"py-twisted", "rawsocket", "cbor"},
			{"py-asyncio", "unix", "msgpack"},
			{"js", "websocket", "msgpack"},
			{"js", "rawsocket", "json"},
		}
		checkDeps()
		ctx, cancel := context.WithTimeout(context.Background(), clientKillAfter)
		defer cancel()
		var started []*client
		for _, p := range watchers {
			if (p.lang == "js" && jsMissing != "") || (p.lang != "js" && pyMissing != "") {
				continue // reported by the matrix; the router's own exit is still checked below
			}
			started = append(started, startClient(t, ctx, r, p, "shutdown", uriPrefix("shutdown", p.String())))
		}
		for _, c := range started {
			c.waitReady(t, r)
		}
		time.Sleep(100 * time.Millisecond)
		r.stop(t)
		for _, c := range started {
			c.wait(t, r)
		}
	})
}

// TestKeepalive leaves real clients idle on a router that pings quickly (--ping-interval 2s)
// for longer than the transports' write timeout, then checks that every session is still there
// to receive GOODBYE wamp.close.system_shutdown. autobahn-js pings WebSocket peers after 10 s of
// silence, so the router's pongs are exercised too.
func TestKeepalive(t *testing.T) {
	if testing.Short() {
		t.Skip("keeps clients idle for 15 s")
	}
	t.Parallel()
	checkDeps()
	const idle = 15 * time.Second
	r := startRouter(t, "--ping-interval", "2s")
	defer r.checkLog(t)
	defer r.saveLog(t, "keepalive-router.log")
	watchers := []peer{
		{"py-asyncio", "websocket", "json"},
		{"py-twisted", "websocket", "cbor"},
		{"js", "websocket", "json"},
		{"js", "websocket", "msgpack"},
		{"js", "rawsocket", "json"},
		{"py-asyncio", "rawsocket", "msgpack"},
		{"py-twisted", "rawsocket", "cbor"},
		{"py-asyncio", "unix", "json"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), idle+clientKillAfter)
	defer cancel()
	var started []*client
	for _, p := range watchers {
		if (p.lang == "js" && jsMissing != "") || (p.lang != "js" && pyMissing != "") {
			p.require(t) // skips, or fails with SWITCHYARD_REQUIRE_INTEROP=1
		}
		started = append(started, startClient(t, ctx, r, p, "shutdown", uriPrefix("keepalive", p.String()),
			"--timeout", fmt.Sprint(int((idle+clientTimeout)/time.Second))))
	}
	for _, c := range started {
		c.waitReady(t, r)
	}
	t.Logf("%d clients joined; idle for %v", len(started), idle)
	time.Sleep(idle)
	r.stop(t)
	for _, c := range started {
		c.wait(t, r)
	}
}
