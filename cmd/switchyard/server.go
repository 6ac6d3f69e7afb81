package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/switchyard/switchyard/bridge"
	"github.com/switchyard/switchyard/console"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/rawsocket"
	"github.com/switchyard/switchyard/transport/websocket"
)

// listenerSpec is one endpoint to listen on, from a flag or the config file.
type listenerSpec struct {
	name    string // for logs and per-listener auth ("" → the router's own handler)
	origin  string // the flag or config entry, for error messages
	network string // tcp or unix
	addr    string
	kind    string // ws, rs or both
	tls     *tls.Config
	origins []string // WebSocket Origin patterns; nil accepts any
	// key identifies a config-file listener across reloads: a listener
	// whose key changes is re-bound, the others are left alone.
	key string
}

// server owns the listeners, the transport servers behind them and the
// goroutines that serve them.
type server struct {
	router *router.Router
	log    *slog.Logger
	sers   []serializer.Serializer
	ws     transport.Options // WebSocket transport options
	rs     transport.Options // RawSocket transport options
	hsTO   time.Duration     // handshake timeout
	// console serves the browser console on WebSocket listeners.
	console bool
	// bridge serves the HTTP API and webhooks (nil when no realm has one).
	bridge *bridge.Bridge

	mu        sync.Mutex               // guards the fields below (reloads add and close listeners)
	byKey     map[string]keyedListener // config listeners, by listenerSpec.key
	listeners []net.Listener
	raws      []*rawsocket.Server
	webs      []*websocket.Handler
	https     []*http.Server
	wg        sync.WaitGroup
	errs      chan error
}

// listen opens l and starts serving it. It returns the URLs clients use.
func (s *server) listen(l listenerSpec) ([]string, error) {
	ln, err := bind(l)
	if err != nil {
		return nil, err
	}
	return s.serveListener(l, ln), nil
}

// bind opens l's socket without serving it yet.
func bind(l listenerSpec) (net.Listener, error) {
	if l.network == "unix" {
		_ = os.Remove(l.addr) // a stale socket from an earlier run
	}
	ln, err := transport.Listen(context.Background(), l.network, l.addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.origin, err)
	}
	if l.tls != nil {
		ln = tls.NewListener(ln, l.tls)
	}
	return ln, nil
}

// serveListener serves a bound listener. It returns the URLs clients use.
func (s *server) serveListener(l listenerSpec, ln net.Listener) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.errs == nil {
		s.errs = make(chan error, 16)
	}
	s.listeners = append(s.listeners, ln)
	if l.key != "" {
		if s.byKey == nil {
			s.byKey = make(map[string]keyedListener)
		}
		s.byKey[l.key] = keyedListener{l, ln}
	}
	var h transport.Handler = s.router
	if l.name != "" {
		h = s.router.Handler(l.name)
	}
	raw := func() *rawsocket.Server {
		srv := rawsocket.NewServer(h, rawsocket.ServerOptions{Options: s.rs, Serializers: s.sers, HandshakeTimeout: s.hsTO})
		s.raws = append(s.raws, srv)
		return srv
	}
	// The WebSocket handler reads each connection's request head itself:
	// upgrades skip net/http, the rest (console, HTTP bridge) goes to hs.
	web := func() (*websocket.Handler, *http.Server) {
		wh := websocket.NewHandler(h, websocket.ServerOptions{Options: s.ws, Serializers: s.sers, Fallback: s.plainHTTP(), OriginPatterns: l.origins})
		s.webs = append(s.webs, wh)
		hs := &http.Server{Handler: wh, ReadHeaderTimeout: s.hsTO}
		s.https = append(s.https, hs)
		return wh, hs
	}
	switch l.kind {
	case "rs":
		srv := raw()
		s.serve(func() error { return srv.Serve(ln) })
	case "ws":
		wh, hs := web()
		s.serve(func() error { return wh.Serve(ln, hs) })
	case "both":
		srv := raw()
		wh, hs := web()
		rl, wl := transport.SniffListener(ln, s.hsTO)
		s.serve(func() error { return srv.Serve(rl) })
		s.serve(func() error { return wh.Serve(wl, hs) })
	}
	return listenerURLs(l.kind, l.network, ln.Addr().String(), l.tls != nil)
}

// closeKeyed stops accepting on the config listener with key. Its
// connections carry on: sessions are not dropped by a reload.
func (s *server) closeKeyed(key string) {
	s.mu.Lock()
	kl, ok := s.byKey[key]
	delete(s.byKey, key)
	s.mu.Unlock()
	if ok {
		kl.ln.Close()
	}
}

// keysExcept lists the config listeners served whose key is not in keep.
func (s *server) keysExcept(keep map[string]bool) []listenerSpec {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []listenerSpec
	for key, kl := range s.byKey {
		if !keep[key] {
			out = append(out, kl.spec)
		}
	}
	return out
}

// keyed reports whether a config listener with key is being served.
func (s *server) keyed(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byKey[key]
	return ok
}

// plainHTTP is what a WebSocket listener answers to plain HTTP requests
// (those without an Upgrade header). Features served over HTTP on the
// WebSocket port register their paths here; nil keeps the WebSocket
// handler's own answer, 426 Upgrade Required.
func (s *server) plainHTTP() http.Handler {
	mux := http.NewServeMux()
	if s.console {
		console.Register(mux)
	}
	if s.bridge != nil {
		s.bridge.Register(mux)
	}
	return mux
}

type keyedListener struct {
	spec listenerSpec
	ln   net.Listener
}

// serve runs fn in a goroutine the server waits for at shutdown.
func (s *server) serve(fn func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := fn(); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
			s.errs <- err
		}
	}()
}

func (s *server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ln := range s.listeners {
		ln.Close()
	}
}

// shutdown stops accepting, says GOODBYE to every session through the
// router, then waits for the transports to finish, all within ctx.
func (s *server) shutdown(ctx context.Context) {
	s.closeListeners()
	if s.bridge != nil {
		// First, so HTTP requests in flight answer 503 at once.
		s.bridge.Close(ctx)
	}
	err := s.router.Shutdown(ctx)
	s.mu.Lock() // no reload runs now; this only orders the reads
	defer s.mu.Unlock()
	for _, hs := range s.https {
		// WebSocket connections are hijacked: http.Server.Shutdown waits
		// only for plain HTTP requests; the handler waits for the rest.
		hs.Shutdown(ctx)
	}
	for _, wh := range s.webs {
		if werr := wh.Shutdown(ctx); err == nil {
			err = werr
		}
	}
	for _, srv := range s.raws {
		if rerr := srv.Shutdown(ctx); err == nil {
			err = rerr
		}
	}
	s.wg.Wait()
	if err != nil {
		s.log.Warn("shutdown deadline passed; remaining connections closed", "error", err)
	} else {
		s.log.Info("shutdown complete")
	}
}

func listenerURLs(kind, network, addr string, secure bool) []string {
	if network == "unix" {
		return []string{"unix://" + addr}
	}
	ws, rs := "ws://", "rs://"
	if secure {
		ws, rs = "wss://", "rss://"
	}
	switch kind {
	case "ws":
		return []string{ws + addr + "/"}
	case "rs":
		return []string{rs + addr}
	}
	return []string{ws + addr + "/", rs + addr}
}

func isLoopback(network, addr string) bool {
	if network == "unix" {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
