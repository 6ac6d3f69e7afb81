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
	"strings"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/internal/bufpool"
)

// rawClient is a hand-made WebSocket client: it sends whatever frames a
// test builds, valid or not, which no standard client would.
type rawClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

const upgradeHead = "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n"

// dialRaw upgrades a connection to ts, sending early (frames) in the same
// write as the request.
func dialRaw(t *testing.T, ts *testServer, early []byte) *rawClient {
	t.Helper()
	addr := strings.TrimPrefix(strings.TrimSuffix(ts.url, "/ws"), "ws://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req := strings.Replace(upgradeHead, "%s", addr, 1)
	if _, err := c.Write(append([]byte(req), early...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" ||
		resp.Header.Get("Sec-WebSocket-Protocol") != "wamp.2.json" {
		t.Fatalf("upgrade answered %d %v", resp.StatusCode, resp.Header)
	}
	return &rawClient{t: t, c: c, br: br}
}

// frame builds a masked client frame.
func frame(first byte, payload []byte) []byte {
	mask := [4]byte{1, 2, 3, 4}
	b := []byte{first}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

func (rc *rawClient) send(frames ...[]byte) {
	rc.t.Helper()
	if _, err := rc.c.Write(bytes.Join(frames, nil)); err != nil {
		rc.t.Fatal(err)
	}
}

// next reads one server frame: its first byte and payload.
func (rc *rawClient) next() (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(rc.br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		return 0, nil, errors.New("server frame is masked")
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		io.ReadFull(rc.br, e[:])
		n = int(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		io.ReadFull(rc.br, e[:])
		n = int(binary.BigEndian.Uint64(e[:]))
	}
	p := make([]byte, n)
	_, err := io.ReadFull(rc.br, p)
	return h[0], p, err
}

// closeCode reads frames up to the close frame and returns its status.
func (rc *rawClient) closeCode() int {
	rc.t.Helper()
	for {
		op, p, err := rc.next()
		if err != nil {
			rc.t.Fatalf("no close frame: %v", err)
		}
		if op == finBit|opClose {
			if len(p) < 2 {
				return statusNoStatus
			}
			return int(binary.BigEndian.Uint16(p))
		}
	}
}

// TestFragmentedWithControlFrames: a message in three fragments with a
// ping and a pong between them arrives whole; the ping is answered with
// its payload.
func TestFragmentedWithControlFrames(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	msg := encode(t, serializer.JSON, hello1)
	rc := dialRaw(t, ts, nil)
	sp := ts.peer(t)
	rc.send(
		frame(opText, msg[:3]),
		frame(finBit|opPing, []byte("are you there")),
		frame(opContinuation, msg[3:7]),
		frame(finBit|opPong, []byte("unsolicited")),
		frame(finBit|opContinuation, msg[7:]),
	)
	m := recvMsg(t, sp)
	if h, ok := m.(*spec.Hello); !ok || h.Realm != "realm1" {
		t.Fatalf("got %#v", m)
	}
	op, p, err := rc.next()
	if err != nil || op != finBit|opPong || string(p) != "are you there" {
		t.Fatalf("ping answered with %#x %q %v", op, p, err)
	}
}

// TestEarlyFramesKept: frames sent in the same packet as the upgrade
// request are not lost.
func TestEarlyFramesKept(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	dialRaw(t, ts, frame(finBit|opText, encode(t, serializer.JSON, hello1)))
	if _, ok := recvMsg(t, ts.peer(t)).(*spec.Hello); !ok {
		t.Fatal("early HELLO lost")
	}
}

// TestFrameViolationsClose: frames breaking RFC 6455 get the close frame
// with the status it prescribes, and fail the session's Recv.
func TestFrameViolationsClose(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 126)
	for _, tc := range []struct {
		name   string
		frames [][]byte
		code   int
	}{
		{"unmasked", [][]byte{{finBit | opText, 2, '[', ']'}}, statusProtocolError},
		{"reserved bits", [][]byte{frame(finBit|0x40|opText, []byte("[]"))}, statusProtocolError},
		{"reserved opcode", [][]byte{frame(finBit|0x3, []byte("[]"))}, statusProtocolError},
		{"reserved control opcode", [][]byte{frame(finBit|0xB, nil)}, statusProtocolError},
		{"continuation first", [][]byte{frame(finBit|opContinuation, []byte("[]"))}, statusProtocolError},
		{"message inside a message", [][]byte{frame(opText, []byte("[")), frame(finBit|opText, []byte("]"))}, statusProtocolError},
		{"fragmented ping", [][]byte{frame(opPing, nil)}, statusProtocolError},
		{"oversize ping", [][]byte{frame(finBit|opPing, long)}, statusProtocolError},
		{"text not UTF-8", [][]byte{frame(finBit|opText, []byte{'"', 0xff, '"'})}, statusInvalidData},
		{"UTF-8 split across fragments is fine, broken is not", [][]byte{frame(opText, []byte{'"', 0xe2, 0x82}), frame(finBit|opContinuation, []byte{'"'})}, statusInvalidData},
		{"close of one byte", [][]byte{frame(finBit|opClose, []byte{3})}, statusProtocolError},
		{"close with a reserved code", [][]byte{frame(finBit|opClose, closePayload(999, ""))}, statusProtocolError},
		{"close with 1005", [][]byte{frame(finBit|opClose, closePayload(1005, ""))}, statusProtocolError},
		{"close reason not UTF-8", [][]byte{frame(finBit|opClose, closePayload(1000, "\xff"))}, statusProtocolError},
		{"above the limit", [][]byte{frame(opText, make([]byte, 600)), frame(finBit|opContinuation, make([]byte, 600))}, statusTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, ServerOptions{Options: transport.Options{MaxMessageSize: 1024}}, nil)
			rc := dialRaw(t, ts, nil)
			sp := ts.peer(t)
			rc.send(tc.frames...)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := sp.Recv(ctx); err == nil {
				t.Fatal("Recv succeeded")
			}
			if code := rc.closeCode(); code != tc.code {
				t.Fatalf("close status %d, want %d", code, tc.code)
			}
			waitDone(t, sp)
		})
	}
}

// TestFragmentedUTF8Valid: a multi-byte character split across fragments
// is valid text.
func TestFragmentedUTF8Valid(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	rc := dialRaw(t, ts, nil)
	sp := ts.peer(t)
	b := []byte(`[1,"r€alm",{}]`)
	i := bytes.IndexByte(b, 0xe2) + 1
	rc.send(frame(opText, b[:i]), frame(finBit|opContinuation, b[i:]))
	if h, ok := recvMsg(t, sp).(*spec.Hello); !ok || h.Realm != "r€alm" {
		t.Fatal("split character refused")
	}
}

// TestClientCloseEchoed: the client's close frame is answered with its
// status and Recv returns io.EOF.
func TestClientCloseEchoed(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	rc := dialRaw(t, ts, nil)
	sp := ts.peer(t)
	rc.send(frame(finBit|opClose, closePayload(1001, "going away")))
	if _, err := sp.Recv(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv: %v, want io.EOF", err)
	}
	if code := rc.closeCode(); code != 1001 {
		t.Fatalf("echoed %d, want 1001", code)
	}
	waitDone(t, sp)
	// An empty close frame is answered with 1000.
	rc = dialRaw(t, ts, nil)
	sp = ts.peer(t)
	rc.send(frame(finBit|opClose, nil))
	drain(sp)
	if code := rc.closeCode(); code != statusNormal {
		t.Fatalf("echoed %d, want 1000", code)
	}
	waitDone(t, sp)
}

// TestDeflateDeclined: a client offering permessage-deflate (as Chromium
// does) gets no extension, and plain frames.
func TestDeflateDeclined(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := ws.Dial(ctx, ts.url, &ws.DialOptions{Subprotocols: []string{"wamp.2.json"}, CompressionMode: ws.CompressionContextTakeover})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("accepted extensions %q", ext)
	}
	sp := ts.peer(t)
	c.Write(ctx, ws.MessageText, encode(t, serializer.JSON, hello1))
	if _, ok := recvMsg(t, sp).(*spec.Hello); !ok {
		t.Fatal("no HELLO")
	}
	sp.Send(encode(t, serializer.JSON, &spec.Abort{Details: spec.Dict{}, Reason: "wamp.error.no_such_realm"}))
	if _, b, err := c.Read(ctx); err != nil || !bytes.Contains(b, []byte("no_such_realm")) {
		t.Fatalf("Read: %q %v", b, err)
	}
}

// TestClientPingAnswered: a standard client's ping gets its pong.
func TestClientPingAnswered(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	c := rawDial(t, ts.url, "wamp.2.json")
	drain(ts.peer(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go c.Read(ctx) // coder/websocket reads the pong in Read
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// TestSessionInfo: the transport name, subprotocol and the client's
// address reach the session.
func TestSessionInfo(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	rc := dialRaw(t, ts, nil)
	info := ts.peer(t).Info()
	if info.Transport != "websocket" || info.Protocol != "wamp.2.json" || info.RemoteAddr != rc.c.LocalAddr().String() || info.TLS {
		t.Fatalf("info %+v", info)
	}
}

// TestBadUpgradesRefused: upgrades the WAMP path cannot take get an HTTP
// error, not a session.
func TestBadUpgradesRefused(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	addr := strings.TrimPrefix(strings.TrimSuffix(ts.url, "/ws"), "ws://")
	for _, tc := range []struct{ name, from, to string }{
		{"old version", "Version: 13", "Version: 8"},
		{"no key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""},
		{"POST", "GET", "POST"},
		{"no Connection", "Connection: Upgrade\r\n", ""},
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, strings.Replace(strings.Replace(upgradeHead, "%s", addr, 1), tc.from, tc.to, 1))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil || resp.StatusCode < 400 {
			t.Fatalf("%s: %v %v", tc.name, resp, err)
		}
	}
	select {
	case <-ts.peers:
		t.Fatal("a bad upgrade reached the handler")
	default:
	}
}

// TestServeHTTPPath runs the upgrade tests through ServeHTTP, the
// Handler's http.Handler side, which does its own upgrade on net/http's
// hijacked connection.
func TestServeHTTPPath(t *testing.T) {
	viaNetHTTP = true
	defer func() { viaNetHTTP = false }()
	t.Run("RoundTrip", TestRoundTripEverySubprotocol)
	t.Run("Refusal", TestNoSubprotocolIsRefusedWithoutUpgrade)
	t.Run("Origins", TestOriginPatterns)
	t.Run("Close", TestCloseSendsStatusAndReason)
	t.Run("Fragments", TestFragmentedWithControlFrames)
	t.Run("Violations", TestFrameViolationsClose)
	t.Run("Deflate", TestDeflateDeclined)
	t.Run("Early", TestEarlyFramesKept)
}

// BenchmarkPong: answering a ping and reading the message after it, on
// either side, allocates nothing (the pong is built in a pooled buffer; on
// the stack it escaped to the heap). Run without the race detector (which
// makes sync.Pool drop items), as scripts/test.sh's benchmark step does.
func BenchmarkPong(b *testing.B) {
	for _, client := range []bool{false, true} {
		name := "server"
		if client {
			name = "client"
		}
		b.Run(name, func(b *testing.B) {
			ping, data := frame(finBit|opPing, []byte("are you there")), frame(finBit|opText, []byte(`[36,1,2,{}]`))
			if client {
				ping, data = serverFrame(finBit|opPing, []byte("are you there")), serverFrame(finBit|opText, []byte(`[36,1,2,{}]`))
			}
			in := append(ping, data...)
			r := bytes.NewReader(in)
			nc := &bytesConn{r: r}
			c := newConn(nc, nil, newWire(nc, time.Minute), 1<<10, client)
			read := func() {
				r.Reset(in)
				bp, err := c.readMessage()
				if err != nil {
					b.Fatal(err)
				}
				bufpool.Put(bp)
			}
			b.ReportAllocs()
			for b.Loop() {
				read()
			}
			if raceEnabled {
				return
			}
			if n := testing.AllocsPerRun(100, read); n != 0 {
				b.Fatalf("a ping answered and a message read take %v allocations, want 0", n)
			}
		})
	}
}
