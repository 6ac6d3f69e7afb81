package transport

import (
	"net"
	"syscall"
)

// listenConfig puts the keepalive options on the listening socket
// (inheritKeepAlive) and tells net not to set them again on every
// accepted one (KeepAlive < 0). Linux copies a listener's socket options
// into the sockets it accepts.
func listenConfig(network string) net.ListenConfig {
	if !isTCP(network) {
		return net.ListenConfig{}
	}
	return net.ListenConfig{KeepAlive: -1, Control: inheritKeepAlive}
}

// inheritKeepAlive sets the keepalive options on a listening socket.
func inheritKeepAlive(_, _ string, c syscall.RawConn) error {
	opts := [...]struct {
		level, name, value int
		what               string
	}{
		{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1, "SO_KEEPALIVE"},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, int(KeepAliveIdle.Seconds()), "TCP_KEEPIDLE"},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, int(KeepAliveInterval.Seconds()), "TCP_KEEPINTVL"},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, KeepAliveCount, "TCP_KEEPCNT"},
	}
	var err error
	cerr := c.Control(func(fd uintptr) {
		for _, o := range opts {
			if e := syscall.SetsockoptInt(int(fd), o.level, o.name, o.value); e != nil {
				err = &net.OpError{Op: "setsockopt " + o.what, Net: "tcp", Err: e}
				return
			}
		}
	})
	if cerr != nil {
		return cerr
	}
	return err
}
