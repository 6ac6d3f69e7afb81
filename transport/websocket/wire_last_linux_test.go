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

// TestWriteLastGoesWithTheFIN: the bytes writeLast writes wait in the
// socket and leave with the FIN of the close that follows, one segment,
// where a plain write and a close send two.
func TestWriteLastGoesWithTheFIN(t *testing.T) {
	for _, tc := range []struct {
		name     string
		write    func(*wire, []byte) error
		segments uint32
	}{
		{"writeLast", (*wire).writeLast, 1},
		{"plain write", func(w *wire, p []byte) error { _, err := w.Write(p); return err }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := tcpPair(t)
			client.SetDeadline(time.Now().Add(5 * time.Second))
			w := newWire(server, time.Second)
			before := segmentsIn(t, client)
			last := []byte{0x88, 0x02, 0x03, 0xe8} // a close frame, 1000
			if err := tc.write(w, last); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond) // a plain write's segment has arrived by now
			server.Close()
			got, err := io.ReadAll(client)
			if err != nil || string(got) != string(last) {
				t.Fatalf("read %x, %v; want %x then EOF", got, err, last)
			}
			if n := segmentsIn(t, client) - before; n != tc.segments {
				t.Errorf("%d segments carried the bytes and the FIN, want %d", n, tc.segments)
			}
		})
	}
}
