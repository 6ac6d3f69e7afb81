package websocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	ws "github.com/coder/websocket"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/internal/peerutil"
)

var errServerClosed = errors.New("websocket: handler closed")

// ServerOptions configure [NewHandler]. The zero value means defaults.
type ServerOptions struct {
	transport.Options
	// Serializers are the serializers offered; nil means all of them.
	Serializers []serializer.Serializer
	// DisableBatched stops offering the ".batched" subprotocol variants,
	// which are offered by default.
	DisableBatched bool
	// OriginPatterns, if set, restricts the Origin header of browser
	// clients to these host patterns (path.Match syntax, e.g.
	// "*.example.com"); the request's own host is always allowed.
	//
	// By default any origin is accepted. WAMP's browser clients are
	// usually pages served from another origin than the router, and WAMP
	// authenticates sessions itself in HELLO (cookies play no part), so
	// the cross-site request forgery that origin checks guard against
	// does not apply unless the router is set up to trust cookies or a
	// network position. Set OriginPatterns when it is.
	OriginPatterns []string
	// Fallback serves the plain HTTP requests that are not WebSocket
	// upgrades (a console page, an HTTP API) on the same port. nil answers
	// them with 426 Upgrade Required.
	Fallback http.Handler
}

// Handler is the http.Handler that upgrades WAMP WebSocket connections
// and hands each peer to a [transport.Handler]. ServeHTTP blocks while the
// session runs, then closes the peer.
//
// http.Server.Shutdown does not wait for upgraded (hijacked)
// connections; Handler.Shutdown does.
type Handler struct {
	h         transport.Handler
	opts      ServerOptions
	log       *slog.Logger
	protocols []string // offered, in our order of preference
	listing   string   // protocols joined, for error messages
	accept    *ws.AcceptOptions

	baseCtx context.Context
	cancel  context.CancelFunc

	mu       sync.Mutex // Protects the fields below.
	peers    map[*peer]struct{}
	active   int
	shutdown bool
	idle     chan struct{} // closed once shut down with no session left
}

// NewHandler returns an http.Handler serving WAMP over WebSocket with h.
func NewHandler(h transport.Handler, opts ServerOptions) *Handler {
	opts.Options = opts.Options.WithDefaults()
	ss := opts.Serializers
	if ss == nil {
		ss = serializer.All()
	}
	hd := &Handler{
		h:     h,
		opts:  opts,
		log:   opts.Logger.With("transport", "websocket"),
		peers: make(map[*peer]struct{}),
	}
	for _, s := range ss {
		hd.protocols = append(hd.protocols, serializer.Subprotocol(s, false))
	}
	if !opts.DisableBatched {
		for _, s := range ss {
			hd.protocols = append(hd.protocols, serializer.Subprotocol(s, true))
		}
	}
	hd.listing = strings.Join(hd.protocols, ", ")
	hd.accept = &ws.AcceptOptions{
		InsecureSkipVerify: len(opts.OriginPatterns) == 0,
		OriginPatterns:     opts.OriginPatterns,
	}
	hd.baseCtx, hd.cancel = context.WithCancel(context.Background())
	return hd
}

// Subprotocols returns the subprotocols the handler speaks, in its order of
// preference.
func (hd *Handler) Subprotocols() []string { return append([]string(nil), hd.protocols...) }

// negotiate picks the first subprotocol in the client's order of
// preference that we speak. offers are the Sec-WebSocket-Protocol header
// values, each a comma-separated token list.
func negotiate(offers []string, ours []string) string {
	for _, v := range offers {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			for _, p := range ours {
				if tok == p {
					return p
				}
			}
		}
	}
	return ""
}

// ServeHTTP upgrades the request and serves the session. A request that is
// not a WebSocket upgrade goes to ServerOptions.Fallback, or else gets 426
// Upgrade Required; an upgrade offering none of our subprotocols gets 400
// Bad Request without being upgraded. Both bodies name the subprotocols we
// speak.
func (hd *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		if hd.opts.Fallback != nil {
			hd.opts.Fallback.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "this is a WAMP WebSocket endpoint: connect with a WebSocket client offering one of the subprotocols "+hd.listing, http.StatusUpgradeRequired)
		return
	}
	proto := negotiate(r.Header.Values("Sec-WebSocket-Protocol"), hd.protocols)
	if proto == "" {
		hd.log.Info("refused: no supported subprotocol", "remote", r.RemoteAddr, "offered", r.Header.Values("Sec-WebSocket-Protocol"))
		http.Error(w, "no supported WAMP subprotocol offered (Sec-WebSocket-Protocol); this router speaks "+hd.listing, http.StatusBadRequest)
		return
	}
	s, batched, _ := serializer.BySubprotocol(proto)

	if !hd.enter() {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	if !hd.opts.Limiter.Acquire(r.RemoteAddr) {
		hd.leave()
		hd.log.Info("refused: maximum connection count reached", "remote", r.RemoteAddr)
		http.Error(w, "maximum connection count reached", http.StatusServiceUnavailable)
		return
	}
	// The session's goroutine keeps release: it must not capture r, or the
	// request (headers, URL, context: over 2 KB) would stay alive with
	// every idle connection.
	remote := r.RemoteAddr
	release := func() {
		hd.opts.Limiter.Release(remote)
		hd.leave()
	}

	rec := &hijackRecorder{ResponseWriter: w, writeTimeout: hd.opts.WriteTimeout}
	opts := *hd.accept
	opts.Subprotocols = []string{proto}
	c, err := ws.Accept(rec, r, &opts)
	if err != nil {
		// Accept has written the HTTP error.
		hd.log.Info("upgrade failed", "remote", r.RemoteAddr, "error", err)
		release()
		return
	}
	if rec.conn == nil { // cannot happen with net/http
		c.CloseNow()
		release()
		return
	}
	info := transport.Info{
		Transport:  "websocket",
		Protocol:   proto,
		RemoteAddr: r.RemoteAddr,
		TLS:        r.TLS != nil || peerutil.IsTLS(rec.conn),
		TLSState:   tlsState(r, rec.conn),
		MaxRecv:    hd.opts.MaxMessageSize,
		MaxSend:    hd.opts.MaxMessageSize,
	}
	p := newPeer(c, rec.conn, rec.wire, s, batched, info, hd.opts.Options)
	p.rawPayloads = true // a router reads what a server receives
	if !hd.add(p) {
		p.fail(errServerClosed)
		<-p.Done()
		release()
		return
	}
	// The session runs on a goroutine of its own, owned by the handler
	// (counted by enter, waited for by Shutdown), and ServeHTTP returns: the
	// net/http goroutine, its deep stack and the request go away instead of
	// staying with every idle connection.
	go func() {
		defer release()
		defer hd.remove(p)
		hd.h.ServePeer(hd.baseCtx, p)
		p.Close("session ended")
		<-p.Done()
	}()
}

// enter counts a request that may become a session; it refuses once the
// handler is shutting down.
func (hd *Handler) enter() bool {
	hd.mu.Lock()
	defer hd.mu.Unlock()
	if hd.shutdown {
		return false
	}
	hd.active++
	return true
}

func (hd *Handler) leave() {
	hd.mu.Lock()
	defer hd.mu.Unlock()
	hd.active--
	if hd.shutdown && hd.active == 0 && hd.idle != nil {
		close(hd.idle)
		hd.idle = nil
	}
}

func (hd *Handler) add(p *peer) bool {
	hd.mu.Lock()
	defer hd.mu.Unlock()
	if hd.shutdown && hd.baseCtx.Err() != nil {
		return false
	}
	hd.peers[p] = struct{}{}
	return true
}

func (hd *Handler) remove(p *peer) {
	hd.mu.Lock()
	defer hd.mu.Unlock()
	delete(hd.peers, p)
}

// Shutdown refuses new WebSocket sessions and waits until every session
// has ended, or ctx is done; then it closes the remaining connections at
// once (see Close) and returns ctx.Err(). It does not end sessions itself:
// the router's Shutdown says GOODBYE first. Shut the http.Server down too,
// to stop accepting connections.
func (hd *Handler) Shutdown(ctx context.Context) error {
	hd.mu.Lock()
	hd.shutdown = true
	if hd.idle == nil && hd.active > 0 {
		hd.idle = make(chan struct{})
	}
	idle := hd.idle
	hd.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		hd.Close()
		return ctx.Err()
	}
}

// Close refuses new sessions, cancels the context given to ServePeer and
// closes every WebSocket connection at once, without a close handshake.
func (hd *Handler) Close() error {
	hd.mu.Lock()
	hd.shutdown = true
	hd.cancel()
	for p := range hd.peers {
		p.fail(errServerClosed)
	}
	hd.mu.Unlock()
	return nil
}

// hijackRecorder passes the ResponseWriter to coder/websocket and keeps
// the connection it hijacks: the peer sets write deadlines on it and, to
// fail without blocking, closes it under the WebSocket and TLS layers.
type hijackRecorder struct {
	http.ResponseWriter
	writeTimeout time.Duration
	conn         net.Conn
	wire         *wire // under the writer handed to coder/websocket; see wire
}

// It also swaps net/http's 4 KiB read and write buffers, which
// coder/websocket would keep for the life of the connection, for small
// ones: an idle WebSocket session should cost little memory, and larger
// frames bypass a bufio buffer anyway. Bytes net/http had already read stay
// in front of the new reader.
func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return c, brw, err
	}
	h.conn = c
	// http.Server's read and write timeouts may have set deadlines; the
	// session sets its own.
	c.SetDeadline(time.Time{})
	if brw.Writer.Buffered() > 0 {
		// Nothing should be pending before the upgrade response; flush
		// whatever is, rather than lose it.
		if err := brw.Writer.Flush(); err != nil {
			return c, brw, err
		}
	}
	// coder/websocket takes over what is buffered in the reader (it peeks
	// Buffered() bytes, then resets the reader onto the connection), so
	// the bytes net/http read ahead must sit in the new reader's buffer.
	buffered, _ := brw.Reader.Peek(brw.Reader.Buffered())
	size := max(hijackReadBuffer, len(buffered))
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(buffered)), c), size)
	if len(buffered) > 0 {
		if _, err := br.Peek(len(buffered)); err != nil {
			return c, brw, err
		}
	}
	h.wire = newWire(c, h.writeTimeout)
	small := bufio.NewReadWriter(br, bufio.NewWriterSize(h.wire, hijackWriteBuffer))
	return c, small, nil
}

// The buffers a hijacked WebSocket connection keeps: see Hijack. Only
// control frames go through the write buffer (the peer frames and writes
// its data messages itself, see wire): at most 4 bytes of header and 125 of
// payload.
const (
	hijackReadBuffer  = 512
	hijackWriteBuffer = 256
)

func (h *hijackRecorder) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// headerHasToken reports whether a comma-separated header contains token
// (case-insensitively).
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// tlsState is the request's TLS state; behind the one-port sniffer the
// request carries none, so the hijacked connection is asked.
func tlsState(r *http.Request, c net.Conn) *tls.ConnectionState {
	if r.TLS != nil {
		return r.TLS
	}
	return peerutil.TLSState(c)
}
