// Package transport carries framed WAMP messages between a peer and the
// router: WebSocket, RawSocket over TCP, TLS or a Unix socket, and an
// in-process pipe. The router sees every connection as a [Peer].
//
// Every Peer owns exactly one writer goroutine, the only goroutine that ever
// writes to its connection (control frames such as PONG included). Frames
// wait for it in a bounded outbound queue; Send never blocks the router.
package transport

import (
	"context"
	"crypto/tls"
	"errors"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// Errors returned by Peer.Send and Peer.Recv.
var (
	// ErrSlowConsumer: the peer's outbound queue passed its byte or count
	// limit. The peer is being closed; the frame was not queued.
	ErrSlowConsumer = errors.New("transport: slow consumer: outbound queue full")
	// ErrFrameTooLarge: the frame exceeds what the peer agreed to receive.
	// The peer stays open; the frame was not queued.
	ErrFrameTooLarge = errors.New("transport: frame exceeds the peer's maximum message size")
	// ErrClosed: the peer is closed.
	ErrClosed = errors.New("transport: peer closed")
	// ErrParked: Recv of a [Parker] found the connection idle and parked
	// its reader. It is not a failure; see Parker.
	ErrParked = errors.New("transport: idle connection parked")
)

// Parker is implemented by peers that can hold an idle connection without
// a reader goroutine (RawSocket and WebSocket servers over TCP and Unix
// sockets, on Linux; see package transport/idle).
//
// This is where Switchyard departs from "one reader goroutine per
// session": a connection that received nothing for a second or two gives
// its reader (a ~4 KiB stack) and its read buffer back, and gets a fresh
// reader when input arrives. A busy connection is never parked and pays
// nothing for the possibility.
type Parker interface {
	// ResumeWith allows parking (resume non-nil) or forbids it (nil); it is
	// called by the reader goroutine. While parking is allowed, Recv may
	// return ErrParked: the reader must then return without calling Recv
	// or touching what Recv's caller shares with resume, and its goroutine
	// ends. resume is called once, on a new goroutine, when input arrives or
	// the connection ends; it continues the reading (calling Recv, which
	// reads on where the parked reader stopped: no byte is lost).
	//
	// A Handler whose Recv returned ErrParked returns from ServePeer with
	// the peer still open; the transport then leaves the peer to it: the
	// resumed reader closes the peer when the session is over.
	ResumeWith(resume func())
	// CanPark reports whether this connection takes part in parking at all
	// (a plain socket, parking enabled). A reader that never parks keeps
	// the stack it grew for as long as the connection lives.
	CanPark() bool
}

// Info describes a connection for logs, session details and auth.
type Info struct {
	// Transport is "websocket", "rawsocket" or "pipe".
	Transport string
	// Protocol is the WebSocket subprotocol or "wamp.2.<serializer>" for RawSocket.
	Protocol string
	// RemoteAddr is the peer's address ("ip:port", a Unix socket path, or "pipe").
	RemoteAddr string
	// TLS reports whether the connection is encrypted.
	TLS bool
	// TLSState is the connection's TLS state (nil on a plain connection),
	// for certificate authentication and channel binding.
	TLSState *tls.ConnectionState
	// MaxRecv and MaxSend are the largest message sizes, in bytes, this side
	// accepts and may send; 0 means no limit.
	MaxRecv, MaxSend int
}

// Peer is one connection as the router sees it.
//
// Recv is called by one goroutine only (the session's reader). Send, Close,
// Done and Info may be called from any goroutine.
//
// Lifecycle, common to every transport in this module:
//
//   - Close never blocks: it refuses further frames (Send returns
//     ErrClosed) and asks the writer to flush, bounded by
//     Options.CloseTimeout; Done reports the end. Close then Done is the
//     blocking form.
//   - A failure (ErrSlowConsumer from Send, a write stalled past
//     Options.WriteTimeout, a keepalive timeout, a framing violation, a read
//     error) closes the connection at once, without a flush; it never
//     blocks the caller either.
//   - Only a reading peer notices that the other end went away (and answers
//     RawSocket PINGs or WebSocket pings): keep Recv running.
//   - Recv errors other than decode errors are sticky. The other end
//     closing gives an error wrapping io.EOF; after Close or a failure,
//     errors wrap ErrClosed (and the failure). When ctx ends during Recv,
//     the error wraps ctx.Err() and the peer must not be read again: a
//     network read cannot resume mid-frame. RawSocket still sends (so an
//     ABORT can go out before Close); WebSocket closes gracefully, and Recv
//     returns when the close handshake is done. The pipe stays readable.
//     A context that ends between two Recv calls disturbs nothing.
type Peer interface {
	// Serializer is the serializer negotiated for this connection.
	Serializer() serializer.Serializer
	// Recv returns the next message. A frame that does not decode returns an
	// error wrapping *spec.ProtocolError; the connection stays usable so the
	// router can send ABORT before closing it. Any other error means the
	// connection is gone.
	Recv(ctx context.Context) (spec.Message, error)
	// Send queues an encoded frame for the writer and returns at once. The
	// peer must not modify frame afterwards; the same frame may be queued to
	// many peers.
	Send(frame []byte) error
	// Close stops accepting frames, lets the writer flush what is queued
	// (bounded by a short deadline), then closes the connection. It is
	// idempotent. reason is logged and, where the transport allows, sent to
	// the peer (WebSocket close reason).
	Close(reason string) error
	// Done is closed once the connection is closed and the writer has exited.
	Done() <-chan struct{}
	// Info describes the connection.
	Info() Info
}
