package websocket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/idle"
	"github.com/switchyard/switchyard/transport/internal/bufpool"
)

// bytesConn is a net.Conn reading from a fixed input and discarding what
// is written: the fuzzers feed it untrusted bytes.
type bytesConn struct {
	r      io.Reader
	closed atomic.Bool
}

func (c *bytesConn) Read(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	return c.r.Read(p)
}
func (c *bytesConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *bytesConn) Close() error                     { c.closed.Store(true); return nil }
func (c *bytesConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *bytesConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9} }
func (c *bytesConn) SetDeadline(time.Time) error      { return nil }
func (c *bytesConn) SetReadDeadline(time.Time) error  { return nil }
func (c *bytesConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzReadFrames feeds arbitrary bytes to the server's frame reader:
// fragments, control frames, close payloads. It must never panic, return
// a message above the limit, or a text message that is not UTF-8 without
// an error.
func FuzzReadFrames(f *testing.F) {
	f.Add(frame(finBit|opText, []byte(`[1,"realm1",{}]`)))
	f.Add(append(frame(opBinary, []byte{1, 2}), append(frame(finBit|opPing, []byte("p")), frame(finBit|opContinuation, []byte{3})...)...))
	f.Add(frame(finBit|opClose, closePayload(1000, "bye")))
	f.Add(frame(finBit|opClose, []byte{3}))
	f.Add(frame(opText, []byte{0xe2, 0x82}))
	f.Add([]byte{finBit | opText, 127, 0xff, 0, 0, 0, 0, 0, 0, 0})
	f.Add(frame(finBit|opText, make([]byte, 300)))
	fuzzFrameReader(f, false)
}

// serverFrame is one unmasked frame, as a server sends it.
func serverFrame(first byte, payload []byte) []byte {
	b := appendFrameHeader(nil, 0, len(payload))
	b[0] = first
	return append(b, payload...)
}

// FuzzClientReadFrames feeds arbitrary bytes to the client's frame reader
// (the same reader, expecting unmasked frames). The same rules hold.
func FuzzClientReadFrames(f *testing.F) {
	f.Add(serverFrame(finBit|opText, []byte(`[2,1,{}]`)))
	f.Add(append(serverFrame(opBinary, []byte{1, 2}), append(serverFrame(finBit|opPing, []byte("p")), serverFrame(finBit|opContinuation, []byte{3})...)...))
	f.Add(serverFrame(finBit|opClose, closePayload(1001, "going away")))
	f.Add(frame(finBit|opText, []byte(`[2,1,{}]`))) // masked: refused
	f.Add(serverFrame(finBit|opBinary, make([]byte, 70000)))
	fuzzFrameReader(f, true)
}

// fuzzFrameReader fuzzes one side's frame reader: it must never panic,
// return a message above the limit, or fail with anything but a protocol
// violation, a close frame or the end of the input.
func fuzzFrameReader(f *testing.F, client bool) {
	const limit = 256
	f.Fuzz(func(t *testing.T, in []byte) {
		nc := &bytesConn{r: bytes.NewReader(in)}
		c := newConn(nc, nil, newWire(nc, time.Second), limit, client)
		for range 64 {
			bp, err := c.readMessage()
			if err != nil {
				var fe *frameError
				var ce *closeError
				if !errors.As(err, &fe) && !errors.As(err, &ce) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if len(*bp) > limit {
				t.Fatalf("message of %d bytes above the limit", len(*bp))
			}
		}
	})
}

// FuzzOpeningHandshake feeds arbitrary router answers to the client's
// opening handshake: it must never panic, and it may succeed only with the
// subprotocol offered.
func FuzzOpeningHandshake(f *testing.F) {
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nnope!"))
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Protocol: wamp.2.cbor\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 503 x\r\n\r\n"))
	u, _ := url.ParseRequestURI("ws://127.0.0.1:1/ws")
	f.Fuzz(func(t *testing.T, in []byte) {
		nc := &bytesConn{r: bytes.NewReader(in)}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := openingHandshake(ctx, nc, u, "wamp.2.json", nil); err == nil && !bytes.Contains(in, []byte("wamp.2.json")) {
			t.Fatalf("handshake accepted without the subprotocol: %q", in)
		}
	})
}

// FuzzUpgradeHead feeds arbitrary request heads to Serve's connection
// path: the head reader, the upgrade check and gobwas/ws's upgrade, then
// (when it upgrades) a session reading the rest. It must never panic,
// and every session must end.
func FuzzUpgradeHead(f *testing.F) {
	f.Add([]byte(upgradeHead))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: chat, wamp.2.cbor\r\nOrigin: http://a.example\r\n\r\n\x81\x80abcd"))
	f.Add([]byte("GET /ws HTTP/1.0\r\nUpgrade: WebSocket\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		hd := NewHandler(transport.HandlerFunc(func(ctx context.Context, p transport.Peer) {
			p.Recv(ctx)
		}), ServerOptions{Options: transport.Options{Logger: quiet}, OriginPatterns: []string{"*.example"}})
		c := &bytesConn{r: bytes.NewReader(in)}
		switch pc, session := hd.serveConn(c, time.Second); {
		case pc != nil:
			io.Copy(io.Discard, pc) // what net/http would read
		case session != nil:
			go session()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hd.Shutdown(ctx); err != nil {
			t.Fatalf("a session did not end: %v", err)
		}
	})
}

// kickConn reads its input in small pieces and, on the reads kicks
// selects, plays the idle sweeper: it asks the connection to park (as
// wsConn.Park does) and fails the read with a deadline error. As the
// sweeper, which kicks once a period, it never kicks twice in a row.
type kickConn struct {
	bytesConn
	sc     *wsConn
	kicks  uint64
	reads  int
	kicked bool
}

func (c *kickConn) Read(p []byte) (int, error) {
	c.reads++
	if c.kicked = !c.kicked && c.kicks&(1<<(c.reads%64)) != 0; c.kicked {
		c.sc.pk.mu.Lock()
		c.sc.pk.want = true
		c.sc.pk.mu.Unlock()
		return 0, os.ErrDeadlineExceeded
	}
	return c.bytesConn.Read(p[:min(len(p), 1+c.reads%7)])
}

// readAll reads messages until an error and describes what it read.
func readAll(c *wsConn, parked func()) []string {
	var out []string
	for range 64 {
		bp, err := c.readMessage()
		if err == errParkNow {
			parked()
			continue
		}
		if err != nil {
			var fe *frameError
			var ce *closeError
			switch {
			case errors.As(err, &fe):
				out = append(out, fmt.Sprintf("frame error %d", fe.code))
			case errors.As(err, &ce):
				out = append(out, fmt.Sprintf("close %d %q", ce.code, ce.reason))
			default:
				out = append(out, err.Error())
			}
			return out
		}
		out = append(out, string(*bp))
		bufpool.Put(bp)
	}
	return out
}

// FuzzReadFramesKicked reads arbitrary input twice: plainly, and in small
// pieces with the idle sweeper's kicks at the reads chosen by kicks,
// parking (the read buffer given back) whenever the reader says it may.
// Both must read the same messages and end the same way: a kick never
// loses or reorders a byte, and the reader parks only between frames
// with nothing buffered.
func FuzzReadFramesKicked(f *testing.F) {
	f.Add(frame(finBit|opText, []byte(`[1,"realm1",{}]`)), uint64(0b1011))
	f.Add(append(frame(opBinary, []byte{1, 2}), append(frame(finBit|opPing, []byte("p")), frame(finBit|opContinuation, []byte{3})...)...), uint64(0xAAAA))
	f.Add(append(frame(finBit|opText, make([]byte, 700)), frame(finBit|opClose, closePayload(1000, "bye"))...), ^uint64(0)>>1)
	f.Add(frame(finBit|opText, []byte{0xe2, 0x82}), uint64(0x5555))
	const limit = 1024
	f.Fuzz(func(t *testing.T, in []byte, kicks uint64) {
		ref := &bytesConn{r: bytes.NewReader(in)}
		want := readAll(newConn(ref, nil, newWire(ref, time.Second), limit, false), func() { t.Fatal("parked without a kick") })

		kc := &kickConn{bytesConn: bytesConn{r: bytes.NewReader(in)}, kicks: kicks}
		c := newConn(kc, nil, newWire(kc, time.Second), limit, false)
		kc.sc = c
		c.pk.group = idle.NewGroup(time.Hour) // never started: only canPark matters
		c.pk.resume = func() {}
		got := readAll(c, func() {
			if c.br.Buffered() > 0 || len(c.pre) > 0 {
				t.Fatal("parked with input buffered")
			}
			c.br.Reset(nil)
			readers.Put(c.br)
			c.br = nil
		})
		if len(got) != len(want) {
			t.Fatalf("kicked read %d results, plain %d:\n%q\n%q", len(got), len(want), got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("result %d: kicked %q, plain %q", i, got[i], want[i])
			}
		}
	})
}
