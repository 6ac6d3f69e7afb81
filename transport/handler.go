package transport

import "context"

// Handler serves the peers a transport server accepts; the router is one.
//
// ServePeer runs in the connection's own goroutine (the peer's reader: it
// calls Recv and routes inline) and blocks while the session runs; it
// returns when the peer is done. The transport closes the peer after
// ServePeer returns, so a handler need not Close it, though it may, to send
// a close reason. ctx is cancelled when the transport server is closed
// (Close, or Shutdown past its deadline).
//
// One exception: a handler that allowed parking ([Parker]) returns from
// ServePeer as soon as Recv returns ErrParked. The transport then does not
// close the peer; the handler's resumed reader does, when it is done.
type Handler interface {
	ServePeer(ctx context.Context, p Peer)
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(ctx context.Context, p Peer)

// ServePeer calls f(ctx, p).
func (f HandlerFunc) ServePeer(ctx context.Context, p Peer) { f(ctx, p) }
