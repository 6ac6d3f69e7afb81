package e2e

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// bystander is a caller/callee and publisher/subscriber pair that must keep
// working, with nothing lost, while its neighbours send garbage.
type bystander struct {
	t      *testing.T
	caller *client.Client
	events chan int64
	n      int64
}

func newBystander(t *testing.T, p *routerProc) *bystander {
	callee := connect(t, p, "rawsocket", "cbor")
	b := &bystander{t: t, caller: connect(t, p, "ws", "json"), events: make(chan int64, 64)}
	if _, err := callee.Register(ctxT(t, 5*time.Second), "bystander.add1", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		n, _ := spec.AsInt(inv.Arguments[0])
		return &client.Result{Arguments: spec.List{n + 1}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := callee.Subscribe(ctxT(t, 5*time.Second), "bystander.tick", func(e *client.Event) {
		n, _ := spec.AsInt(e.Arguments[0])
		b.events <- n
	}, nil); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bystander) check() {
	b.t.Helper()
	b.n++
	res, err := b.caller.Call(ctxT(b.t, 5*time.Second), "bystander.add1", spec.List{b.n}, nil, nil)
	if err != nil {
		b.t.Fatalf("bystander call: %v", err)
	}
	if n, _ := spec.AsInt(res.Arguments[0]); n != b.n+1 {
		b.t.Fatalf("bystander got %v", res.Arguments)
	}
	if err := b.caller.Publish(ctxT(b.t, 5*time.Second), "bystander.tick", spec.List{b.n}, nil, spec.Dict{"acknowledge": true}); err != nil {
		b.t.Fatalf("bystander publish: %v", err)
	}
	select {
	case n := <-b.events:
		if n != b.n {
			b.t.Fatalf("bystander event %d, want %d: one was lost", n, b.n)
		}
	case <-time.After(5 * time.Second):
		b.t.Fatal("bystander event lost")
	}
}

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// expectEOF reads until the router closes the connection.
func expectEOF(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := io.Copy(io.Discard, c); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("the router did not close the connection: %v", err)
	}
}

func rsHandshake(t *testing.T, c net.Conn, second byte) [4]byte {
	t.Helper()
	if _, err := c.Write([]byte{0x7f, second, 0, 0}); err != nil {
		t.Fatal(err)
	}
	var reply [4]byte
	if _, err := io.ReadFull(c, reply[:]); err != nil {
		t.Fatalf("handshake reply: %v", err)
	}
	return reply
}

func rsWrite(t *testing.T, c net.Conn, payload []byte) {
	t.Helper()
	var h [4]byte
	binary.BigEndian.PutUint32(h[:], uint32(len(payload)))
	if _, err := c.Write(append(h[:], payload...)); err != nil {
		t.Fatal(err)
	}
}

func rsRead(t *testing.T, c net.Conn, ser serializer.Serializer) spec.Message {
	t.Helper()
	for {
		var h [4]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			t.Fatalf("read frame: %v", err)
		}
		n := binary.BigEndian.Uint32(h[:]) & 0xffffff
		payload := make([]byte, n)
		if _, err := io.ReadFull(c, payload); err != nil {
			t.Fatalf("read payload: %v", err)
		}
		if h[0]&0x07 != 0 {
			continue // PING / PONG
		}
		m, err := ser.Decode(payload)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		return m
	}
}

func TestGarbageGetsTheSpecsAnswer(t *testing.T) {
	// A 64 KiB limit makes an oversize frame expressible in the 24-bit
	// RawSocket length.
	p := startRouter(t, "--max-message-size", "65536")
	b := newBystander(t, p)
	rs := strings.TrimPrefix(p.urls["rawsocket"], "rs://")
	hello := func(ser serializer.Serializer) []byte {
		f, _ := ser.Encode(nil, &spec.Hello{Realm: "realm1", Details: spec.Dict{"roles": spec.Dict{"caller": spec.Dict{}}}})
		return f
	}

	t.Run("bad magic", func(t *testing.T) {
		c := dialRaw(t, rs)
		c.Write([]byte{0x42, 0xf2, 0, 0})
		expectEOF(t, c)
		b.check()
	})
	t.Run("unknown serializer", func(t *testing.T) {
		c := dialRaw(t, rs)
		reply := rsHandshake(t, c, 0xf9)
		if reply != [4]byte{0x7f, 0x10, 0, 0} {
			t.Fatalf("reply %x, want error 1 (serializer unsupported)", reply)
		}
		b.check()
	})
	t.Run("reserved bits", func(t *testing.T) {
		c := dialRaw(t, rs)
		c.Write([]byte{0x7f, 0xf2, 0, 1})
		var reply [4]byte
		io.ReadFull(c, reply[:])
		if reply != [4]byte{0x7f, 0x30, 0, 0} {
			t.Fatalf("reply %x, want error 3 (reserved bits)", reply)
		}
		b.check()
	})
	t.Run("oversize frame", func(t *testing.T) {
		c := dialRaw(t, rs)
		reply := rsHandshake(t, c, 0xf2)
		limit := 1 << (9 + int(reply[1]>>4))
		if limit != 65536 {
			t.Fatalf("router announced a limit of %d bytes, want 65536", limit)
		}
		var h [4]byte
		binary.BigEndian.PutUint32(h[:], uint32(limit+1))
		c.Write(h[:])
		expectEOF(t, c)
		b.check()
	})
	t.Run("truncated frame", func(t *testing.T) {
		c := dialRaw(t, rs)
		rsHandshake(t, c, 0xf2)
		c.Write([]byte{0, 0, 0, 100, 1, 2, 3})
		c.(*net.TCPConn).CloseWrite()
		expectEOF(t, c)
		b.check()
	})
	for _, tc := range []struct {
		name   string
		second byte
		ser    serializer.Serializer
		junk   []byte
	}{
		{"invalid json", 0xf1, serializer.JSON, []byte(`[1, "realm1", {"roles": `)},
		{"invalid msgpack", 0xf2, serializer.MessagePack, []byte{0x93, 0xc1, 0xc1}},
		{"invalid cbor", 0xf3, serializer.CBOR, []byte{0x83, 0x1c, 0xff}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, rs)
			rsHandshake(t, c, tc.second)
			rsWrite(t, c, hello(tc.ser))
			if _, ok := rsRead(t, c, tc.ser).(*spec.Welcome); !ok {
				t.Fatal("no WELCOME")
			}
			rsWrite(t, c, tc.junk)
			m := rsRead(t, c, tc.ser)
			if a, ok := m.(*spec.Abort); !ok || a.Reason != spec.ErrProtocolViolation {
				t.Fatalf("got %#v, want ABORT protocol_violation", m)
			}
			expectEOF(t, c)
			b.check()
		})
	}
	t.Run("message before HELLO", func(t *testing.T) {
		c := dialRaw(t, rs)
		rsHandshake(t, c, 0xf2)
		f, _ := serializer.MessagePack.Encode(nil, &spec.Publish{Request: 1, Options: spec.Dict{}, Topic: "a.b"})
		rsWrite(t, c, f)
		if a, ok := rsRead(t, c, serializer.MessagePack).(*spec.Abort); !ok || a.Reason != spec.ErrProtocolViolation {
			t.Fatalf("got %#v", a)
		}
		expectEOF(t, c)
		b.check()
	})
	t.Run("ERROR with a bad request type", func(t *testing.T) {
		c := dialRaw(t, rs)
		rsHandshake(t, c, 0xf1)
		rsWrite(t, c, hello(serializer.JSON))
		rsRead(t, c, serializer.JSON)
		rsWrite(t, c, []byte(`[8, 99, 1, {}, "x.y"]`))
		if a, ok := rsRead(t, c, serializer.JSON).(*spec.Abort); !ok || a.Reason != spec.ErrProtocolViolation {
			t.Fatalf("got %#v", a)
		}
		expectEOF(t, c)
		b.check()
	})
	t.Run("websocket without a WAMP subprotocol", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+strings.TrimPrefix(p.urls["ws"], "ws://"), nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		req.Header.Set("Sec-WebSocket-Protocol", "mqtt, wamp.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusSwitchingProtocols || resp.StatusCode < 400 {
			t.Fatalf("status %d, want a client error", resp.StatusCode)
		}
		if !strings.Contains(string(body), "wamp.2.json") {
			t.Fatalf("the error does not name the subprotocols spoken: %q", body)
		}
		b.check()
	})
	if !logContains(p, "protocol violation") {
		t.Error("protocol violations were not logged")
	}
}

// TestConnectionLimits: the per-address limit spans every listener;
// RawSocket answers handshake error 4, WebSocket HTTP 503, and a freed slot
// is usable again.
func TestConnectionLimits(t *testing.T) {
	p := startRouter(t, "--max-sessions-per-address", "2")
	a := connect(t, p, "rawsocket", "msgpack")
	connect(t, p, "ws", "json")
	rs := strings.TrimPrefix(p.urls["rawsocket"], "rs://")
	c := dialRaw(t, rs)
	if reply := rsHandshake(t, c, 0xf2); reply != [4]byte{0x7f, 0x40, 0, 0} {
		t.Fatalf("reply %x, want error 4 (maximum connection count)", reply)
	}
	if _, err := client.Connect(ctxT(t, 5*time.Second), p.urls["ws"], client.Config{}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("WebSocket past the limit: %v, want HTTP 503", err)
	}
	a.Close(ctxT(t, 5*time.Second))
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := client.Connect(ctxT(t, 5*time.Second), p.urls["rawsocket"], client.Config{})
		if err == nil {
			c.Close(ctxT(t, 5*time.Second))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the freed slot never came back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebSocketFrameSentWithTheUpgrade: a client that sends its first
// WebSocket frame in the same packet as the upgrade request loses nothing
// (the bytes net/http read ahead carry over to the session).
func TestWebSocketFrameSentWithTheUpgrade(t *testing.T) {
	p := startRouter(t)
	addr := strings.TrimSuffix(strings.TrimPrefix(p.urls["ws"], "ws://"), "/")
	c := dialRaw(t, addr)
	hello := []byte(`[1,"realm1",{"roles":{"caller":{}}}]`)
	mask := [4]byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x80 | byte(len(hello))}
	frame = append(frame, mask[:]...)
	for i, b := range hello {
		frame = append(frame, b^mask[i%4])
	}
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n"
	if _, err := c.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 0, 4096)
	buf := make([]byte, 4096)
	for !strings.Contains(string(got), "[2,") {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no WELCOME after the upgrade (read %q): %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	if !strings.HasPrefix(string(got), "HTTP/1.1 101") {
		t.Fatalf("response %q", got)
	}
}
