package transport

import (
	"context"
	"net"
	"time"
)

// TCP keepalive of accepted connections: the values net.Listen uses, so
// that a dead peer behind a silent network (an IoT device that lost power)
// is noticed within Idle + Count × Interval even where the WAMP heartbeat
// is off.
const (
	KeepAliveIdle     = 15 * time.Second
	KeepAliveInterval = 15 * time.Second
	KeepAliveCount    = 9
)

// Listen opens the listening socket of a WAMP listener: network is "tcp",
// "tcp4", "tcp6" or "unix". Connections accepted over TCP have TCP_NODELAY
// and keepalive (KeepAliveIdle, KeepAliveInterval, KeepAliveCount), as with
// net.Listen. On Linux the keepalive options are set once, on the listening
// socket, which every accepted socket inherits: net.Listen sets them with
// four system calls per accepted connection, about 4 % of the router's CPU
// for a session that connects, joins and leaves (docs/PERFORMANCE.md).
// Its errors are net's, which name the operation and the address.
func Listen(ctx context.Context, network, addr string) (net.Listener, error) {
	lc := listenConfig(network)
	return lc.Listen(ctx, network, addr)
}

func isTCP(network string) bool {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return true
	}
	return false
}
