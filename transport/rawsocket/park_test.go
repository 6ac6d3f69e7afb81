package rawsocket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// parkPeriod is the sweep period of the parking tests: short, so that a
// connection parks within a few tens of milliseconds.
const parkPeriod = 10 * time.Millisecond

// echoServer serves every peer with a resumable echo loop that allows
// parking, as the router does: a parked reader's goroutine returns, and
// the loop goes on in the goroutine the peer resumes it on.
type echoServer struct {
	*Server
	addr  string
	errc  chan error
	parks atomic.Int64 // times a reader parked
	ended atomic.Int64 // loops that saw the end of their peer
	peers chan transport.Peer
}

type echoConn struct {
	es  *echoServer
	p   transport.Peer
	ctx context.Context
}

func (e *echoConn) loop() {
	for {
		m, err := e.p.Recv(e.ctx)
		if err == transport.ErrParked {
			e.es.parks.Add(1)
			return
		}
		if err != nil {
			e.p.Close("echo over")
			e.es.ended.Add(1)
			return
		}
		frame, err := e.p.Serializer().Encode(nil, m)
		if err != nil {
			panic(err)
		}
		e.p.Send(frame)
	}
}

func startEcho(t *testing.T, network string, opts ServerOptions) *echoServer {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = t.TempDir() + "/echo.sock"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	if opts.ParkIdle == 0 {
		opts.ParkIdle = parkPeriod
	}
	es := &echoServer{addr: ln.Addr().String(), errc: make(chan error, 1), peers: make(chan transport.Peer, 1000)}
	es.Server = NewServer(transport.HandlerFunc(func(ctx context.Context, p transport.Peer) {
		e := &echoConn{es: es, p: p, ctx: ctx}
		p.(transport.Parker).ResumeWith(e.loop)
		es.peers <- p
		e.loop()
	}), opts)
	go func() { es.errc <- es.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		es.Close()
		es.Shutdown(ctx)
		if err := <-es.errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return es
}

// echoClient is a bare RawSocket client (JSON) of an echoServer.
type echoClient struct {
	c  net.Conn
	br *bufio.Reader
}

func dialEcho(t testing.TB, network, addr string) *echoClient {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte{magic, 0xF1, 0, 0}); err != nil {
		t.Fatal(err)
	}
	var rep [4]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil || rep[1]&0x0F != 1 {
		t.Fatalf("handshake: % x %v", rep, err)
	}
	return &echoClient{c: c, br: bufio.NewReader(c)}
}

// message returns a JSON PUBLISH frame carrying seq and pad bytes of
// padding.
func message(t testing.TB, seq int, pad int) []byte {
	t.Helper()
	m := &spec.Publish{Request: spec.ID(seq + 1), Options: spec.Dict{}, Topic: "t", Arguments: spec.List{int64(seq), strings.Repeat("x", pad)}}
	b, err := serializer.JSON.Encode(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return frameBytes(frameMessage, b)
}

// expectEcho reads one frame and checks that it is the echo of seq.
func (ec *echoClient) expectEcho(t testing.TB, seq int) {
	t.Helper()
	typ, payload, err := readFrame(ec.br)
	if err != nil {
		t.Fatalf("echo %d: %v", seq, err)
	}
	if typ != frameMessage {
		t.Fatalf("echo %d: frame type %d", seq, typ)
	}
	m, err := serializer.JSON.Decode(payload)
	if err != nil {
		t.Fatalf("echo %d: %v", seq, err)
	}
	pub, ok := m.(*spec.Publish)
	if !ok || len(pub.Arguments) != 2 {
		t.Fatalf("echo %d: got %#v", seq, m)
	}
	if got, _ := pub.Arguments[0].(int64); got != int64(seq) {
		if u, ok := pub.Arguments[0].(uint64); !ok || u != uint64(seq) {
			t.Fatalf("echo: got message %v, want %d (lost or reordered)", pub.Arguments[0], seq)
		}
	}
}

func readFrame(br *bufio.Reader) (byte, []byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	payload := make([]byte, int(h[1])<<16|int(h[2])<<8|int(h[3]))
	_, err := io.ReadFull(br, payload)
	return h[0] & 0x07, payload, err
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (es *echoServer) waitParked(t testing.TB, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d connections are parked", n), func() bool { return es.Parked() == n })
}

// TestParkWakeKeepsEveryByte splits frames at every byte boundary around a
// park: the first part is written to a parked connection (which wakes),
// the reader is kicked again while the frame is incomplete, then the rest
// arrives. Every frame must come back whole and in order, over TCP and a
// Unix socket, for a frame read in place and one larger than the read
// buffer.
func TestParkWakeKeepsEveryByte(t *testing.T) {
	if !parkingSupported(t) {
		return
	}
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			es := startEcho(t, network, ServerOptions{})
			ec := dialEcho(t, network, es.addr)
			seq := 0
			small := message(t, 0, 8)
			splits := make([]int, 0, len(small))
			for k := 1; k < len(small); k++ {
				splits = append(splits, k)
			}
			big := len(message(t, 0, 3000))
			for _, k := range []int{1, 2, 3, 4, 5, 100, 507, 508, 509, 512, 513, 2000, big - 1} {
				splits = append(splits, -k) // negative: split the large frame
			}
			var parks int64
			for _, k := range splits {
				pad := 8
				if k < 0 {
					pad, k = 3000, -k
				}
				frame := message(t, seq, pad)
				// Parked since the last frame (the handler counts a park
				// just after the poller has it).
				waitFor(t, "the connection parked", func() bool { return es.parks.Load() > parks && es.Parked() == 1 })
				parks = es.parks.Load()
				if _, err := ec.c.Write(frame[:k]); err != nil {
					t.Fatal(err)
				}
				// Woken, the reader blocks inside the frame; give the
				// sweeper time to kick it there at least once.
				waitFor(t, "the connection woke", func() bool { return es.Parked() == 0 })
				time.Sleep(4 * parkPeriod)
				if es.parks.Load() != parks {
					t.Fatalf("split at %d/%d: parked with a partial frame", k, len(frame))
				}
				if _, err := ec.c.Write(frame[k:]); err != nil {
					t.Fatal(err)
				}
				ec.expectEcho(t, seq)
				seq++
			}
			// Two frames in one write, and a frame straight after the park.
			es.waitParked(t, 1)
			two := append(message(t, seq, 10), message(t, seq+1, 2000)...)
			if _, err := ec.c.Write(two); err != nil {
				t.Fatal(err)
			}
			ec.expectEcho(t, seq)
			ec.expectEcho(t, seq+1)
			if es.parks.Load() < int64(len(splits)) {
				t.Fatalf("parked %d times over %d splits", es.parks.Load(), len(splits))
			}
		})
	}
}

// parkingSupported reports whether this platform parks; elsewhere the
// tests check that nothing parks.
func parkingSupported(t *testing.T) bool {
	if runtime.GOOS == "linux" {
		return true
	}
	es := startEcho(t, "tcp", ServerOptions{})
	ec := dialEcho(t, "tcp", es.addr)
	time.Sleep(10 * parkPeriod)
	if es.Parked() != 0 || es.parks.Load() != 0 {
		t.Fatal("parked on a platform without a poller")
	}
	ec.c.Write(message(t, 0, 1))
	ec.expectEcho(t, 0)
	return false
}

// TestParkedAnswersPing: a parked connection wakes for a PING and answers
// it, and parks again.
func TestParkedAnswersPing(t *testing.T) {
	if !parkingSupported(t) {
		return
	}
	es := startEcho(t, "tcp", ServerOptions{})
	ec := dialEcho(t, "tcp", es.addr)
	for i := range 3 {
		es.waitParked(t, 1)
		payload := []byte{'p', byte(i)}
		if _, err := ec.c.Write(frameBytes(framePing, payload)); err != nil {
			t.Fatal(err)
		}
		typ, got, err := readFrame(ec.br)
		if err != nil || typ != framePong || string(got) != string(payload) {
			t.Fatalf("PONG: type %d %q %v", typ, got, err)
		}
	}
}

// TestParkedKeepalive: the router's keepalive pings a parked connection;
// a client that answers stays, one that does not is closed and its
// handler sees the end.
func TestParkedKeepalive(t *testing.T) {
	if !parkingSupported(t) {
		return
	}
	es := startEcho(t, "tcp", ServerOptions{Options: transport.Options{PingInterval: 60 * time.Millisecond, PongTimeout: 100 * time.Millisecond}})
	answers := dialEcho(t, "tcp", es.addr)
	silent := dialEcho(t, "tcp", es.addr)
	es.waitParked(t, 2)
	for range 3 {
		typ, payload, err := readFrame(answers.br)
		if err != nil || typ != framePing {
			t.Fatalf("want PING, got type %d, %v", typ, err)
		}
		if _, err := answers.c.Write(frameBytes(framePong, payload)); err != nil {
			t.Fatal(err)
		}
	}
	// The silent one was closed after its PING went unanswered.
	silent.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		typ, _, err := readFrame(silent.br)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			t.Fatalf("silent client: %v, want EOF", err)
		}
		if typ != framePing {
			t.Fatalf("silent client got frame type %d", typ)
		}
	}
	waitFor(t, "the silent peer's handler ended", func() bool { return es.ended.Load() == 1 })
	answers.c.Write(message(t, 7, 1))
	answers.expectEcho(t, 7)
}

// TestParkedClosedCleanly: a parked connection closed by the server (its
// handler's Close), failed (server Close) or hung up by the client ends,
// and the resumed handler sees the end each time.
func TestParkedClosedCleanly(t *testing.T) {
	if !parkingSupported(t) {
		return
	}
	es := startEcho(t, "tcp", ServerOptions{})
	closed := dialEcho(t, "tcp", es.addr)
	pClosed := <-es.peers
	hungUp := dialEcho(t, "tcp", es.addr)
	<-es.peers
	es.waitParked(t, 2)

	pClosed.Close("bye")
	if _, _, err := readFrame(closed.br); !errors.Is(err, io.EOF) {
		t.Fatalf("closed while parked: %v, want EOF", err)
	}
	waitDone(t, pClosed)
	waitFor(t, "the closed peer's handler ended", func() bool { return es.ended.Load() == 1 })

	hungUp.c.Close()
	waitFor(t, "the hung-up peer's handler ended", func() bool { return es.ended.Load() == 2 })
	if es.Parked() != 0 {
		t.Fatalf("%d still parked", es.Parked())
	}

	failed := dialEcho(t, "tcp", es.addr)
	<-es.peers
	es.waitParked(t, 1)
	es.Close() // fails every peer at once
	if _, _, err := readFrame(failed.br); err == nil {
		t.Fatal("read after server Close succeeded")
	}
	waitFor(t, "the failed peer's handler ended", func() bool { return es.ended.Load() == 3 })
}

// TestShutdownEndsParked: parked connections hold no goroutine; Shutdown
// ends them (their handlers close them when they see the end) and the
// sweeper and poller goroutines with them.
func TestShutdownEndsParked(t *testing.T) {
	if !parkingSupported(t) {
		return
	}
	before := runtime.NumGoroutine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	es := &echoServer{errc: make(chan error, 1), peers: make(chan transport.Peer, 100)}
	var mu sync.Mutex
	var peers []transport.Peer
	es.Server = NewServer(transport.HandlerFunc(func(ctx context.Context, p transport.Peer) {
		mu.Lock()
		peers = append(peers, p)
		mu.Unlock()
		e := &echoConn{es: es, p: p, ctx: ctx}
		p.(transport.Parker).ResumeWith(e.loop)
		e.loop()
	}), ServerOptions{ParkIdle: parkPeriod, Options: transport.Options{Logger: quiet}})
	go func() { es.errc <- es.Serve(ln) }()
	const n = 20
	for range n {
		dialEcho(t, "tcp", ln.Addr().String())
	}
	es.waitParked(t, n)
	// Parked, the connections hold no goroutine: only the accept loop,
	// the sweeper and the poller run (and the clients are bare sockets).
	if g := runtime.NumGoroutine(); g > before+3 {
		t.Errorf("%d goroutines with %d parked connections, %d before", g, n, before)
	}
	// As the router does: end each session, then shut the server down.
	mu.Lock()
	for _, p := range peers {
		p.Close("shutdown")
	}
	mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := es.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-es.errc; err != nil {
		t.Fatal(err)
	}
	// The handlers of parked peers run on goroutines the peers resume
	// them on, which may still be on their way out when Shutdown sees the
	// last connection untracked: wait for all of them to see the end.
	waitFor(t, "every handler saw the end", func() bool { return es.ended.Load() == n })
	waitFor(t, "the goroutines ended", func() bool { return runtime.NumGoroutine() <= before })
}

// TestManyParkAndWake: many connections park and wake at random moments,
// concurrently (run it under -race); every message comes back in order.
func TestManyParkAndWake(t *testing.T) {
	if !parkingSupported(t) {
		return
	}
	es := startEcho(t, "tcp", ServerOptions{ParkIdle: 2 * time.Millisecond})
	const clients, rounds = 40, 12
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		ec := dialEcho(t, "tcp", es.addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			seq := 0
			for range rounds {
				// A burst of frames in random pieces, then a pause long
				// enough to park (or not).
				var burst []byte
				first := seq
				for range 1 + r.IntN(4) {
					burst = append(burst, message(t, seq, r.IntN(1200))...)
					seq++
				}
				for len(burst) > 0 {
					k := min(len(burst), 1+r.IntN(700))
					if _, err := ec.c.Write(burst[:k]); err != nil {
						errs <- err
						return
					}
					burst = burst[k:]
					if r.IntN(3) == 0 {
						time.Sleep(time.Duration(r.IntN(8)) * time.Millisecond)
					}
				}
				for s := first; s < seq; s++ {
					typ, payload, err := readFrame(ec.br)
					if err != nil || typ != frameMessage {
						errs <- fmt.Errorf("client %d: echo %d: type %d, %v", i, s, typ, err)
						return
					}
					m, err := serializer.JSON.Decode(payload)
					if err != nil {
						errs <- err
						return
					}
					if got := fmt.Sprint(m.(*spec.Publish).Arguments[0]); got != fmt.Sprint(s) {
						errs <- fmt.Errorf("client %d: got message %s, want %d", i, got, s)
						return
					}
				}
				time.Sleep(time.Duration(r.IntN(10)) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if es.parks.Load() < clients {
		t.Errorf("only %d parks over %d clients", es.parks.Load(), clients)
	}
}

// A wake-up counts as input: the sweep that follows it must leave the
// resumed reader alone until it has read what woke it. Otherwise, when the
// resumed goroutine is slow to start, the sweep kicks it before its first
// read and it parks again at once, the input still in the socket
// (TestParkWakeKeepsEveryByte saw that as "parked with a partial frame").
func TestWakeCountsAsInput(t *testing.T) {
	var p peer
	resumed := make(chan struct{})
	p.pk.resume = func() { close(resumed) }
	p.Quiet() // what the sweep that parked it saw
	p.wake()
	<-resumed
	if p.Quiet() {
		t.Fatal("the sweep after a wake-up finds the connection quiet")
	}
	if !p.Quiet() {
		t.Fatal("a second sweep without a frame finds the connection busy")
	}
}
