package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport/idle"
)

// BenchmarkIdleSessionMemory guards the memory an idle session costs the
// router: it opens sessions (HELLO → WELCOME) from bare sockets, so that
// almost all the memory measured is the router's, and reports the live heap
// and goroutine stacks per session after a collection. It opens at most
// 2,000 sessions whatever b.N (both ends of each connection are in this
// process); `switchyard bench idle` measures resident memory at scale.
//
// Idle RawSocket sessions are parked (no reader goroutine, no read buffer):
// the benchmark waits for them to park and fails if any goroutine per
// session remains, which is what keeps their stack cost at zero.
func BenchmarkIdleSessionMemory(b *testing.B) {
	ir, err := StartRouter(context.Background(), RouterOptions{WebSocket: true, ParkIdle: 20 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ir.Shutdown(ctx)
	}()
	hello, err := serializer.MessagePack.Encode(nil, &spec.Hello{Realm: "realm1", Details: spec.Dict{"roles": spec.Dict{"subscriber": spec.Dict{}, "caller": spec.Dict{}}}})
	if err != nil {
		b.Fatal(err)
	}
	rs, _ := url.Parse(ir.RawSocketURL())
	ws, _ := url.Parse(ir.WebSocketURL())
	for _, tc := range []struct {
		name   string
		open   func(testing.TB) net.Conn
		parks  bool
		parked func() int
	}{
		{"rawsocket", func(tb testing.TB) net.Conn { return openRawSocket(tb, rs.Host, hello) }, idle.Supported(), ir.ParkedRawSocket},
		{"websocket", func(tb testing.TB) net.Conn { return openWebSocket(tb, ws.Host, ws.Path, hello) }, idle.Supported(), ir.ParkedWebSocket},
	} {
		b.Run(tc.name, func(b *testing.B) {
			n := min(b.N, 2000)
			conns := make([]net.Conn, 0, n)
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			before := liveBytes()
			goroutines := runtime.NumGoroutine()
			for range n {
				conns = append(conns, tc.open(b))
			}
			time.Sleep(100 * time.Millisecond) // the handshake goroutines end
			if tc.parks {
				deadline := time.Now().Add(10 * time.Second)
				for tc.parked() < n {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d idle sessions parked", tc.parked(), n)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			heap, stack := liveBytes2()
			perSession := float64(runtime.NumGoroutine()-goroutines) / float64(n)
			b.ReportMetric(float64(heap-before.heap)/float64(n), "heap-B/session")
			b.ReportMetric(float64(stack-before.stack)/float64(n), "stack-B/session")
			b.ReportMetric(perSession, "goroutines/session")
			// Parked sessions hold no goroutine; the sweeper and the poller
			// are two for the whole server.
			if tc.parks && runtime.NumGoroutine()-goroutines > 2 {
				b.Fatalf("%d goroutines for %d parked sessions, want at most 2 in all", runtime.NumGoroutine()-goroutines, n)
			}
		})
	}
}

type live struct{ heap, stack int64 }

func liveBytes() live {
	h, s := liveBytes2()
	return live{h, s}
}

func liveBytes2() (heap, stack int64) {
	// Two collections: the first frees the stacks of ended goroutines,
	// the second the stack spans they leave empty.
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc), int64(ms.StackInuse)
}

// openRawSocket opens a RawSocket/msgpack session and reads its WELCOME.
func openRawSocket(tb testing.TB, addr string, hello []byte) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var hs [4]byte
	if _, err := c.Write([]byte{0x7F, 0xF2, 0, 0}); err != nil {
		tb.Fatal(err)
	}
	if _, err := io.ReadFull(c, hs[:]); err != nil || hs[1]&0x0F != 2 {
		tb.Fatalf("rawsocket handshake: % x, %v", hs, err)
	}
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(hello)))
	if _, err := c.Write(append(frame, hello...)); err != nil {
		tb.Fatal(err)
	}
	if _, err := io.ReadFull(c, hs[:]); err != nil {
		tb.Fatal(err)
	}
	welcome := make([]byte, int(hs[1])<<16|int(hs[2])<<8|int(hs[3]))
	if _, err := io.ReadFull(c, welcome); err != nil {
		tb.Fatal(err)
	}
	expectWelcome(tb, welcome)
	c.SetDeadline(time.Time{})
	return c
}

// openWebSocket opens a WebSocket/msgpack session and reads its WELCOME.
func openWebSocket(tb testing.TB, addr, path string, hello []byte) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if path == "" {
		path = "/"
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.msgpack\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		tb.Fatal(err)
	}
	br := bufio.NewReader(c)
	status, err := br.ReadString('\n')
	if err != nil || !bytes.HasPrefix([]byte(status), []byte("HTTP/1.1 101")) {
		tb.Fatalf("upgrade: %q, %v", status, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			tb.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	// A masked binary frame; the mask key 0 leaves the payload as it is.
	frame := []byte{0x82, 0x80 | byte(len(hello)), 0, 0, 0, 0}
	if len(hello) >= 126 {
		frame = append([]byte{0x82, 0x80 | 126, byte(len(hello) >> 8), byte(len(hello))}, 0, 0, 0, 0)
	}
	if _, err := c.Write(append(frame, hello...)); err != nil {
		tb.Fatal(err)
	}
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		tb.Fatal(err)
	}
	n := int(h[1] & 0x7F)
	if n == 126 {
		var ext [2]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			tb.Fatal(err)
		}
		n = int(binary.BigEndian.Uint16(ext[:]))
	}
	welcome := make([]byte, n)
	if _, err := io.ReadFull(br, welcome); err != nil {
		tb.Fatal(err)
	}
	expectWelcome(tb, welcome)
	c.SetDeadline(time.Time{})
	return c
}

func expectWelcome(tb testing.TB, b []byte) {
	m, err := serializer.MessagePack.Decode(b)
	if err != nil {
		tb.Fatal(err)
	}
	if _, ok := m.(*spec.Welcome); !ok {
		tb.Fatalf("got %T, want WELCOME", m)
	}
}
