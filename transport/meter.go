package transport

import "sync/atomic"

// Meter counts the bytes a group of peers (typically every peer of one
// transport) receives and sends. Peers count in their reader and writer,
// once per message read and once per batch written, instead of wrapping
// the connection: a wrapped *net.TCPConn would hide writev (net.Buffers)
// and sendfile from the writer's fast path.
//
// What is counted is the WAMP frames: the serialized messages, plus the
// 4-byte frame header on RawSocket; WebSocket framing and TLS records are
// not. A nil *Meter counts nothing.
type Meter struct {
	in, out atomic.Uint64
}

// Received adds n bytes read from a peer.
func (m *Meter) Received(n int) {
	if m != nil {
		m.in.Add(uint64(n))
	}
}

// Sent adds n bytes written to a peer.
func (m *Meter) Sent(n int) {
	if m != nil {
		m.out.Add(uint64(n))
	}
}

// BytesReceived returns the bytes read so far.
func (m *Meter) BytesReceived() uint64 {
	if m == nil {
		return 0
	}
	return m.in.Load()
}

// BytesSent returns the bytes written so far.
func (m *Meter) BytesSent() uint64 {
	if m == nil {
		return 0
	}
	return m.out.Load()
}
