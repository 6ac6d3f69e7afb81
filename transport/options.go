package transport

import (
	"log/slog"
	"time"
)

// Defaults applied by [Options.WithDefaults] to zero fields.
const (
	// DefaultMaxMessageSize is the receive limit: 16 MiB, the largest size a
	// RawSocket handshake can announce (2^24).
	DefaultMaxMessageSize = 16 << 20
	// DefaultQueueMaxBytes bounds the bytes waiting in one peer's outbound
	// queue. A subscriber that falls this far behind is disconnected as a
	// slow consumer rather than buffered without bound.
	DefaultQueueMaxBytes = 4 << 20
	// DefaultQueueMaxFrames bounds the frames waiting in one outbound queue,
	// so that a flood of tiny frames is caught as early as a few large ones.
	DefaultQueueMaxFrames = 4096
	// DefaultWriteTimeout is how long one write may stall before the peer is
	// closed.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultPingInterval is how long a peer may stay silent before we ping.
	DefaultPingInterval = 30 * time.Second
	// DefaultPongTimeout is how long we wait for any sign of life after a
	// ping before closing the peer.
	DefaultPongTimeout = 15 * time.Second
	// DefaultCloseTimeout bounds how long Close lets the writer flush.
	DefaultCloseTimeout = 2 * time.Second
	// DefaultReadBufferSize is the RawSocket read buffer. WAMP messages are
	// mostly small (a CALL, an EVENT of a hundred bytes or so), so 512 bytes
	// hold several per read system call, while an idle connection (most of
	// an IoT fleet) costs little: larger frames bypass the buffer and are
	// read into pooled memory.
	DefaultReadBufferSize = 512
)

// Options configure a Peer. The zero value means sensible defaults; every
// transport applies [Options.WithDefaults].
type Options struct {
	// Limiter, shared by every server of the router, bounds concurrent
	// connections in all and per remote address. nil limits nothing.
	// RawSocket refuses with handshake error 4, WebSocket with HTTP 503.
	Limiter *ConnLimiter

	// MaxMessageSize is the largest message, in bytes, this side accepts.
	// A larger incoming message fails the connection. 0 means
	// DefaultMaxMessageSize. RawSocket can announce only powers of two from
	// 512 B to 16 MiB and enforces the largest one not above this value
	// (at least 512 B).
	MaxMessageSize int
	// QueueMaxBytes and QueueMaxFrames bound the outbound queue; past either
	// limit Send returns ErrSlowConsumer and the peer is closed. 0 means
	// DefaultQueueMaxBytes / DefaultQueueMaxFrames.
	QueueMaxBytes, QueueMaxFrames int
	// WriteTimeout: a write stuck this long closes the peer (a consumer that
	// stopped reading). 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// PingInterval is the keepalive period: a peer silent this long is sent a
	// ping (RawSocket PING, WebSocket ping). 0 means DefaultPingInterval;
	// negative disables keepalive.
	PingInterval time.Duration
	// PongTimeout is how long after a keepalive ping the peer must show any
	// traffic (the PONG or anything else) before it is closed. 0 means
	// DefaultPongTimeout.
	PongTimeout time.Duration
	// CloseTimeout bounds how long Close lets the writer flush the queue
	// (and, on WebSocket, run the close handshake). 0 means
	// DefaultCloseTimeout.
	CloseTimeout time.Duration
	// ReadBufferSize is the size of the RawSocket read buffer. 0 means
	// DefaultReadBufferSize. It costs memory on every idle connection.
	ReadBufferSize int
	// Meter, if set, counts the bytes its peers receive and send; share one
	// among the servers of a transport to count per transport.
	Meter *Meter
	// Logger receives transport events (failed handshakes, framing errors,
	// slow consumers), each logged once with the peer's address. nil means
	// slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns a copy of o with every zero field set to its default.
// It is exported for the transport packages (rawsocket, websocket); callers
// need not call it.
func (o Options) WithDefaults() Options {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.QueueMaxBytes <= 0 {
		o.QueueMaxBytes = DefaultQueueMaxBytes
	}
	if o.QueueMaxFrames <= 0 {
		o.QueueMaxFrames = DefaultQueueMaxFrames
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PongTimeout <= 0 {
		o.PongTimeout = DefaultPongTimeout
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = DefaultReadBufferSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// KeepaliveEnabled reports whether o (after WithDefaults) asks for pings.
func (o Options) KeepaliveEnabled() bool { return o.PingInterval > 0 }
