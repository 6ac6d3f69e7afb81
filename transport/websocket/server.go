package websocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/idle"
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
	// ParkIdle is the idle sweep period: a connection (over a plain TCP or
	// Unix socket, not TLS) that receives nothing for between one and two
	// periods gives back its reader goroutine and read buffer until input
	// arrives (see package transport/idle). 0 means idle.DefaultPeriod
	// (1 s); negative disables parking. Linux only; elsewhere connections
	// keep their readers.
	ParkIdle time.Duration
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

	baseCtx context.Context
	cancel  context.CancelFunc

	// parking parks the readers of idle connections; nil when disabled.
	parking *idle.Group

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
	hd.baseCtx, hd.cancel = context.WithCancel(context.Background())
	if opts.ParkIdle >= 0 && idle.Supported() {
		hd.parking = idle.NewGroup(opts.ParkIdle)
	}
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
	if r.Method != http.MethodGet {
		http.Error(w, "a WebSocket upgrade must be a GET request", http.StatusMethodNotAllowed)
		return
	}
	if !headerHasToken(r.Header, "Sec-WebSocket-Version", "13") {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "unsupported WebSocket version: this router speaks version 13", http.StatusUpgradeRequired)
		return
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if !validKey(key) {
		http.Error(w, "missing or malformed Sec-WebSocket-Key", http.StatusBadRequest)
		return
	}
	if err := checkOrigin(r.Header.Get("Origin"), r.Host, hd.opts.OriginPatterns); err != nil {
		hd.log.Info("refused: origin not allowed", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"))
		http.Error(w, "origin "+r.Header.Get("Origin")+" not allowed", http.StatusForbidden)
		return
	}
	if !hd.admit(w, r.RemoteAddr) {
		return
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		hd.log.Info("upgrade failed", "remote", r.RemoteAddr, "error", err)
		hd.release(r.RemoteAddr)
		http.Error(w, "cannot upgrade this connection", http.StatusInternalServerError)
		return
	}
	// http.Server's read and write timeouts may have set deadlines; the
	// session sets its own.
	c.SetDeadline(time.Time{})
	// net/http may have read past the request (frames the client sent
	// right after it): those bytes are read first, by a small reader that
	// replaces net/http's 4 KiB one, which an idle session would keep.
	pre := leftover(brw.Reader)
	tlsOn := r.TLS != nil || peerutil.IsTLS(c)
	hd.upgraded(c, pre, key, proto, r.RemoteAddr, tlsOn, tlsState(r, c))
}

// admit counts a connection about to become a session, within the
// connection limit; it answers the refusal itself.
func (hd *Handler) admit(w http.ResponseWriter, remote string) bool {
	if code, msg := hd.admitCode(remote); code != 0 {
		http.Error(w, msg, code)
		return false
	}
	return true
}

// admitCode is admit for any front end: a refusal's HTTP status and
// message, or 0.
func (hd *Handler) admitCode(remote string) (int, string) {
	if !hd.enter() {
		return http.StatusServiceUnavailable, "server shutting down"
	}
	if !hd.opts.Limiter.Acquire(remote) {
		hd.leave()
		hd.log.Info("refused: maximum connection count reached", "remote", remote)
		return http.StatusServiceUnavailable, "maximum connection count reached"
	}
	return 0, ""
}

// release undoes admit.
func (hd *Handler) release(remote string) {
	hd.opts.Limiter.Release(remote)
	hd.leave()
}

// upgraded answers an admitted upgrade request (101) on c and runs the
// session. pre holds the bytes read past the request.
func (hd *Handler) upgraded(c net.Conn, pre []byte, key, proto, remote string, tlsOn bool, state *tls.ConnectionState) {
	s, batched, _ := serializer.BySubprotocol(proto)
	wr := newWire(c, hd.opts.WriteTimeout)
	var resp [256]byte
	if _, err := wr.Write(appendUpgradeResponse(resp[:0], key, proto)); err != nil {
		hd.log.Info("upgrade failed", "remote", remote, "error", err)
		c.Close()
		hd.release(remote)
		return
	}
	if session := hd.run(c, pre, wr, s, batched, proto, remote, tlsOn, state); session != nil {
		// net/http's goroutine (deep stack, the request) returns rather
		// than staying with the connection.
		go session()
	}
}

// run sets up the session of an upgraded connection and returns the
// function that serves it, owned by the handler (counted by admit, waited
// for by Shutdown), or nil if the handler is closed. Serve runs it on the
// goroutine that read the head (its stack already grown by the upgrade:
// a new goroutine grew its own twice per session); ServeHTTP on a new
// goroutine, so that net/http's, with its deep stack and the request,
// returns instead of staying with every idle connection. The session keeps
// only the remote address of the request, not the request itself
// (headers, URL, context: over 2 KB).
//
// If the handler parks the session's reader (transport.Parker), the
// function returns there; the peer's end does the bookkeeping (onFinish).
func (hd *Handler) run(c net.Conn, pre []byte, wr *wire, s serializer.Serializer, batched bool, proto, remote string, tlsOn bool, state *tls.ConnectionState) func() {
	info := transport.Info{
		Transport:  "websocket",
		Protocol:   proto,
		RemoteAddr: remote,
		TLS:        tlsOn,
		TLSState:   state,
		MaxRecv:    hd.opts.MaxMessageSize,
		MaxSend:    hd.opts.MaxMessageSize,
	}
	sc := newConn(c, pre, wr, hd.opts.MaxMessageSize, false)
	if hd.parking != nil && !tlsOn && parkable(c) {
		sc.initPark(hd.parking)
	}
	p := newPeer(sc, c, wr, s, batched, info, hd.opts.Options, func(p *peer) {
		if sc.canPark() {
			hd.parking.Forget(sc)
		}
		hd.remove(p)
		hd.release(remote)
	})
	p.rawPayloads = true // a router reads what a server receives
	if !hd.add(p) {
		p.fail(errServerClosed)
		<-p.Done()
		return nil
	}
	if sc.canPark() {
		hd.parking.Watch(sc)
	}
	return func() {
		hd.h.ServePeer(hd.baseCtx, p)
		if sc.pk.handedOff.Load() {
			// The reader parked: the handler resumes it later and closes
			// the peer.
			return
		}
		p.Close("session ended")
		<-p.Done()
	}
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
		hd.stopParking()
		return nil
	}
	select {
	case <-idle:
		hd.stopParking()
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
	hd.stopParking()
	return nil
}

// Parked returns how many of the handler's connections are parked now
// (hold no reader goroutine).
func (hd *Handler) Parked() int {
	if hd.parking == nil {
		return 0
	}
	return hd.parking.Parked()
}

// stopParking ends the idle sweeper and poller; every parked connection
// has been woken by then (a peer unparks before it closes).
func (hd *Handler) stopParking() {
	if hd.parking != nil {
		hd.parking.Close()
	}
}

// leftover returns a copy of what old has buffered past the request (nil
// if nothing): the session reads it first, through its own small reader.
func leftover(old *bufio.Reader) []byte {
	n := old.Buffered()
	if n == 0 {
		return nil
	}
	buffered, _ := old.Peek(n)
	return bytes.Clone(buffered)
}

// readBufferSize is the read buffer an upgraded connection holds while its
// reader runs (pooled; a parked connection holds none). Larger frames
// bypass it.
const readBufferSize = 512

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
