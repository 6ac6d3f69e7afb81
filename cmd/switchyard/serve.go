package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/rawsocket"
	"github.com/switchyard/switchyard/transport/websocket"
)

func env(name string) []string { return []string{"SWITCHYARD_" + name} }

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the router",
		Description: `Serves WAMP over WebSocket and RawSocket. With no flags: WebSocket on
127.0.0.1:8080, RawSocket on 127.0.0.1:8081, realm "realm1", anonymous
sessions with full permissions. Every flag is also an environment variable
SWITCHYARD_<FLAG> (upper case, dashes as underscores). An empty address
turns a listener off.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ws", Value: "127.0.0.1:8080", EnvVars: env("WS"), Usage: "WebSocket listen address"},
			&cli.StringFlag{Name: "rawsocket", Value: "127.0.0.1:8081", EnvVars: env("RAWSOCKET"), Usage: "RawSocket (TCP) listen address"},
			&cli.StringFlag{Name: "unix", EnvVars: env("UNIX"), Usage: "RawSocket Unix socket path"},
			&cli.StringFlag{Name: "listen", EnvVars: env("LISTEN"), Usage: "one port for both WebSocket and RawSocket (told apart by the first byte)"},
			&cli.StringFlag{Name: "wss", EnvVars: env("WSS"), Usage: "WebSocket over TLS listen address (needs --tls-cert and --tls-key)"},
			&cli.StringFlag{Name: "rawsocket-tls", EnvVars: env("RAWSOCKET_TLS"), Usage: "RawSocket over TLS listen address (needs --tls-cert and --tls-key)"},
			&cli.StringFlag{Name: "listen-tls", EnvVars: env("LISTEN_TLS"), Usage: "one TLS port for both WebSocket and RawSocket"},
			&cli.StringFlag{Name: "tls-cert", EnvVars: env("TLS_CERT"), Usage: "TLS certificate file (PEM)"},
			&cli.StringFlag{Name: "tls-key", EnvVars: env("TLS_KEY"), Usage: "TLS private key file (PEM)"},
			&cli.StringSliceFlag{Name: "realm", Value: cli.NewStringSlice("realm1"), EnvVars: env("REALM"), Usage: "realm to serve (repeatable)"},
			&cli.BoolFlag{Name: "auto-realms", EnvVars: env("AUTO_REALMS"), Usage: "create a realm on the first HELLO that names it"},
			&cli.IntFlag{Name: "max-auto-realms", Value: 1024, EnvVars: env("MAX_AUTO_REALMS"), Usage: "most realms --auto-realms may create"},
			&cli.StringSliceFlag{Name: "serializers", Value: cli.NewStringSlice("json", "msgpack", "cbor"), EnvVars: env("SERIALIZERS"), Usage: "serializers offered, in preference order"},
			&cli.IntFlag{Name: "max-message-size", Value: 16 << 20, EnvVars: env("MAX_MESSAGE_SIZE"), Usage: "largest message accepted, in bytes"},
			&cli.IntFlag{Name: "queue-max-bytes", Value: 4 << 20, EnvVars: env("QUEUE_MAX_BYTES"), Usage: "per-session outbound queue limit in bytes; a session past it is disconnected as a slow consumer"},
			&cli.IntFlag{Name: "queue-max-messages", Value: 8192, EnvVars: env("QUEUE_MAX_MESSAGES"), Usage: "per-session outbound queue limit in messages"},
			&cli.IntFlag{Name: "max-calls-per-session", Value: 4096, EnvVars: env("MAX_CALLS_PER_SESSION"), Usage: "calls one session may have in flight"},
			&cli.IntFlag{Name: "max-subscriptions-per-session", Value: 10000, EnvVars: env("MAX_SUBSCRIPTIONS_PER_SESSION"), Usage: "subscriptions one session may hold"},
			&cli.IntFlag{Name: "max-registrations-per-session", Value: 10000, EnvVars: env("MAX_REGISTRATIONS_PER_SESSION"), Usage: "registrations one session may hold"},
			&cli.DurationFlag{Name: "handshake-timeout", Value: 10 * time.Second, EnvVars: env("HANDSHAKE_TIMEOUT"), Usage: "time allowed from connect to WELCOME"},
			&cli.DurationFlag{Name: "ping-interval", Value: 30 * time.Second, EnvVars: env("PING_INTERVAL"), Usage: "WebSocket keepalive ping interval; 0 disables"},
			&cli.DurationFlag{Name: "rawsocket-ping-interval", EnvVars: env("RAWSOCKET_PING_INTERVAL"), Usage: "RawSocket keepalive PING interval; 0 (the default) disables, because autobahn-python cannot answer RawSocket PINGs"},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: 10 * time.Second, EnvVars: env("SHUTDOWN_TIMEOUT"), Usage: "time allowed for sessions to say GOODBYE on SIGINT/SIGTERM"},
			&cli.BoolFlag{Name: "strict-uris", EnvVars: env("STRICT_URIS"), Usage: "enforce the strict URI rules ([0-9a-z_] components)"},
			&cli.BoolFlag{Name: "lenient-request-ids", EnvVars: env("LENIENT_REQUEST_IDS"), Usage: "accept non-sequential request IDs from old clients"},
			&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: env("LOG_LEVEL"), Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: env("LOG_FORMAT"), Usage: "text or json"},
		},
		Action: runServe,
	}
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not text or json", format)
}

func runServe(c *cli.Context) error {
	log, err := newLogger(c.App.ErrWriter, c.String("log-level"), c.String("log-format"))
	if err != nil {
		return err
	}
	var sers []serializer.Serializer
	for _, name := range c.StringSlice("serializers") {
		for _, n := range strings.Split(name, ",") {
			s, ok := serializer.ByName(strings.TrimSpace(n))
			if !ok {
				return fmt.Errorf("--serializers: unknown serializer %q (json, msgpack, cbor)", n)
			}
			sers = append(sers, s)
		}
	}
	var realms []router.RealmConfig
	for _, name := range c.StringSlice("realm") {
		realms = append(realms, router.RealmConfig{Name: spec.URI(name)})
	}
	r, err := router.New(router.Options{
		Realms:                     realms,
		AutoCreateRealms:           c.Bool("auto-realms"),
		MaxAutoRealms:              c.Int("max-auto-realms"),
		StrictURIs:                 c.Bool("strict-uris"),
		LenientRequestIDs:          c.Bool("lenient-request-ids"),
		HandshakeTimeout:           c.Duration("handshake-timeout"),
		MaxCallsPerSession:         c.Int("max-calls-per-session"),
		MaxSubscriptionsPerSession: c.Int("max-subscriptions-per-session"),
		MaxRegistrationsPerSession: c.Int("max-registrations-per-session"),
		Agent:                      "switchyard-" + versionString(),
		Logger:                     log,
	})
	if err != nil {
		return err
	}
	topts := transport.Options{
		MaxMessageSize: c.Int("max-message-size"),
		QueueMaxBytes:  c.Int("queue-max-bytes"),
		QueueMaxFrames: c.Int("queue-max-messages"),
		PingInterval:   pingInterval(c.Duration("ping-interval")),
		Logger:         log,
	}
	// RawSocket PING is off by default: autobahn-python 22.x fails on it
	// (it reads the PING header as a frame length). TCP keepalive still
	// finds half-open connections.
	rsopts := topts
	rsopts.PingInterval = pingInterval(c.Duration("rawsocket-ping-interval"))
	srv := &server{
		router: r,
		log:    log,
		raw:    rawsocket.NewServer(r, rawsocket.ServerOptions{Options: rsopts, Serializers: sers, HandshakeTimeout: c.Duration("handshake-timeout")}),
		ws:     websocket.NewHandler(r, websocket.ServerOptions{Options: topts, Serializers: sers}),
	}
	var tlsConfig *tls.Config
	if c.String("tls-cert") != "" || c.String("tls-key") != "" {
		tlsConfig, err = transport.ServerTLSConfig(c.String("tls-cert"), c.String("tls-key"))
		if err != nil {
			return err
		}
	}
	needTLS := func(flag string) error {
		if tlsConfig == nil {
			return fmt.Errorf("--%s needs --tls-cert and --tls-key", flag)
		}
		return nil
	}
	type listener struct {
		flag, network, addr string
		tls                 bool
		kind                string
	}
	specs := []listener{
		{"ws", "tcp", c.String("ws"), false, "ws"},
		{"rawsocket", "tcp", c.String("rawsocket"), false, "rs"},
		{"unix", "unix", c.String("unix"), false, "rs"},
		{"listen", "tcp", c.String("listen"), false, "both"},
		{"wss", "tcp", c.String("wss"), true, "ws"},
		{"rawsocket-tls", "tcp", c.String("rawsocket-tls"), true, "rs"},
		{"listen-tls", "tcp", c.String("listen-tls"), true, "both"},
	}
	names := serializerNames(sers)
	var urls []string
	for _, l := range specs {
		if l.addr == "" {
			continue
		}
		if l.tls {
			if err := needTLS(l.flag); err != nil {
				return err
			}
		}
		if l.network == "unix" {
			_ = os.Remove(l.addr) // a stale socket from an earlier run
		}
		ln, err := net.Listen(l.network, l.addr)
		if err != nil {
			srv.closeListeners()
			return fmt.Errorf("--%s: %w", l.flag, err)
		}
		if l.tls {
			ln = tls.NewListener(ln, tlsConfig)
		}
		srv.start(l.kind, ln)
		for _, u := range listenerURLs(l.kind, l.network, ln.Addr().String(), l.tls) {
			urls = append(urls, u)
			log.Info("listening", "url", u, "serializers", names)
			if l.network == "tcp" && !isLoopback(ln.Addr()) {
				log.Warn("anonymous sessions have full access on a non-loopback address", "address", ln.Addr().String())
			}
		}
	}
	if len(srv.listeners) == 0 {
		return errors.New("no listener configured: set at least one of --ws, --rawsocket, --unix, --listen")
	}
	log.Info("switchyard ready", "version", versionString(), "realms", c.StringSlice("realm"))
	fmt.Fprintf(c.App.Writer, "Switchyard %s is routing realm(s) %s (serializers %s). Connect to:\n",
		versionString(), strings.Join(c.StringSlice("realm"), ", "), names)
	for _, u := range urls {
		fmt.Fprintf(c.App.Writer, "  %s\n", u)
	}

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-srv.errs:
		log.Error("listener failed", "error", err)
		defer os.Exit(1)
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.Duration("shutdown-timeout"))
	defer cancel()
	return srv.shutdown(sctx)
}

// server owns the listeners and the goroutines that serve them.
type server struct {
	router *router.Router
	log    *slog.Logger
	raw    *rawsocket.Server
	ws     *websocket.Handler

	listeners []net.Listener
	https     []*http.Server
	wg        sync.WaitGroup
	errs      chan error
}

func (s *server) start(kind string, ln net.Listener) {
	if s.errs == nil {
		s.errs = make(chan error, 8)
	}
	s.listeners = append(s.listeners, ln)
	serve := func(fn func() error) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := fn(); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
				s.errs <- err
			}
		}()
	}
	switch kind {
	case "rs":
		serve(func() error { return s.raw.Serve(ln) })
	case "ws":
		hs := &http.Server{Handler: s.ws, ReadHeaderTimeout: 10 * time.Second}
		s.https = append(s.https, hs)
		serve(func() error { return hs.Serve(ln) })
	case "both":
		hs := &http.Server{Handler: s.ws, ReadHeaderTimeout: 10 * time.Second}
		s.https = append(s.https, hs)
		raw, web := transport.SniffListener(ln, 10*time.Second)
		serve(func() error { return s.raw.Serve(raw) })
		serve(func() error { return hs.Serve(web) })
	}
}

func (s *server) closeListeners() {
	for _, ln := range s.listeners {
		ln.Close()
	}
}

// shutdown stops accepting, says GOODBYE to every session through the
// router, then waits for the transports to finish, all within ctx.
func (s *server) shutdown(ctx context.Context) error {
	s.closeListeners()
	err := s.router.Shutdown(ctx)
	for _, hs := range s.https {
		// WebSocket connections are hijacked: http.Server.Shutdown waits
		// only for plain HTTP requests; the handler waits for the rest.
		hs.Shutdown(ctx)
	}
	if werr := s.ws.Shutdown(ctx); err == nil {
		err = werr
	}
	if rerr := s.raw.Shutdown(ctx); err == nil {
		err = rerr
	}
	s.wg.Wait()
	if err != nil {
		s.log.Warn("shutdown deadline passed; remaining connections closed", "error", err)
	} else {
		s.log.Info("shutdown complete")
	}
	return nil
}

// pingInterval maps the CLI's "0 disables" to the transport's "negative
// disables" (where zero means the default).
func pingInterval(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

func serializerNames(sers []serializer.Serializer) string {
	names := make([]string, len(sers))
	for i, s := range sers {
		names[i] = s.Name()
	}
	return strings.Join(names, ",")
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

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return !ok || tcp.IP.IsLoopback()
}
