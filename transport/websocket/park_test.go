package websocket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
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

// parkServer serves every peer with a resumable echo loop that allows
// parking, as the router does: a parked reader's goroutine returns, and
// the loop goes on in the goroutine the peer resumes it on.
type parkServer struct {
	*Handler
	addr  string
	errc  chan error
	parks atomic.Int64 // times a reader parked
	ended atomic.Int64 // loops that saw the end of their peer
	peers chan transport.Peer
}

type echoLoop struct {
	ps  *parkServer
	p   transport.Peer
	ctx context.Context
}

func (e *echoLoop) loop() {
	for {
		m, err := e.p.Recv(e.ctx)
		if err == transport.ErrParked {
			e.ps.parks.Add(1)
			return
		}
		if err != nil {
			e.p.Close("echo over")
			e.ps.ended.Add(1)
			return
		}
		frame, err := e.p.Serializer().Encode(nil, m)
		if err != nil {
			panic(err)
		}
		e.p.Send(frame)
	}
}

func newParkServer(opts ServerOptions) *parkServer {
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	if opts.ParkIdle == 0 {
		opts.ParkIdle = parkPeriod
	}
	ps := &parkServer{errc: make(chan error, 1), peers: make(chan transport.Peer, 1000)}
	ps.Handler = NewHandler(transport.HandlerFunc(func(ctx context.Context, p transport.Peer) {
		e := &echoLoop{ps: ps, p: p, ctx: ctx}
		p.(transport.Parker).ResumeWith(e.loop)
		ps.peers <- p
		e.loop()
	}), opts)
	return ps
}

func startParkServer(t *testing.T, network string, opts ServerOptions) *parkServer {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = t.TempDir() + "/ws.sock"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	ps := newParkServer(opts)
	ps.addr = ln.Addr().String()
	hs := &http.Server{Handler: ps.Handler}
	go func() { ps.errc <- ps.Serve(ln, hs) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ps.Close()
		ps.Shutdown(ctx)
		ln.Close()
		<-ps.errc
	})
	return ps
}

// dialPark upgrades a bare connection to the parkServer at addr
// (wamp.2.json) and returns a hand-made client of it.
func dialPark(t *testing.T, network, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte(strings.Replace(upgradeHead, "%s", "localhost", 1))); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return &rawClient{t: t, c: c, br: br}
}

// pubFrame returns a masked text frame of a JSON PUBLISH carrying seq and
// pad bytes of padding.
func pubFrame(t testing.TB, seq, pad int) []byte {
	t.Helper()
	return frame(finBit|opText, pubJSON(t, seq, pad))
}

func pubJSON(t testing.TB, seq, pad int) []byte {
	t.Helper()
	m := &spec.Publish{Request: spec.ID(seq + 1), Options: spec.Dict{}, Topic: "t", Arguments: spec.List{int64(seq), strings.Repeat("x", pad)}}
	b, err := serializer.JSON.Encode(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readEcho reads data frames up to the next one and checks that it is
// the echo of seq.
func readEcho(rc *rawClient, seq int) error {
	for {
		op, payload, err := rc.next()
		if err != nil {
			return fmt.Errorf("echo %d: %w", seq, err)
		}
		if op == finBit|opPing {
			continue // a keepalive's
		}
		if op != finBit|opText {
			return fmt.Errorf("echo %d: frame %#x", seq, op)
		}
		m, err := serializer.JSON.Decode(payload)
		if err != nil {
			return fmt.Errorf("echo %d: %w", seq, err)
		}
		pub, ok := m.(*spec.Publish)
		if !ok || len(pub.Arguments) != 2 {
			return fmt.Errorf("echo %d: got %#v", seq, m)
		}
		if got := fmt.Sprint(pub.Arguments[0]); got != fmt.Sprint(seq) {
			return fmt.Errorf("echo: got message %s, want %d (lost or reordered)", got, seq)
		}
		return nil
	}
}

func expectEcho(t testing.TB, rc *rawClient, seq int) {
	t.Helper()
	if err := readEcho(rc, seq); err != nil {
		t.Fatal(err)
	}
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

func (ps *parkServer) waitParked(t testing.TB, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d connections are parked", n), func() bool { return ps.Parked() == n })
}

// parkingSupported reports whether this platform parks; elsewhere the
// tests check that nothing parks.
func parkingSupported(t *testing.T) bool {
	if runtime.GOOS == "linux" {
		return true
	}
	ps := startParkServer(t, "tcp", ServerOptions{})
	rc := dialPark(t, "tcp", ps.addr)
	time.Sleep(10 * parkPeriod)
	if ps.Parked() != 0 || ps.parks.Load() != 0 {
		t.Fatal("parked on a platform without a poller")
	}
	rc.c.Write(pubFrame(t, 0, 1))
	expectEcho(t, rc, 0)
	return false
}

// TestParkWakeKeepsEveryByte splits frames at every byte boundary around
// a park: the first part is written to a parked connection (which wakes),
// the reader is kicked again while the frame, or the fragmented message,
// is incomplete, then the rest arrives. Every message must come back
// whole and in order, over TCP and a Unix socket, for frames read in the
// read buffer and one larger than it, for a message in two fragments with
// a ping between them, and for frames sent with the upgrade request.
func TestParkWakeKeepsEveryByte(t *testing.T) {
	if !parkingSupported(t) {
		return
	}
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			ps := startParkServer(t, network, ServerOptions{})
			rc := dialPark(t, network, ps.addr)
			seq := 0
			type input struct {
				b     []byte
				split int
			}
			var inputs []input
			small := pubFrame(t, 0, 8)
			for k := 1; k < len(small); k++ {
				inputs = append(inputs, input{nil, k})
			}
			bigLen := len(pubFrame(t, 0, 3000))
			for _, k := range []int{1, 2, 3, 4, 6, 8, 100, 511, 512, 513, 2000, bigLen - 1} {
				inputs = append(inputs, input{[]byte("big"), k})
			}
			// A message in two fragments with a ping between them, split
			// between the fragments and inside the ping.
			for _, k := range []int{-1, -2, -3} {
				inputs = append(inputs, input{[]byte("frag"), k})
			}
			var parks int64
			for _, in := range inputs {
				var msg []byte
				k := in.split
				switch string(in.b) {
				case "":
					msg = pubFrame(t, seq, 8)
				case "big":
					msg = pubFrame(t, seq, 3000)
				case "frag":
					j := pubJSON(t, seq, 40)
					first := frame(opText, j[:10])
					ping := frame(finBit|opPing, []byte("hi"))
					msg = append(append(first, ping...), frame(finBit|opContinuation, j[10:])...)
					switch k {
					case -1:
						k = len(first)
					case -2:
						k = len(first) + 1
					case -3:
						k = len(first) + len(ping)
					}
				}
				waitFor(t, "the connection parked", func() bool { return ps.parks.Load() > parks && ps.Parked() == 1 })
				parks = ps.parks.Load()
				if _, err := rc.c.Write(msg[:k]); err != nil {
					t.Fatal(err)
				}
				// Woken, the reader blocks inside the message; give the
				// sweeper time to kick it there more than once.
				waitFor(t, "the connection woke", func() bool { return ps.Parked() == 0 })
				time.Sleep(4 * parkPeriod)
				if ps.parks.Load() != parks {
					t.Fatalf("split at %d/%d (%s): parked with a partial message", k, len(msg), in.b)
				}
				if _, err := rc.c.Write(msg[k:]); err != nil {
					t.Fatal(err)
				}
				if string(in.b) == "frag" {
					op, p, err := rc.next()
					if err != nil || op != finBit|opPong || string(p) != "hi" {
						t.Fatalf("pong: %#x %q %v", op, p, err)
					}
				}
				expectEcho(t, rc, seq)
				seq++
			}
			// Two messages in one write, straight after a park.
			ps.waitParked(t, 1)
			two := append(pubFrame(t, seq, 10), pubFrame(t, seq+1, 2000)...)
			if _, err := rc.c.Write(two); err != nil {
				t.Fatal(err)
			}
			expectEcho(t, rc, seq)
			expectEcho(t, rc, seq+1)
			if ps.parks.Load() < int64(len(inputs)) {
				t.Fatalf("parked %d times over %d inputs", ps.parks.Load(), len(inputs))
			}
		})
	}
}

// TestParkEarlyFrames: frames sent in the same write as the upgrade
// request (read past the request head) are read before the connection
// parks, and it parks afterwards.
func TestParkEarlyFrames(t *testing.T) {
	if !parkingSupported(t) {
		return
	}
	ps := startParkServer(t, "tcp", ServerOptions{})
	c, err := net.Dial("tcp", ps.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := []byte(strings.Replace(upgradeHead, "%s", "localhost", 1))
	for i := range 3 {
		req = append(req, pubFrame(t, i, 300)...)
	}
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	rc := &rawClient{t: t, c: c, br: br}
	for i := range 3 {
		expectEcho(t, rc, i)
	}
	ps.waitParked(t, 1)
	rc.c.Write(pubFrame(t, 3, 1))
	expectEcho(t, rc, 3)
}

// TestParkedAnswersPing: a parked connection wakes for a ping, answers it
// with its payload, and parks again.
func TestParkedAnswersPing(t *testing.T) {
	if !parkingSupported(t) {
		return
	}
	ps := startParkServer(t, "tcp", ServerOptions{})
	rc := dialPark(t, "tcp", ps.addr)
	for i := range 3 {
		ps.waitParked(t, 1)
		payload := []byte{'p', byte(i)}
		if _, err := rc.c.Write(frame(finBit|opPing, payload)); err != nil {
			t.Fatal(err)
		}
		op, got, err := rc.next()
		if err != nil || op != finBit|opPong || string(got) != string(payload) {
			t.Fatalf("pong: %#x %q %v", op, got, err)
		}
	}
}

// TestParkedKeepalive: the keepalive pings a parked connection; a client
// that answers stays (its pong wakes the reader, which hands it to the
// ping), one that does not is failed and its handler sees the end.
func TestParkedKeepalive(t *testing.T) {
	if !parkingSupported(t) {
		return
	}
	ps := startParkServer(t, "tcp", ServerOptions{Options: transport.Options{PingInterval: 80 * time.Millisecond, PongTimeout: 300 * time.Millisecond}})
	answers := dialPark(t, "tcp", ps.addr)
	silent := dialPark(t, "tcp", ps.addr)
	ps.waitParked(t, 2)
	// The answering client answers every ping until at least three came
	// and the silent one's handler saw its end.
	silentEnded := make(chan error, 1)
	go func() {
		for {
			op, _, err := silent.next()
			if err != nil {
				silentEnded <- err
				return
			}
			if op != finBit|opPing {
				silentEnded <- fmt.Errorf("silent client got frame %#x", op)
				return
			}
		}
	}()
	pings := 0
	for pings < 3 || ps.ended.Load() == 0 {
		op, payload, err := answers.next()
		if err != nil || op != finBit|opPing {
			t.Fatalf("want a ping, got %#x, %v (after %d pings)", op, err, pings)
		}
		pings++
		if _, err := answers.c.Write(frame(finBit|opPong, payload)); err != nil {
			t.Fatal(err)
		}
	}
	// The silent one was closed after its ping went unanswered.
	if err := <-silentEnded; !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("silent client: %v, want the end", err)
	}
	if ps.ended.Load() != 1 {
		t.Fatalf("%d handlers ended, want 1", ps.ended.Load())
	}
	answers.c.Write(pubFrame(t, 7, 1))
	for {
		op, payload, err := answers.next()
		if err != nil {
			t.Fatal(err)
		}
		if op == finBit|opPing {
			answers.c.Write(frame(finBit|opPong, payload))
			continue
		}
		if op != finBit|opText || !strings.Contains(string(payload), "[7,") {
			t.Fatalf("got %#x %q, want the echo", op, payload)
		}
		break
	}
	if ps.parks.Load() < 3 {
		t.Fatalf("only %d parks", ps.parks.Load())
	}
}

// TestParkedClosedCleanly: a parked connection closed by the server (its
// handler's Close, with the close handshake), hung up by the client, or
// failed (Handler.Close) ends, and the resumed handler sees the end each
// time.
func TestParkedClosedCleanly(t *testing.T) {
	if !parkingSupported(t) {
		return
	}
	ps := startParkServer(t, "tcp", ServerOptions{})
	closed := dialPark(t, "tcp", ps.addr)
	pClosed := <-ps.peers
	hungUp := dialPark(t, "tcp", ps.addr)
	<-ps.peers
	silentClose := dialPark(t, "tcp", ps.addr)
	pSilent := <-ps.peers
	ps.waitParked(t, 3)

	// Close while parked: the close frame goes out; the client's answer
	// wakes the reader, which completes the handshake.
	pClosed.Close("bye")
	if code := closed.closeCode(); code != statusNormal {
		t.Fatalf("close code %d", code)
	}
	closed.send(frame(finBit|opClose, closePayload(statusNormal, "")))
	waitDone(t, pClosed)
	waitFor(t, "the closed peer's handler ended", func() bool { return ps.ended.Load() == 1 })

	hungUp.c.Close()
	waitFor(t, "the hung-up peer's handler ended", func() bool { return ps.ended.Load() == 2 })

	// Close while parked, and the client never answers: the close
	// timeout closes the descriptor, after taking it back from the poller.
	pSilent.Close("bye")
	if code := silentClose.closeCode(); code != statusNormal {
		t.Fatalf("close code %d", code)
	}
	waitDone(t, pSilent)
	waitFor(t, "the silently closed peer's handler ended", func() bool { return ps.ended.Load() == 3 })
	if ps.Parked() != 0 {
		t.Fatalf("%d still parked", ps.Parked())
	}

	failed := dialPark(t, "tcp", ps.addr)
	<-ps.peers
	ps.waitParked(t, 1)
	ps.Close() // fails every peer at once
	for {
		if _, _, err := failed.next(); err != nil {
			break
		}
	}
	waitFor(t, "the failed peer's handler ended", func() bool { return ps.ended.Load() == 4 })
}

// TestShutdownEndsParked: parked connections hold no goroutine and no
// read buffer; Shutdown ends them (their handlers close them when they see
// the end) and the sweeper and poller goroutines with them.
func TestShutdownEndsParked(t *testing.T) {
	if !parkingSupported(t) {
		return
	}
	before := runtime.NumGoroutine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ps := newParkServer(ServerOptions{Options: transport.Options{CloseTimeout: 200 * time.Millisecond}})
	hs := &http.Server{Handler: ps.Handler}
	go func() { ps.errc <- ps.Serve(ln, hs) }()
	const n = 20
	var clients []*rawClient
	var peers []transport.Peer
	for range n {
		clients = append(clients, dialPark(t, "tcp", ln.Addr().String()))
		peers = append(peers, <-ps.peers)
	}
	ps.waitParked(t, n)
	// Parked, the connections hold no goroutine: only the accept loop,
	// net/http's plain listener, the sweeper and the poller run (and the
	// clients are bare sockets).
	if g := runtime.NumGoroutine(); g > before+4 {
		t.Errorf("%d goroutines with %d parked connections, %d before", g, n, before)
	}
	for _, p := range peers {
		sc := p.(*peer).c
		sc.pk.mu.Lock()
		held := sc.br != nil
		sc.pk.mu.Unlock()
		if held {
			t.Fatal("a parked connection holds its read buffer")
		}
	}
	// As the router does: end each session, then shut the handler down.
	// Half the clients answer the close handshake, half do not.
	for i, p := range peers {
		p.Close("shutdown")
		if i%2 == 0 {
			clients[i].send(frame(finBit|opClose, closePayload(statusNormal, "")))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ps.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	hs.Shutdown(ctx)
	ln.Close()
	<-ps.errc
	waitFor(t, "every handler saw the end", func() bool { return ps.ended.Load() == n })
	waitFor(t, "the goroutines ended", func() bool { return runtime.NumGoroutine() <= before })
}

// TestManyParkAndWake: many connections park and wake at random moments,
// concurrently (run it under -race); every message comes back in order.
func TestManyParkAndWake(t *testing.T) {
	if !parkingSupported(t) {
		return
	}
	ps := startParkServer(t, "tcp", ServerOptions{ParkIdle: 2 * time.Millisecond})
	const clients, rounds = 40, 12
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		rc := dialPark(t, "tcp", ps.addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			seq := 0
			for range rounds {
				// A burst of messages (some fragmented, with pings) in
				// random pieces, then a pause long enough to park (or not).
				var burst []byte
				first := seq
				for range 1 + r.IntN(4) {
					j := pubJSON(t, seq, r.IntN(1200))
					if r.IntN(2) == 0 {
						burst = append(burst, frame(finBit|opText, j)...)
					} else {
						k := r.IntN(len(j))
						burst = append(burst, frame(opText, j[:k])...)
						burst = append(burst, frame(finBit|opPing, nil)...)
						burst = append(burst, frame(finBit|opContinuation, j[k:])...)
					}
					seq++
				}
				for len(burst) > 0 {
					k := min(len(burst), 1+r.IntN(700))
					if _, err := rc.c.Write(burst[:k]); err != nil {
						errs <- err
						return
					}
					burst = burst[k:]
					if r.IntN(3) == 0 {
						time.Sleep(time.Duration(r.IntN(8)) * time.Millisecond)
					}
				}
				for s := first; s < seq; s++ {
					if err := readEchoSkippingPongs(rc, s); err != nil {
						errs <- fmt.Errorf("client %d: %w", i, err)
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
	if ps.parks.Load() < clients {
		t.Errorf("only %d parks over %d clients", ps.parks.Load(), clients)
	}
}

// readEchoSkippingPongs is readEcho for a client that pinged: pongs are
// skipped.
func readEchoSkippingPongs(rc *rawClient, seq int) error {
	for {
		b, err := rc.br.Peek(1)
		if err != nil {
			return err
		}
		if b[0] != finBit|opPong {
			return readEcho(rc, seq)
		}
		if _, _, err := rc.next(); err != nil {
			return err
		}
	}
}

// A wake-up counts as input: the sweep that follows it must leave the
// resumed reader alone until it has read what woke it.
func TestWakeCountsAsInput(t *testing.T) {
	var c wsConn
	resumed := make(chan struct{})
	c.pk.resume = func() { close(resumed) }
	c.Quiet() // what the sweep that parked it saw
	c.wake()
	<-resumed
	if c.Quiet() {
		t.Fatal("the sweep after a wake-up finds the connection quiet")
	}
	if !c.Quiet() {
		t.Fatal("a second sweep without a frame finds the connection busy")
	}
}
