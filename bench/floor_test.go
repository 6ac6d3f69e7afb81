package bench

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
)

func startFloor(t *testing.T) *Floor {
	t.Helper()
	f, err := ListenFloor("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestFloorServesSessions: the real client joins and leaves the floor over
// both transports and every serializer, the close handshakes included.
func TestFloorServesSessions(t *testing.T) {
	t.Parallel()
	f := startFloor(t)
	for _, url := range []string{f.RawSocketURL(), f.WebSocketURL()} {
		for _, ser := range []string{"json", "msgpack", "cbor"} {
			ctx := testContext(t)
			c, err := client.Connect(ctx, url, client.Config{Realm: "realm1", Serializer: ser})
			if err != nil {
				t.Fatalf("%s %s: %v", url, ser, err)
			}
			if c.ID() != 1 || c.Details()["authrole"] != "anonymous" {
				t.Errorf("%s %s: session %d, details %v", url, ser, c.ID(), c.Details())
			}
			if err := c.Close(ctx); err != nil {
				t.Errorf("%s %s: close: %v", url, ser, err)
			}
		}
	}
}

// TestConnectAgainstTheFloor: the connect scenario runs against the floor
// as against a router, every session opened and closed.
func TestConnectAgainstTheFloor(t *testing.T) {
	t.Parallel()
	f := startFloor(t)
	for _, url := range []string{f.RawSocketURL(), f.WebSocketURL()} {
		o := &Connect{Common: Common{Count: 40, Duration: 5 * time.Second}, Concurrency: 4}
		res, err := o.Run(testContext(t), Target{Label: "floor", URL: url})
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		if res.Ops != 40 || res.ErrorCount() != 0 {
			t.Errorf("%s: %d sessions, errors %v; want 40 and none", url, res.Ops, res.Errors)
		}
	}
}

// TestFloorRefusesWhatItCannotServe: an unknown RawSocket serializer gets
// the error handshake, an upgrade without a WAMP subprotocol a 400, and a
// frame beyond the floor's bound a closed connection.
func TestFloorRefusesWhatItCannotServe(t *testing.T) {
	t.Parallel()
	f := startFloor(t)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", f.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(5 * time.Second))
		return c
	}

	c := dial()
	c.Write([]byte{0x7F, 0xF7, 0, 0}) // serializer 7
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "\x7F\x10\x00\x00" {
		t.Errorf("unknown serializer: got % x, %v; want the error handshake 7f 10 00 00", got, err)
	}

	c = dial()
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("no WAMP subprotocol: %v, %v; want 400", resp, err)
	}

	c = dial()
	c.Write([]byte{0x7F, 0xF2, 0, 0})
	var h [4]byte
	if _, err := io.ReadFull(c, h[:]); err != nil || h != [4]byte{0x7F, 0xF2, 0, 0} {
		t.Fatalf("handshake: % x, %v", h, err)
	}
	c.Write([]byte{0, 0x10, 0, 0}) // a 1 MiB frame
	if n, err := c.Read(h[:]); err != io.EOF {
		t.Errorf("oversized frame: read %d, %v; want the connection closed", n, err)
	}
}

// TestFloorAnswersByMessageType: the floor answers HELLO and GOODBYE only,
// whatever comes between them.
func TestFloorAnswersByMessageType(t *testing.T) {
	f := &Floor{}
	welcome, goodbye := []byte("W"), []byte("G")
	for _, c := range []struct {
		msg  string
		want string
	}{
		{`[1,"realm1",{}]`, "W"},
		{`[6,{},"wamp.close.goodbye_and_out"]`, "G"},
		{`[48,1,{},"com.example.add"]`, ""},
		{`not json`, ""},
	} {
		if got := string(f.answer("json", []byte(c.msg), welcome, goodbye)); got != c.want {
			t.Errorf("%s: answered %q, want %q", c.msg, got, c.want)
		}
	}
}

// FuzzFloor: whatever a client sends, the floor's connection ends (when the
// client closes, at the latest) without a panic.
func FuzzFloor(f *testing.F) {
	rsHello := append([]byte{0x7F, 0xF2, 0, 0, 0, 0, 0, 14}, []byte("\x93\x01\xa6realm1\x81\xa5roles\x80")...)
	f.Add(rsHello)
	f.Add([]byte{0x7F, 0xF1, 0, 0, 1, 0, 0, 2, 'h', 'i', 0, 0xFF, 0xFF, 0xFF})
	f.Add([]byte("GET / HTTP/1.1\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n" +
		"\x81\x85\x00\x00\x00\x00[1,1]\x89\x80\x01\x02\x03\x04\x88\x82\x00\x00\x00\x00\x03\xe8"))
	f.Add([]byte("GET / HTTP/1.1\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Protocol: wamp.2.cbor\r\n\r\n\x82\xff\x00\x00\x00\x00\x00\x00\x00\x01"))
	f.Add([]byte("\r\n\r\n"))
	floor, err := newFloor()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			io.Copy(io.Discard, client)
		}()
		floor.wg.Add(1)
		go floor.serve(server)
		client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		client.Write(in) // fails once the floor has closed its end
		client.Close()
		done := make(chan struct{})
		go func() {
			floor.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("the floor's connection did not end after the client closed (input %q)", in)
		}
		<-drained
	})
}
