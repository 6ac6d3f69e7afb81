package e2e

import (
	"bytes"
	"context"
	"sort"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

var serializers = []string{"json", "msgpack", "cbor"}

func connect(t *testing.T, p *routerProc, listener, ser string) *client.Client {
	t.Helper()
	c, err := client.Connect(ctxT(t, 10*time.Second), p.urls[listener], client.Config{Realm: "realm1", Serializer: ser, TLSConfig: p.tls})
	if err != nil {
		t.Fatalf("connect %s over %s: %v", ser, p.urls[listener], err)
	}
	t.Cleanup(func() { c.Close(ctxT(t, 5*time.Second)) })
	return c
}

// TestEveryTransportAndSerializer joins a session over each listener with
// each serializer and has it call, and publish to, sessions on the others:
// bytes and large integers survive every combination.
func TestEveryTransportAndSerializer(t *testing.T) {
	p := startRouter(t)
	listeners := make([]string, 0, len(p.urls))
	for name := range p.urls {
		listeners = append(listeners, name)
	}
	sort.Strings(listeners)

	// One callee and one subscriber per serializer, on rotating listeners.
	blob := []byte{0, 1, 0xfe, 0xff}
	events := make(chan string, 1024)
	for i, ser := range serializers {
		listener := listeners[i%len(listeners)]
		c := connect(t, p, listener, ser)
		if _, err := c.Register(ctxT(t, 5*time.Second), "e2e.echo."+ser, func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
			return &client.Result{Arguments: inv.Arguments, ArgumentsKw: inv.ArgumentsKw}, nil
		}, nil); err != nil {
			t.Fatal(err)
		}
		ser := ser
		if _, err := c.Subscribe(ctxT(t, 5*time.Second), "e2e.news", func(e *client.Event) {
			if b, _ := e.Arguments[1].([]byte); bytes.Equal(b, blob) {
				events <- ser + ":" + e.Arguments[0].(string)
			} else {
				events <- "corrupt"
			}
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, listener := range listeners {
		for _, ser := range serializers {
			t.Run(listener+"/"+ser, func(t *testing.T) {
				c := connect(t, p, listener, ser)
				for _, target := range serializers {
					res, err := c.Call(ctxT(t, 5*time.Second), "e2e.echo."+target, spec.List{blob, int64(spec.MaxID), "ü"}, spec.Dict{"k": blob}, nil)
					if err != nil {
						t.Fatalf("call to the %s callee: %v", target, err)
					}
					if b, _ := res.Arguments[0].([]byte); !bytes.Equal(b, blob) {
						t.Fatalf("bytes via %s came back as %#v", target, res.Arguments[0])
					}
					if n, _ := spec.AsInt(res.Arguments[1]); n != int64(spec.MaxID) || res.Arguments[2] != "ü" {
						t.Fatalf("arguments via %s came back as %v", target, res.Arguments)
					}
				}
				tag := listener + "/" + ser
				if err := c.Publish(ctxT(t, 5*time.Second), "e2e.news", spec.List{tag, blob}, nil, spec.Dict{"acknowledge": true}); err != nil {
					t.Fatal(err)
				}
				want := map[string]bool{"json:" + tag: true, "msgpack:" + tag: true, "cbor:" + tag: true}
				deadline := time.After(5 * time.Second)
				for len(want) > 0 {
					select {
					case got := <-events:
						if got == "corrupt" {
							t.Fatal("an event arrived with corrupted bytes")
						}
						delete(want, got)
					case <-deadline:
						t.Fatalf("events never arrived: %v", want)
					}
				}
			})
		}
	}
}
