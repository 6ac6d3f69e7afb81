package rawsocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/internal/testcert"
)

func TestHandshakeErrors(t *testing.T) {
	ts := startServer(t, ServerOptions{Serializers: []serializer.Serializer{serializer.JSON, serializer.CBOR}})
	cases := []struct {
		name string
		req  [4]byte
		want []byte // nil: closed without a reply
	}{
		{"bad magic", [4]byte{'G', 'E', 'T', ' '}, nil},
		{"bad magic 0x7E", [4]byte{0x7E, 0xF1, 0, 0}, nil},
		{"serializer 0 (illegal)", [4]byte{magic, 0xF0, 0, 0}, []byte{magic, 0x10, 0, 0}},
		{"serializer not offered (msgpack)", [4]byte{magic, 0xF2, 0, 0}, []byte{magic, 0x10, 0, 0}},
		{"serializer unknown (9)", [4]byte{magic, 0xF9, 0, 0}, []byte{magic, 0x10, 0, 0}},
		{"reserved octet 3", [4]byte{magic, 0xF1, 1, 0}, []byte{magic, 0x30, 0, 0}},
		{"reserved octet 4", [4]byte{magic, 0xF1, 0, 0x80}, []byte{magic, 0x30, 0, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := rawConn(t, ts.addr)
			rep, n := rawHandshake(t, c, tc.req)
			if tc.want == nil {
				if n != 0 {
					t.Fatalf("got reply % x, want the connection closed without one", rep[:n])
				}
				return
			}
			if n != 4 || !bytes.Equal(rep[:], tc.want) {
				t.Fatalf("reply % x, want % x", rep[:n], tc.want)
			}
			expectClosed(t, c)
		})
	}
}

func TestHandshakeConnectionLimit(t *testing.T) {
	ts := startServer(t, ServerOptions{MaxConns: 1})
	first := dial(t, "tcp", ts.addr, DialOptions{})
	sp := ts.peer(t)
	drain(sp)

	c := rawConn(t, ts.addr)
	rep, n := rawHandshake(t, c, [4]byte{magic, 0xF1, 0, 0})
	if n != 4 || rep != [4]byte{magic, 0x40, 0, 0} {
		t.Fatalf("reply % x, want error 4", rep[:n])
	}
	expectClosed(t, c)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, "tcp", ts.addr, DialOptions{Options: transport.Options{Logger: quiet}})
	var he *HandshakeError
	if !errors.As(err, &he) || he.Code != CodeMaxConnections {
		t.Fatalf("Dial past the limit: got %v, want HandshakeError code 4", err)
	}

	// The slot is free again once the first session ends.
	first.Close("done")
	waitDone(t, sp)
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := Dial(ctx, "tcp", ts.addr, DialOptions{Options: transport.Options{Logger: quiet}})
		if err == nil {
			ts.peer(t)
			p.Close("")
			<-p.Done()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not released: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDialHandshakeErrorCodes(t *testing.T) {
	for code := ErrorCode(1); code <= 5; code++ {
		t.Run(code.String(), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				var req [4]byte
				io.ReadFull(c, req[:])
				rep := refusal(code)
				c.Write(rep[:])
			}()
			defer wg.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = Dial(ctx, "tcp", ln.Addr().String(), DialOptions{Serializer: serializer.MessagePack})
			var he *HandshakeError
			if !errors.As(err, &he) || he.Code != code {
				t.Fatalf("got %v, want HandshakeError{%d}", err, code)
			}
		})
	}
}

func TestHandshakeTimeout(t *testing.T) {
	ts := startServer(t, ServerOptions{HandshakeTimeout: 50 * time.Millisecond})
	c := rawConn(t, ts.addr)
	c.Write([]byte{magic, 0xF1}) // half a handshake, then silence
	expectClosed(t, c)
}

func TestMaxLengthNegotiation(t *testing.T) {
	// The server accepts up to 1 KiB (+ a bit: it announces the largest
	// power of two not above its limit); the client accepts 512 B.
	ts := startServer(t, ServerOptions{Options: transport.Options{MaxMessageSize: 1500}})
	cp := dial(t, "tcp", ts.addr, DialOptions{Options: transport.Options{MaxMessageSize: 512}})
	sp := ts.peer(t)

	if ci, si := cp.Info(), sp.Info(); ci.MaxSend != 1024 || ci.MaxRecv != 512 || si.MaxSend != 512 || si.MaxRecv != 1024 {
		t.Fatalf("client Info %+v, server Info %+v", ci, si)
	}
	if err := sp.Send(make([]byte, 513)); !errors.Is(err, transport.ErrFrameTooLarge) {
		t.Fatalf("server Send above the client's limit: %v", err)
	}
	if err := cp.Send(make([]byte, 1025)); !errors.Is(err, transport.ErrFrameTooLarge) {
		t.Fatalf("client Send above the server's limit: %v", err)
	}
	// Both stay open and usable, right up to the limits.
	ev := encode(t, serializer.JSON, &spec.Event{Subscription: 1, Publication: 2, Details: spec.Dict{}, Arguments: spec.List{string(bytes.Repeat([]byte("x"), 400))}})
	if err := sp.Send(ev); err != nil {
		t.Fatal(err)
	}
	if _, ok := recvMsg(t, cp).(*spec.Event); !ok {
		t.Fatal("no EVENT")
	}
	if err := cp.Send(encode(t, serializer.JSON, hello1)); err != nil {
		t.Fatal(err)
	}
	if _, ok := recvMsg(t, sp).(*spec.Hello); !ok {
		t.Fatal("no HELLO")
	}
}

func TestLengthExp(t *testing.T) {
	for _, tc := range []struct{ limit, l int }{
		{0, 0}, {100, 0}, {512, 0}, {1023, 0}, {1024, 1}, {1 << 20, 11}, {16 << 20, 15}, {1 << 30, 15},
	} {
		if got := lengthExp(tc.limit); int(got) != tc.l {
			t.Errorf("lengthExp(%d) = %d, want %d", tc.limit, got, tc.l)
		}
	}
}

// connected performs a successful raw handshake (JSON, client accepts
// 16 MiB) and returns the connection, its reader, and the server's peer.
func connected(t *testing.T, ts *testServer) (net.Conn, *bufio.Reader, transport.Peer) {
	t.Helper()
	c := rawConn(t, ts.addr)
	rep, n := rawHandshake(t, c, [4]byte{magic, 0xF1, 0, 0})
	if n != 4 || rep[1]&0x0F != 1 {
		t.Fatalf("handshake reply % x", rep[:n])
	}
	return c, bufio.NewReader(c), ts.peer(t)
}

func TestIncomingFrameViolations(t *testing.T) {
	ts := startServer(t, ServerOptions{Options: transport.Options{MaxMessageSize: 1024}})
	cases := []struct {
		name  string
		bytes []byte
		check func(error) bool
	}{
		{"oversize", []byte{0, 0, 0x08, 0x00}, func(err error) bool { var e *errFrameTooLarge; return errors.As(err, &e) }},
		{"oversize 2^24 via X bit", []byte{0x08, 0, 0, 0}, func(err error) bool { var e *errFrameTooLarge; return errors.As(err, &e) }},
		{"X bit with length", []byte{0x08, 0, 0, 1, 'x'}, isFrameError},
		{"reserved bits", frameBytes(0x10, []byte("[]")), isFrameError},
		{"reserved type 3", frameBytes(3, []byte("[]")), isFrameError},
		{"reserved type 7", frameBytes(7, nil), isFrameError},
		{"truncated", append([]byte{0, 0, 0, 100}, bytes.Repeat([]byte{'x'}, 50)...), func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		{"truncated header", []byte{0, 0}, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, sp := connected(t, ts)
			c.Write(tc.bytes)
			if tc.name == "truncated" || tc.name == "truncated header" {
				c.(*net.TCPConn).CloseWrite()
			}
			_, err := sp.Recv(context.Background())
			if err == nil || !tc.check(err) {
				t.Fatalf("Recv: %v", err)
			}
			var pe *spec.ProtocolError
			if errors.As(err, &pe) {
				t.Fatalf("a framing error must not look like a decode error: %v", err)
			}
			if _, err2 := sp.Recv(context.Background()); err2 == nil {
				t.Fatal("the error must be sticky")
			}
			waitDone(t, sp)
			if tc.name != "truncated" && tc.name != "truncated header" {
				expectClosed(t, c)
			}
		})
	}
}

func isFrameError(err error) bool { var e *FrameError; return errors.As(err, &e) }

func TestDecodeErrorKeepsConnection(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	c, br, sp := connected(t, ts)
	c.Write(frameBytes(frameMessage, []byte(`{"hello":1}`)))
	c.Write(frameBytes(frameMessage, encode(t, serializer.JSON, hello1)))
	_, err := sp.Recv(context.Background())
	var pe *spec.ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a *spec.ProtocolError", err)
	}
	// The router can still send ABORT, and read on.
	abort := encode(t, serializer.JSON, &spec.Abort{Details: spec.Dict{}, Reason: "wamp.error.protocol_violation"})
	if err := sp.Send(abort); err != nil {
		t.Fatal(err)
	}
	if _, ok := recvMsg(t, sp).(*spec.Hello); !ok {
		t.Fatal("next message lost")
	}
	typ, got := readRawFrame(t, br)
	if typ != frameMessage || !bytes.Equal(got, abort) {
		t.Fatalf("got frame type %d %q", typ, got)
	}
}

func TestPingAnsweredWithPong(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	c, br, sp := connected(t, ts)
	drain(sp) // the session's reader loop is what answers PINGs
	for _, payload := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte{0xAB}, 70000)} {
		c.Write(frameBytes(framePing, payload))
		typ, got := readRawFrame(t, br)
		if typ != framePong || !bytes.Equal(got, payload) {
			t.Fatalf("got type %d with %d bytes, want PONG echoing %d bytes", typ, len(got), len(payload))
		}
	}
}

// TestPongNotInterleaved sends PINGs while the router writes large
// messages: every frame the client reads must be whole, and every PONG
// must echo its PING.
func TestPongNotInterleaved(t *testing.T) {
	ts := startServer(t, ServerOptions{Options: transport.Options{QueueMaxBytes: 64 << 20}})
	c, br, sp := connected(t, ts)
	drain(sp)
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	const rounds = 20
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range rounds {
			if err := sp.Send(big); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range rounds {
			c.Write(frameBytes(framePing, []byte("ping-"+strconv.Itoa(i))))
			time.Sleep(time.Millisecond)
		}
	}()
	msgs, pongs := 0, 0
	for msgs < rounds || pongs < rounds {
		typ, got := readRawFrame(t, br)
		switch typ {
		case frameMessage:
			if !bytes.Equal(got, big) {
				t.Fatalf("message %d corrupted", msgs)
			}
			msgs++
		case framePong:
			if want := "ping-" + strconv.Itoa(pongs); string(got) != want {
				t.Fatalf("PONG %q, want %q", got, want)
			}
			pongs++
		default:
			t.Fatalf("unexpected frame type %d", typ)
		}
	}
	wg.Wait()
}

func TestKeepaliveClosesSilentPeer(t *testing.T) {
	ts := startServer(t, ServerOptions{Options: transport.Options{PingInterval: 30 * time.Millisecond, PongTimeout: 30 * time.Millisecond}})
	c, br, sp := connected(t, ts)
	drain(sp)
	typ, _ := readRawFrame(t, br)
	if typ != framePing {
		t.Fatalf("got frame type %d, want a keepalive PING", typ)
	}
	// Not answering: the server gives up.
	waitDone(t, sp)
	expectClosed(t, c)
}

func TestKeepaliveAnsweredStaysOpen(t *testing.T) {
	ka := transport.Options{PingInterval: 20 * time.Millisecond, PongTimeout: 40 * time.Millisecond}
	ts := startServer(t, ServerOptions{Options: ka})
	cp := dial(t, "tcp", ts.addr, DialOptions{Options: ka})
	sp := ts.peer(t)
	drain(cp)
	drain(sp)
	time.Sleep(300 * time.Millisecond) // many intervals, all silent but for PING/PONG
	select {
	case <-sp.Done():
		t.Fatal("server closed a peer that answers PINGs")
	case <-cp.Done():
		t.Fatal("client closed a router that answers PINGs")
	default:
	}
}

func TestCloseFlushesQueue(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	cp := dial(t, "tcp", ts.addr, DialOptions{})
	sp := ts.peer(t)
	const n = 2000
	for i := range n {
		if err := sp.Send(encode(t, serializer.JSON, &spec.Published{Request: spec.ID(i + 1), Publication: 1})); err != nil {
			t.Fatal(err)
		}
	}
	sp.Close("bye")
	if err := sp.Send([]byte("[]")); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	for i := range n {
		if m := recvMsg(t, cp); m.(*spec.Published).Request != spec.ID(i+1) {
			t.Fatalf("message %d out of order", i)
		}
	}
	_, err := cp.Recv(context.Background())
	if !errors.Is(err, io.EOF) {
		t.Fatalf("after the flush: %v, want io.EOF", err)
	}
	waitDone(t, sp)
	waitDone(t, cp)
}

func TestSlowConsumer(t *testing.T) {
	ts := startServer(t, ServerOptions{Options: transport.Options{QueueMaxBytes: 64 << 10, WriteTimeout: time.Minute}})
	_, _, sp := connected(t, ts) // the client never reads
	frame := make([]byte, 16<<10)
	var err error
	for i := 0; i < 100000 && err == nil; i++ {
		err = sp.Send(frame)
	}
	if !errors.Is(err, transport.ErrSlowConsumer) {
		t.Fatalf("got %v, want ErrSlowConsumer", err)
	}
	waitDone(t, sp)
	if _, err := sp.Recv(context.Background()); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Recv after slow consumer: %v", err)
	}
}

func TestWriteTimeout(t *testing.T) {
	ts := startServer(t, ServerOptions{Options: transport.Options{WriteTimeout: 50 * time.Millisecond}})
	_, _, sp := connected(t, ts) // the client never reads
	frame := make([]byte, 1<<20)
	for range 3 {
		if err := sp.Send(frame); err != nil {
			break
		}
	}
	// Eventually the socket buffers fill and a write stalls past the timeout.
	for i := 0; i < 50; i++ {
		select {
		case <-sp.Done():
			return
		case <-time.After(100 * time.Millisecond):
			sp.Send(frame)
		}
	}
	t.Fatal("a stalled writer did not close the peer")
}

func TestRecvContextInterrupt(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	cp := dial(t, "tcp", ts.addr, DialOptions{})
	sp := ts.peer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := sp.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	// Reading is over, but the router can still say ABORT.
	abort := encode(t, serializer.JSON, &spec.Abort{Details: spec.Dict{}, Reason: "wamp.error.timeout"})
	if err := sp.Send(abort); err != nil {
		t.Fatal(err)
	}
	if _, ok := recvMsg(t, cp).(*spec.Abort); !ok {
		t.Fatal("no ABORT")
	}
	if _, err := sp.Recv(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("sticky: got %v", err)
	}
}

// TestRecvContextReuse checks that a context cancelled between two Recv
// calls (the router's HELLO timeout, cancelled after HELLO arrived) does
// not disturb the next Recv.
func TestRecvContextReuse(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	cp := dial(t, "tcp", ts.addr, DialOptions{})
	sp := ts.peer(t)
	hctx, cancel := context.WithTimeout(context.Background(), time.Second)
	cp.Send(encode(t, serializer.JSON, hello1))
	if _, err := sp.Recv(hctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	time.Sleep(10 * time.Millisecond)
	go func() {
		time.Sleep(20 * time.Millisecond)
		cp.Send(encode(t, serializer.JSON, hello1))
	}()
	if _, err := sp.Recv(context.Background()); err != nil {
		t.Fatalf("Recv after an earlier context ended: %v", err)
	}
}

func TestRoundTripNetworks(t *testing.T) {
	pair := testcert.New(t)
	type setup struct {
		name    string
		listen  func(t *testing.T) net.Listener
		network string
		tls     *tls.Config
	}
	setups := []setup{
		{"tcp", func(t *testing.T) net.Listener { return listen(t, "tcp", "127.0.0.1:0") }, "tcp", nil},
		{"unix", func(t *testing.T) net.Listener { return listen(t, "unix", filepath.Join(t.TempDir(), "ws.sock")) }, "unix", nil},
		{"tls", func(t *testing.T) net.Listener {
			return tls.NewListener(listen(t, "tcp", "127.0.0.1:0"), &tls.Config{Certificates: []tls.Certificate{pair.Cert}})
		}, "tcp", pair.ClientConfig()},
	}
	for _, su := range setups {
		for _, s := range serializer.All() {
			t.Run(su.name+"/"+s.Name(), func(t *testing.T) {
				ts := serveOn(t, su.listen(t), ServerOptions{})
				cp := dial(t, su.network, ts.addr, DialOptions{Serializer: s, TLSConfig: su.tls})
				sp := ts.peer(t)
				if err := cp.Send(encode(t, s, hello1)); err != nil {
					t.Fatal(err)
				}
				if h, ok := recvMsg(t, sp).(*spec.Hello); !ok || h.Realm != "realm1" {
					t.Fatalf("got %#v", h)
				}
				if err := sp.Send(encode(t, s, &spec.Welcome{Session: 9, Details: spec.Dict{}})); err != nil {
					t.Fatal(err)
				}
				if w, ok := recvMsg(t, cp).(*spec.Welcome); !ok || w.Session != 9 {
					t.Fatalf("got %#v", w)
				}
				si := sp.Info()
				if si.Transport != "rawsocket" || si.Protocol != "wamp.2."+s.Name() || si.TLS != (su.tls != nil) || si.RemoteAddr == "" {
					t.Fatalf("server Info %+v", si)
				}
				if cp.Serializer() != s || sp.Serializer().Name() != s.Name() {
					t.Fatal("serializer mismatch")
				}
			})
		}
	}
}

func listen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestShutdown(t *testing.T) {
	ln := listen(t, "tcp", "127.0.0.1:0")
	peers := make(chan transport.Peer, 1)
	srv := NewServer(transport.HandlerFunc(func(ctx context.Context, p transport.Peer) {
		peers <- p
		for {
			if _, err := p.Recv(ctx); err != nil {
				return
			}
		}
	}), ServerOptions{Options: transport.Options{Logger: quiet}})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	cp := dial(t, "tcp", ln.Addr().String(), DialOptions{})
	drain(cp)
	<-peers

	// A session that never ends holds Shutdown until its deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	// Past the deadline, connections are closed.
	waitDone(t, cp)
	// New connections are refused.
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Fatal("listener still open")
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := srv.Shutdown(ctx2); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestServeConnAfterShutdown(t *testing.T) {
	srv := NewServer(transport.HandlerFunc(func(context.Context, transport.Peer) { t.Error("handler called") }), ServerOptions{})
	srv.Shutdown(context.Background())
	a, b := net.Pipe()
	defer b.Close()
	srv.ServeConn(a) // returns at once, closing a
	if _, err := a.Write([]byte{1}); err == nil {
		t.Fatal("conn not closed")
	}
}

// TestPeerOverNetPipe drives ServeConn and the client handshake over an
// in-memory net.Pipe.
func TestPeerOverNetPipe(t *testing.T) {
	cp, sp, cleanup := pipePair(t, serializer.MessagePack, transport.Options{})
	defer cleanup()
	cp.Send(encode(t, serializer.MessagePack, hello1))
	if _, ok := recvMsg(t, sp).(*spec.Hello); !ok {
		t.Fatal("no HELLO")
	}
}

func pipePair(t testing.TB, s serializer.Serializer, opts transport.Options) (client, server transport.Peer, cleanup func()) {
	opts.Logger = quiet
	opts = opts.WithDefaults()
	a, b := net.Pipe()
	peers := make(chan transport.Peer, 1)
	srv := NewServer(transport.HandlerFunc(func(ctx context.Context, p transport.Peer) {
		peers <- p
		<-p.Done()
	}), ServerOptions{Options: opts})
	done := make(chan struct{})
	go func() { defer close(done); srv.ServeConn(b) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cp, err := clientHandshake(ctx, a, s, serializer.RawSocketID(s), opts)
	if err != nil {
		t.Fatal(err)
	}
	sp := <-peers
	return cp, sp, func() {
		cp.Close("")
		<-cp.Done()
		sp.Close("")
		<-done
	}
}
