package rawsocket

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/leakcheck"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// quiet is a logger that drops everything, to keep test output readable.
var quiet = slog.New(slog.DiscardHandler)

// testServer runs a Server on 127.0.0.1:0 whose handler hands every peer to
// the test through peers and serves it until the peer is done.
type testServer struct {
	*Server
	addr  string
	peers chan transport.Peer
	errc  chan error
	mu    sync.Mutex
	seen  []transport.Peer
}

func startServer(t *testing.T, opts ServerOptions) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, ln, opts)
}

func serveOn(t *testing.T, ln net.Listener, opts ServerOptions) *testServer {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	ts := &testServer{addr: ln.Addr().String(), peers: make(chan transport.Peer, 16), errc: make(chan error, 1)}
	ts.Server = NewServer(transport.HandlerFunc(func(ctx context.Context, p transport.Peer) {
		ts.mu.Lock()
		ts.seen = append(ts.seen, p)
		ts.mu.Unlock()
		ts.peers <- p
		<-p.Done()
	}), opts)
	go func() { ts.errc <- ts.Serve(ln) }()
	t.Cleanup(func() {
		// The tests' peers may have nobody reading them, so nothing would
		// notice their clients leave: close them.
		ts.mu.Lock()
		for _, p := range ts.seen {
			p.Close("test over")
		}
		ts.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ts.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-ts.errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

func (ts *testServer) peer(t *testing.T) transport.Peer {
	t.Helper()
	select {
	case p := <-ts.peers:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no peer reached the handler")
		return nil
	}
}

// rawConn dials the test server without any client logic.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// rawHandshake sends req and returns the 4 reply octets (n < 4 if the
// server closed first).
func rawHandshake(t *testing.T, c net.Conn, req [4]byte) (rep [4]byte, n int) {
	t.Helper()
	if _, err := c.Write(req[:]); err != nil {
		t.Fatal(err)
	}
	n, _ = io.ReadFull(c, rep[:])
	return rep, n
}

func frameBytes(typ byte, payload []byte) []byte {
	b := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(b, uint32(len(payload)))
	b[0] = typ
	return append(b, payload...)
}

// readRawFrame reads one frame from a raw client connection.
func readRawFrame(t *testing.T, br *bufio.Reader) (typ byte, payload []byte) {
	t.Helper()
	var h [4]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatalf("read frame header: %v", err)
	}
	n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	if h[0]&0x08 != 0 {
		n = MaxFrameSize
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		t.Fatalf("read frame payload (%d bytes): %v", n, err)
	}
	return h[0], payload
}

func encode(t testing.TB, s serializer.Serializer, m spec.Message) []byte {
	t.Helper()
	b, err := s.Encode(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func recvMsg(t testing.TB, p transport.Peer) spec.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := p.Recv(ctx)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return m
}

func waitDone(t testing.TB, p transport.Peer) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("peer not Done within 5s")
	}
}

// expectClosed waits until the server closes c (a read returns EOF or an
// error other than a timeout).
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1024)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("connection still open after 5s")
		}
		return
	}
}

func dial(t *testing.T, network, addr string, opts DialOptions) transport.Peer {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := Dial(ctx, network, addr, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { p.Close("test over"); <-p.Done() })
	return p
}

var hello1 = &spec.Hello{Realm: "realm1", Details: spec.Dict{"roles": spec.Dict{"subscriber": spec.Dict{}}}}

// drain reads p in the background until it fails, as a session would;
// only a reading peer notices that the other end went away, and answers
// PINGs.
func drain(p transport.Peer) {
	go func() {
		for {
			if _, err := p.Recv(context.Background()); err != nil {
				return
			}
		}
	}()
}
