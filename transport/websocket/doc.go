// Package websocket implements WAMP over WebSocket: the router side
// ([NewHandler], an http.Handler) and the client side ([Dial]).
//
// Both sides read and write frames themselves (with github.com/gobwas/ws's
// masking and close-code helpers): one shallow read loop per connection
// with no goroutine, timer or context per frame, and their own close
// handshake; the client masks what it sends. The router side answers the
// upgrade itself, the client side sends it with gobwas/ws's client upgrade;
// neither goes through net/http on the way.
//
// The serializer is negotiated through the Sec-WebSocket-Protocol header:
// "wamp.2.json" (text messages), "wamp.2.msgpack" and "wamp.2.cbor"
// (binary messages), and their ".batched" variants, which carry several
// WAMP messages per WebSocket message. The router takes the first
// subprotocol in the client's order of preference that it speaks, and
// refuses, without upgrading, a client that offers none.
//
// WebSocket has no size negotiation: both sides use Options.MaxMessageSize
// as their read limit and refuse to send larger messages.
//
// Keepalive: when nothing arrived for Options.PingInterval, the peer pings
// and closes the connection if the pong does not come within
// Options.PongTimeout. The pong is read by the session's Recv loop, which
// must keep running (it always does in the router).
package websocket
