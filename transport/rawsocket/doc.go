// Package rawsocket implements the WAMP RawSocket transport over TCP, TLS
// and Unix sockets: the 4-octet opening handshake and the framing (WAMP
// advanced profile, "RawSocket Transport"), on both the router side
// ([Server]) and the client side ([Dial]).
//
// # Handshake
//
// The client sends 0x7F, LLLL SSSS, 0, 0: LLLL announces the largest
// message it accepts (2^(9+L) bytes), SSSS the serializer. The router
// answers with its own limit and the same serializer, or with an error
// code in the high nibble: 1 serializer unsupported (also for the illegal
// serializer 0), 3 reserved octets not zero, 4 connection limit reached. A
// first octet other than 0x7F gets no answer: the connection is closed.
//
// # Limits
//
// Each side announces what it accepts and must never send more: Send of a
// frame above the peer's announcement returns transport.ErrFrameTooLarge
// and the peer stays open. An incoming frame above our announcement fails
// the connection before its payload is read.
//
// # Frames
//
// A 4-octet header (RRRR XTTT and a 24-bit length) precedes each payload.
// Reserved bits or frame types fail the connection. A PING is answered
// with a PONG echoing its payload, written by the writer goroutine between
// two whole frames. When the peer has been silent for
// Options.PingInterval, the writer sends a PING; if nothing at all arrives
// within Options.PongTimeout the connection is closed.
package rawsocket
