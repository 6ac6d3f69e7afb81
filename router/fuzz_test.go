package router_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// fuzzURIs reach the broker, the dealer, patterns, bad URIs and the meta
// API. No kill procedure: killing every session would, rightly, end the
// bystanders too (a fuzz finding, kept as a seed).
var fuzzURIs = []spec.URI{"a.b", "a", "a.b.c", "wamp.session.count", "wamp.session.list", "wamp.subscription.list", "bad..uri", "", "a..c"}
var fuzzOptions = []spec.Dict{
	{},
	{"acknowledge": true},
	{"match": "prefix"},
	{"match": "wildcard"},
	{"exclude_me": false, "acknowledge": true},
	{"receive_progress": true, "timeout": int64(5)},
	{"progress": true},
	{"invoke": "roundrobin"},
	{"retain": true, "get_retained": true},
	{"mode": "kill"},
	{"acknowledge": "yes"},
	// Values the router cannot honour: ERROR invalid_argument, the session goes on.
	{"match": "regex", "invoke": "broadcast", "timeout": "10s", "acknowledge": true},
}

// scriptMessage turns three fuzz bytes into one message from a vocabulary
// that reaches every handler: valid, invalid and out-of-order messages.
func scriptMessage(b0, b1, b2 byte) spec.Message {
	req := spec.ID(b1%6) + 1
	uri := fuzzURIs[int(b2)%len(fuzzURIs)]
	opts := fuzzOptions[int(b1/6)%len(fuzzOptions)]
	args := spec.List{int64(b2), []byte{b1}}
	switch b0 % 16 {
	case 0:
		return &spec.Hello{Realm: "realm1", Details: spec.Dict{"roles": helloRoles}}
	case 1:
		return &spec.Goodbye{Details: spec.Dict{}, Reason: spec.CloseNormal}
	case 2:
		return &spec.Publish{Request: req, Options: opts, Topic: uri, Arguments: args}
	case 3:
		return &spec.Subscribe{Request: req, Options: opts, Topic: uri}
	case 4:
		return &spec.Unsubscribe{Request: req, Subscription: spec.ID(b2) + 1}
	case 5:
		return &spec.Call{Request: req, Options: opts, Procedure: uri, Arguments: args}
	case 6:
		return &spec.Register{Request: req, Options: opts, Procedure: uri}
	case 7:
		return &spec.Unregister{Request: req, Registration: spec.ID(b2) + 1}
	case 8:
		return &spec.Yield{Request: req, Options: opts, Arguments: args}
	case 9:
		return &spec.Error{RequestType: spec.MessageType(b2 % 80), Request: req, Details: spec.Dict{}, Error: "x.y"}
	case 10:
		return &spec.Cancel{Request: req, Options: opts}
	case 11:
		return &spec.Abort{Details: spec.Dict{}, Reason: "x.y"}
	case 12:
		return &spec.Welcome{Session: req, Details: spec.Dict{}}
	case 13:
		return &spec.Authenticate{Signature: "x", Extra: spec.Dict{}}
	case 14:
		return &spec.Published{Request: req, Publication: req}
	default:
		return &spec.Interrupt{Request: req, Options: spec.Dict{}}
	}
}

// FuzzSession feeds a random message sequence into a router beside a
// healthy pair of sessions. Invariants: no panic; an ABORT for a protocol
// violation is followed by the close of the transport; the bystanders keep
// working; every goroutine ends after shutdown.
func FuzzSession(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 1, 0, 2, 8, 0, 5, 2, 0})
	f.Add([]byte{0, 0, 0, 6, 1, 1, 5, 2, 1, 8, 1, 0, 9, 1, 68})
	f.Add([]byte{2, 1, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 5, 37, 4, 10, 55, 0, 1, 0, 0, 0, 0, 0, 3, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 300 {
			return
		}
		base := runtime.NumGoroutine()
		// Registered first, so it runs last: after the router's cleanup.
		t.Cleanup(func() {
			deadline := time.Now().Add(5 * time.Second)
			for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if n := runtime.NumGoroutine(); n > base {
				buf := make([]byte, 1<<16)
				t.Fatalf("%d goroutines left after shutdown:\n%s", n-base, buf[:runtime.Stack(buf, true)])
			}
		})
		func() {
			tr := newTestRouter(t, router.Options{GoodbyeTimeout: 50 * time.Millisecond})
			callee := tr.join(serializer.MessagePack)
			if _, err := callee.Register(context.Background(), "bystander.echo", echo, nil); err != nil {
				t.Fatal(err)
			}
			caller := tr.join(serializer.CBOR)
			peer := tr.pipe(serializer.JSON)
			received := make(chan spec.Message, 1024)
			go func() {
				defer close(received)
				for {
					m, err := peer.Recv(context.Background())
					if err != nil {
						return
					}
					received <- m
				}
			}()
			for i := 0; i+3 <= len(data); i += 3 {
				frame, err := serializer.JSON.Encode(nil, scriptMessage(data[i], data[i+1], data[i+2]))
				if err != nil {
					t.Fatal(err)
				}
				if err := peer.Send(frame); err != nil && !errors.Is(err, transport.ErrClosed) {
					t.Fatal(err)
				}
			}
			res, err := caller.Call(ctxT(t), "bystander.echo", spec.List{"ok"}, nil, nil)
			if err != nil || res.Arguments[0] != "ok" {
				t.Fatalf("bystander call after the script: %v %v", res, err)
			}
			peer.Close("script over")
			aborted := false
			for m := range received {
				if aborted {
					if _, ok := m.(*spec.Welcome); ok {
						t.Fatal("a session was established on a transport after a protocol violation ABORT")
					}
				}
				if a, ok := m.(*spec.Abort); ok && a.Reason == spec.ErrProtocolViolation {
					aborted = true
				}
			}
		}()
	})
}
