package websocket

import (
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// segmentsIn counts the TCP segments c has received.
func segmentsIn(t *testing.T, c *net.TCPConn) uint32 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var gerr error
	if err := rc.Control(func(fd uintptr) { info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return info.Segs_in
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close(); sc.Close() })
	return sc.(*net.TCPConn), cc.(*net.TCPConn)
}

// TestWriteCloseGoesWithTheFIN: the close frame writeClose writes as the
// last one waits in the socket and leaves with the FIN of the close that
// follows, one segment, where a close frame written otherwise and the
// close send two; and nothing written after a close frame goes out.
func TestWriteCloseGoesWithTheFIN(t *testing.T) {
	for _, tc := range []struct {
		name     string
		last     bool
		segments uint32
	}{
		{"last", true, 1},
		{"not last", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := tcpPair(t)
			client.SetDeadline(time.Now().Add(5 * time.Second))
			w := newWire(server, time.Second)
			before := segmentsIn(t, client)
			closeFrame := []byte{0x88, 0x02, 0x03, 0xe8} // status 1000
			if err := w.writeClose(closeFrame, tc.last); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte{0x82, 0x01, 'x'}); err != errSealed { // a data frame: dropped
				t.Fatalf("a frame after the close frame: %v, want errSealed", err)
			}
			bufs := net.Buffers{{0x82, 0x01}, {'y'}}
			if err := w.writeBuffers(&bufs); err != errSealed {
				t.Fatalf("buffers after the close frame: %v, want errSealed", err)
			}
			time.Sleep(20 * time.Millisecond) // a segment sent at once has arrived by now
			server.Close()
			got, err := io.ReadAll(client)
			if err != nil || string(got) != string(closeFrame) {
				t.Fatalf("read %x, %v; want the close frame %x alone, then EOF", got, err, closeFrame)
			}
			if n := segmentsIn(t, client) - before; n != tc.segments {
				t.Errorf("%d segments carried the close frame and the FIN, want %d", n, tc.segments)
			}
		})
	}
}
