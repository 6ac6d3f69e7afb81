package transport_test

import (
	"context"
	"net"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/switchyard/switchyard/transport"
)

// sockopt reads an integer socket option of c.
func sockopt(t *testing.T, c syscall.Conn, level, name int) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), level, name) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

type keepalive struct{ on, idle, interval, count int }

func keepaliveOf(t *testing.T, c syscall.Conn) keepalive {
	return keepalive{
		on:       sockopt(t, c, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE),
		idle:     sockopt(t, c, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE),
		interval: sockopt(t, c, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL),
		count:    sockopt(t, c, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT),
	}
}

// acceptOne dials ln and returns the accepted end.
func acceptOne(t *testing.T, ln net.Listener) *net.TCPConn {
	t.Helper()
	dialed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialed.Close() })
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// TestListenKeepAliveComesFromTheListeningSocket: the keepalive options
// sit on the listening socket, accepted connections have them with
// TCP_NODELAY, and they are the listener's, not set again per connection:
// a value changed on the listener shows in the next accepted socket.
func TestListenKeepAliveComesFromTheListeningSocket(t *testing.T) {
	ln, err := transport.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := keepalive{1, int(transport.KeepAliveIdle.Seconds()), int(transport.KeepAliveInterval.Seconds()), transport.KeepAliveCount}
	tl := ln.(*net.TCPListener)
	if got := keepaliveOf(t, tl); got != want {
		t.Fatalf("listening socket keepalive %+v, want %+v", got, want)
	}
	c := acceptOne(t, ln)
	if got := keepaliveOf(t, c); got != want {
		t.Fatalf("accepted socket keepalive %+v, want %+v", got, want)
	}
	if sockopt(t, c, syscall.IPPROTO_TCP, syscall.TCP_NODELAY) != 1 {
		t.Fatal("accepted socket without TCP_NODELAY")
	}

	rc, err := tl.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	const idle = 23
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, idle)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	if got := keepaliveOf(t, acceptOne(t, ln)).idle; got != idle {
		t.Fatalf("accepted socket TCP_KEEPIDLE %d after the listener's became %d: set per connection", got, idle)
	}
}

// TestListenUnix: a Unix socket listener takes no TCP options.
func TestListenUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wamp.sock")
	ln, err := transport.Listen(context.Background(), "unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
}
