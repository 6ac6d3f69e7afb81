package websocket

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// TestClientAgainstCoderServer: our client against another implementation's
// server (coder/websocket), which refuses unmasked frames: messages of every
// length encoding, on either side of the write buffer, in text and binary,
// plain and batched, come back intact; the server's ping is answered from
// within Recv; the server's close ends the peer with its status.
func TestClientAgainstCoderServer(t *testing.T) {
	pinged := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Accept(w, r, &ws.AcceptOptions{Subprotocols: []string{
			"wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor.batched"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		for {
			typ, b, err := c.Read(ctx)
			if err != nil {
				return // the close handshake, answered
			}
			if bytes.Contains(b, []byte("done")) {
				// Ping while the loop reads on (the pong arrives through
				// Read), then close.
				go func() {
					err := c.Ping(ctx)
					pinged <- err
					c.Close(ws.StatusNormalClosure, "bye")
				}()
				continue
			}
			if err := c.Write(ctx, typ, b); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"

	for _, tc := range []struct {
		s       serializer.Serializer
		batched bool
	}{{serializer.JSON, false}, {serializer.MessagePack, false}, {serializer.CBOR, true}} {
		t.Run(serializer.Subprotocol(tc.s, tc.batched), func(t *testing.T) {
			p := dial(t, url, DialOptions{Serializer: tc.s, Batched: tc.batched})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var sent []*spec.Publish
			for i, n := range []int{1, 100, 126, 1000, 65535, 65536, 100_000} {
				m := &spec.Publish{Request: spec.ID(i + 1), Options: spec.Dict{}, Topic: "t", Arguments: spec.List{strings.Repeat("x", n)}}
				frame, err := tc.s.Encode(nil, m)
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Send(frame); err != nil {
					t.Fatal(err)
				}
				sent = append(sent, m)
			}
			for _, want := range sent {
				m, err := p.Recv(ctx)
				if err != nil {
					t.Fatalf("Recv: %v", err)
				}
				got, ok := m.(*spec.Publish)
				if !ok || got.Request != want.Request || len(got.Arguments) != 1 || got.Arguments[0] != want.Arguments[0] {
					t.Fatalf("echo of request %d came back as %v", want.Request, m)
				}
			}
			done, _ := tc.s.Encode(nil, &spec.Publish{Request: 99, Options: spec.Dict{}, Topic: "done"})
			if err := p.Send(done); err != nil {
				t.Fatal(err)
			}
			// The server pings, then closes once its Read returns: Recv
			// answers the ping and then sees the close.
			if _, err := p.Recv(ctx); !errors.Is(err, io.EOF) {
				t.Fatalf("Recv after the server closed: %v, want EOF", err)
			}
			select {
			case err := <-pinged:
				if err != nil {
					t.Fatalf("the server's ping got no pong: %v", err)
				}
			case <-ctx.Done():
				t.Fatal("the server never pinged")
			}
		})
	}
}

// rawServer accepts one connection on 127.0.0.1, answers its upgrade
// request with 101 and proto, and hands the connection to serve.
func rawServer(t *testing.T, proto string, serve func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Errorf("upgrade request: %v", err)
			return
		}
		if _, err := c.Write(appendUpgradeResponse(nil, req.Header.Get("Sec-WebSocket-Key"), proto)); err != nil {
			return
		}
		serve(c, br)
	}()
	return "ws://" + ln.Addr().String() + "/"
}

// readClientFrame reads one frame a client sent, which must be masked,
// and returns its first byte, its masking key and its unmasked payload.
func readClientFrame(br *bufio.Reader) (byte, [4]byte, []byte, error) {
	var key [4]byte
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, key, nil, err
	}
	if h[1]&maskBit == 0 {
		return h[0], key, nil, errors.New("unmasked client frame")
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, key, nil, err
		}
		n = int(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, key, nil, err
		}
		n = int(binary.BigEndian.Uint64(b[:]))
	}
	if _, err := io.ReadFull(br, key[:]); err != nil {
		return 0, key, nil, err
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		return 0, key, nil, err
	}
	for i := range p {
		p[i] ^= key[i%4]
	}
	return h[0], key, p, nil
}

// TestClientMasksEveryFrame: every frame the client sends is masked, each
// with a key of its own, and the payload unmasks to what was sent.
func TestClientMasksEveryFrame(t *testing.T) {
	const n = 40
	type result struct {
		keys     map[[4]byte]bool
		payloads [][]byte
		err      error
	}
	res := make(chan result, 1)
	url := rawServer(t, "wamp.2.msgpack", func(c net.Conn, br *bufio.Reader) {
		r := result{keys: map[[4]byte]bool{}}
		defer func() { res <- r }()
		for range n {
			first, key, p, err := readClientFrame(br)
			if err != nil {
				r.err = err
				return
			}
			if first != finBit|opBinary {
				r.err = errors.New("not a final binary frame")
				return
			}
			r.keys[key] = true
			r.payloads = append(r.payloads, p)
		}
	})
	p := dial(t, url, DialOptions{Serializer: serializer.MessagePack})
	go p.Recv(context.Background()) // reads the close handshake at the end
	var want [][]byte
	for i := range n {
		frame, _ := serializer.MessagePack.Encode(nil, &spec.Publish{Request: spec.ID(i + 1), Options: spec.Dict{}, Topic: "t", Arguments: spec.List{strings.Repeat("y", i*50)}})
		want = append(want, frame)
		if err := p.Send(frame); err != nil {
			t.Fatal(err)
		}
	}
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	for i := range want {
		if !bytes.Equal(r.payloads[i], want[i]) {
			t.Fatalf("frame %d unmasks to %x, sent %x", i, r.payloads[i], want[i])
		}
	}
	if len(r.keys) != n {
		t.Errorf("%d frames used %d masking keys", n, len(r.keys))
	}
}

// TestClientRefusesMaskedServerFrame: a server's frame must not be masked
// (RFC 6455, section 5.1); the client fails the connection with a masked
// close frame of status 1002, and Recv returns the violation.
func TestClientRefusesMaskedServerFrame(t *testing.T) {
	closed := make(chan []byte, 1)
	url := rawServer(t, "wamp.2.json", func(c net.Conn, br *bufio.Reader) {
		c.Write(frame(finBit|opText, []byte(`[6,{},"wamp.close.normal"]`))) // masked, as only a client may
		for {
			first, _, p, err := readClientFrame(br)
			if err != nil {
				closed <- nil
				return
			}
			if first == finBit|opClose {
				closed <- p
				return
			}
		}
	})
	p := dial(t, url, DialOptions{Serializer: serializer.JSON})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.Recv(ctx); err == nil || !strings.Contains(err.Error(), "masked server frame") {
		t.Fatalf("Recv: %v, want the masked frame refused", err)
	}
	got := <-closed
	if len(got) < 2 || binary.BigEndian.Uint16(got) != statusProtocolError {
		t.Fatalf("close frame payload %q, want status 1002", got)
	}
}

// mute listens on 127.0.0.1 and accepts one connection, never answering:
// the connection arrives on the channel (closed after it, or when the
// listener closes at the end of the test).
func mute(t *testing.T) (string, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	return "ws://" + ln.Addr().String() + "/", accepted
}

// TestDialContextBoundsHandshake: a server that accepts the connection but
// never answers the upgrade cannot hold Dial past its context.
func TestDialContextBoundsHandshake(t *testing.T) {
	url, accepted := mute(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, url, DialOptions{Options: transport.Options{Logger: quiet}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial: %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Dial returned after %v", d)
	}
	if c := <-accepted; c != nil {
		c.Close()
	}
}

// TestDialCancelBeforeAnswer: cancelling the context (no deadline) ends a
// handshake the server never answers.
func TestDialCancelBeforeAnswer(t *testing.T) {
	url, accepted := mute(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := Dial(ctx, url, DialOptions{Options: transport.Options{Logger: quiet}})
		errc <- err
	}()
	c := <-accepted
	if c != nil {
		defer c.Close()
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Dial: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Dial did not return after its context was cancelled")
	}
}
