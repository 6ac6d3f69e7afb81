//go:build !linux

package transport

import "net"

// listenConfig has net set the keepalive options on every accepted
// connection: not every system copies them from the listening socket.
func listenConfig(network string) net.ListenConfig {
	if !isTCP(network) {
		return net.ListenConfig{}
	}
	return net.ListenConfig{KeepAliveConfig: net.KeepAliveConfig{
		Enable:   true,
		Idle:     KeepAliveIdle,
		Interval: KeepAliveInterval,
		Count:    KeepAliveCount,
	}}
}
