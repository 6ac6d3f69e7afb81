// Package admin is the router's operator HTTP endpoint, served on its own
// listener (--admin, 127.0.0.1:8082 by default) apart from the WAMP ports:
//
//	GET  /metrics  Prometheus exposition (OpenMetrics when asked)
//	GET  /healthz  200 while the process serves
//	GET  /readyz   200 when every readiness check passes, else 503 with a
//	               JSON body naming what is not ready
//	POST /reload   re-read the configuration file
//
// POST /reload changes the running router, so it is refused unless a token
// is configured (and sent as "Authorization: Bearer TOKEN") or, without a
// token, the admin listener is bound to a loopback address.
package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Readiness collects named checks; the process is ready when all pass and
// it is not shutting down. Features add their own checks with Add.
type Readiness struct {
	mu       sync.Mutex
	checks   []namedCheck
	stopping atomic.Bool
}

type namedCheck struct {
	name  string
	check func() error
}

// Add registers a check: nil means ready, an error says why not. Checks
// run on every /readyz request and must be quick.
func (r *Readiness) Add(name string, check func() error) {
	r.mu.Lock()
	r.checks = append(r.checks, namedCheck{name, check})
	r.mu.Unlock()
}

// ShuttingDown marks the process as going away: /readyz answers 503 from
// now on, so load balancers stop sending new clients.
func (r *Readiness) ShuttingDown() { r.stopping.Store(true) }

// Check runs every check and returns what is not ready, by name (empty
// when ready).
func (r *Readiness) Check() map[string]string {
	r.mu.Lock()
	checks := append([]namedCheck(nil), r.checks...)
	r.mu.Unlock()
	out := map[string]string{}
	if r.stopping.Load() {
		out["shutdown"] = "the router is shutting down"
	}
	for _, c := range checks {
		if err := c.check(); err != nil {
			out[c.name] = err.Error()
		}
	}
	return out
}

// Options configures a Server.
type Options struct {
	// Metrics serves /metrics; nil answers 404.
	Metrics http.Handler
	// Readiness backs /readyz; nil is always ready.
	Readiness *Readiness
	// Reload re-reads the configuration; nil answers 404 on /reload. The
	// returned value is sent back as JSON.
	Reload func(ctx context.Context) (any, error)
	// Token, if set, is required by POST /reload.
	Token string
	// Logger (nil → slog.Default()).
	Logger *slog.Logger
}

// Server is the admin HTTP server.
type Server struct {
	ln       net.Listener
	hs       *http.Server
	opts     Options
	log      *slog.Logger
	loopback bool
}

// Listen binds addr. Serve with Serve; stop with Shutdown.
func Listen(addr string, opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	return newServer(ln, opts), nil
}

func newServer(ln net.Listener, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Readiness == nil {
		opts.Readiness = &Readiness{}
	}
	s := &Server{ln: ln, opts: opts, log: opts.Logger}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		s.loopback = tcp.IP.IsLoopback()
	}
	mux := http.NewServeMux()
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if opts.Reload != nil {
		mux.HandleFunc("POST /reload", s.reload)
	}
	s.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until Shutdown; run it on a goroutine the caller owns.
func (s *Server) Serve() error {
	if err := s.hs.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: %w", err)
	}
	return nil
}

// Shutdown stops the server (Serve returns at once), letting requests in
// progress finish within ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.hs.Shutdown(ctx)
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	notReady := s.opts.Readiness.Check()
	if len(notReady) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"ready": true})
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "not_ready": notReady})
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if err := s.authorizeReload(r); err != nil {
		s.log.Warn("admin: reload refused", "remote", r.RemoteAddr, "error", err)
		writeJSON(w, http.StatusForbidden, map[string]any{"error": err.Error()})
		return
	}
	res, err := s.opts.Reload(r.Context())
	if err != nil {
		// The reload itself logs and counts the failure.
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// authorizeReload applies the rule of the package doc.
func (s *Server) authorizeReload(r *http.Request) error {
	if s.opts.Token == "" {
		if !s.loopback {
			return errors.New("reload over a non-loopback admin listener needs a token (--admin-token)")
		}
		return nil
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.Token)) != 1 {
		return errors.New("missing or wrong token")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
