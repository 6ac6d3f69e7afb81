package websocket

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// countConn is a net.Conn that keeps what is written, counting the writes.
type countConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
	buf    bytes.Buffer
}

func (c *countConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.buf.Write(p)
}

func (c *countConn) SetWriteDeadline(time.Time) error { return nil }

// discardConn is a net.Conn whose writes go nowhere.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

// parseFrames splits a stream of unmasked, final server frames.
func parseFrames(t *testing.T, b []byte) (ops []byte, payloads [][]byte) {
	t.Helper()
	for len(b) > 0 {
		if len(b) < 2 || b[0]&finBit == 0 || b[1]&0x80 != 0 {
			t.Fatalf("bad frame head % x", b[:min(len(b), 2)])
		}
		op, n, h := b[0]&0x0f, int(b[1]), 2
		switch n {
		case 126:
			n, h = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			n, h = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		if len(b) < h+n {
			t.Fatalf("frame of %d bytes cut at %d", n, len(b)-h)
		}
		ops = append(ops, op)
		payloads = append(payloads, b[h:h+n])
		b = b[h+n:]
	}
	return ops, payloads
}

// TestWriteFramesCoalesces: the frames queued for a server connection go
// out in one write, each framed with the shortest length encoding.
func TestWriteFramesCoalesces(t *testing.T) {
	cc := &countConn{}
	p := &peer{wire: newWire(cc, time.Second), op: opText}
	var frames [][]byte
	for i, n := range []int{1, 125, 126, 300, 1000, 65535 - writeBufferSize, 5} {
		if n > writeBufferSize {
			continue
		}
		frames = append(frames, bytes.Repeat([]byte{byte('a' + i)}, n))
	}
	for range 50 {
		frames = append(frames, []byte(`[36,1,2,{},["x"]]`))
	}
	sent, err := p.writeFrames(frames)
	if err != nil {
		t.Fatal(err)
	}
	total, payload := 0, 0
	for _, f := range frames {
		total += len(f) + 4
		payload += len(f)
	}
	if sent != payload {
		t.Errorf("writeFrames reported %d payload bytes sent, want %d", sent, payload)
	}
	if want := (total + writeBufferSize - 1) / writeBufferSize; cc.writes > want {
		t.Errorf("%d frames took %d writes, want at most %d", len(frames), cc.writes, want)
	}
	ops, got := parseFrames(t, cc.buf.Bytes())
	if len(got) != len(frames) {
		t.Fatalf("%d frames written, want %d", len(got), len(frames))
	}
	for i := range got {
		if ops[i] != opText || !bytes.Equal(got[i], frames[i]) {
			t.Fatalf("frame %d: op %d, %d bytes; want text, %d bytes", i, ops[i], len(got[i]), len(frames[i]))
		}
	}
}

// TestWriteFramesLengths: every length encoding, and messages larger than
// the write buffer, reach a standard WebSocket client intact and in order,
// while the client pings (coder/websocket answers with pongs through the same
// wire, which must not land inside a data frame).
func TestWriteFramesLengths(t *testing.T) {
	ts := startServer(t, ServerOptions{Options: transport.Options{MaxMessageSize: 1 << 20, QueueMaxBytes: 64 << 20}}, nil)
	c := rawDial(t, ts.url, "wamp.2.msgpack")
	c.SetReadLimit(1 << 20)
	sp := ts.peer(t)
	drain(sp) // the server's reader answers the client's pings
	sizes := []int{1, 125, 126, 127, 65535, 65536, 70000, writeBufferSize - maxClientFrameHeader, writeBufferSize, 3, 200000}
	var want [][]byte
	for round := range 20 {
		for i, n := range sizes {
			f := bytes.Repeat([]byte{byte(round*len(sizes) + i)}, n)
			want = append(want, f)
			if err := sp.Send(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pingErr := make(chan error, 1)
	var got [][]byte
	go func() {
		// Pings need a reader running: the data reads below.
		for range 20 {
			if err := c.Ping(ctx); err != nil {
				pingErr <- err
				return
			}
		}
		pingErr <- nil
	}()
	for range want {
		typ, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read after %d messages: %v", len(got), err)
		}
		if typ != ws.MessageBinary {
			t.Fatalf("message type %v, want binary", typ)
		}
		got = append(got, b)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("message %d: %d bytes, want %d (first byte %d, want %d)", i, len(got[i]), len(want[i]), got[i][0], want[i][0])
		}
	}
	// Keep reading so the last pongs are seen.
	go func() {
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()
	if err := <-pingErr; err != nil {
		t.Fatalf("ping while data flowed: %v", err)
	}
}

// TestWriteFramesDoesNotAllocate guards the zero-allocation delivery: framing
// and writing a batch of queued events costs no allocation.
func TestWriteFramesDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers; run without -race")
	}
	p := &peer{wire: newWire(discardConn{}, time.Second), op: opBinary}
	frames := eventFrames(t, 16)
	big := [][]byte{make([]byte, 3*writeBufferSize)}
	p.writeFrames(frames) // warm the pool
	if n := testing.AllocsPerRun(100, func() {
		p.writeFrames(frames)
		p.writeFrames(big)
	}); n != 0 {
		t.Errorf("writeFrames allocates %.1f times per batch, want 0", n)
	}
}

func eventFrames(t testing.TB, n int) [][]byte {
	f := encode(t, serializer.MessagePack, &spec.Event{Subscription: 1, Publication: 2, Details: spec.Dict{}, Arguments: spec.List{"hello", int64(42)}})
	frames := make([][]byte, n)
	for i := range frames {
		frames[i] = f
	}
	return frames
}

// BenchmarkWriteFrames is the server writer's cost per delivered event,
// framing included, in batches of 1 and 16 (a fan-out's writer finds a few
// events queued per wake-up).
func BenchmarkWriteFrames(b *testing.B) {
	for _, n := range []int{1, 16} {
		b.Run(map[int]string{1: "batch1", 16: "batch16"}[n], func(b *testing.B) {
			p := &peer{wire: newWire(discardConn{}, time.Second), op: opBinary}
			frames := eventFrames(b, n)
			b.ReportAllocs()
			b.SetBytes(int64(n * len(frames[0])))
			for range b.N {
				if _, err := p.writeFrames(frames); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestUpgradePrimesWriteDeadline: the write deadline is armed by the
// goroutine that upgraded the connection, before the peer writes anything,
// so the writer goroutine (fresh stack) does not set it on its first flush.
func TestUpgradePrimesWriteDeadline(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	rawDial(t, ts.url, "wamp.2.json")
	w := ts.peer(t).(*peer).wire
	w.mu.Lock()
	deadline := w.deadline
	w.mu.Unlock()
	if left := time.Until(deadline); left <= 0 {
		t.Fatalf("write deadline %v before the first write, want one armed", deadline)
	}
}
