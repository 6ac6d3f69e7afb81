package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/cluster"
	"github.com/switchyard/switchyard/internal/gcfloor"
	"github.com/switchyard/switchyard/metrics"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
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
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "ws", Value: "127.0.0.1:8080", EnvVars: env("WS"), Usage: "WebSocket listen address"},
			&cli.StringFlag{Name: "rawsocket", Value: "127.0.0.1:8081", EnvVars: env("RAWSOCKET"), Usage: "RawSocket (TCP) listen address"},
			&cli.StringFlag{Name: "unix", EnvVars: env("UNIX"), Usage: "RawSocket Unix socket path"},
			&cli.StringFlag{Name: "listen", EnvVars: env("LISTEN"), Usage: "one port for both WebSocket and RawSocket (told apart by the first byte)"},
			&cli.StringFlag{Name: "wss", EnvVars: env("WSS"), Usage: "WebSocket over TLS listen address (needs --tls-cert and --tls-key)"},
			&cli.StringFlag{Name: "rawsocket-tls", EnvVars: env("RAWSOCKET_TLS"), Usage: "RawSocket over TLS listen address (needs --tls-cert and --tls-key)"},
			&cli.StringFlag{Name: "listen-tls", EnvVars: env("LISTEN_TLS"), Usage: "one TLS port for both WebSocket and RawSocket"},
			&cli.StringFlag{Name: "tls-cert", EnvVars: env("TLS_CERT"), Usage: "TLS certificate file (PEM)"},
			&cli.StringFlag{Name: "tls-key", EnvVars: env("TLS_KEY"), Usage: "TLS private key file (PEM)"},
			&cli.StringFlag{Name: "config", EnvVars: env("CONFIG"), Usage: "YAML file with listeners, realms, roles, permissions and principals (see README)"},
			&cli.StringSliceFlag{Name: "ticket", EnvVars: env("TICKET"), Usage: "a ticket principal AUTHID:TICKET[:ROLE] on the --realm realms (repeatable; role default user, allowed everything)"},
			&cli.StringSliceFlag{Name: "cryptosign", EnvVars: env("CRYPTOSIGN"), Usage: "a cryptosign principal AUTHID:PUBKEY[:ROLE] (hex Ed25519 public key) on the --realm realms (repeatable)"},
			&cli.BoolFlag{Name: "http-api", EnvVars: env("HTTP_API"), Usage: "serve POST /api/REALM/publish and /api/REALM/call on WebSocket listeners for the --realm realms, anonymously (see docs/HTTP-BRIDGE.md)"},
			&cli.BoolFlag{Name: "no-anonymous", EnvVars: env("NO_ANONYMOUS"), Usage: "refuse anonymous sessions on the --realm realms"},
			&cli.BoolFlag{Name: "auth-rate-limit", Value: true, EnvVars: env("AUTH_RATE_LIMIT"), Usage: "slow down repeated authentication failures from one address"},
			&cli.StringSliceFlag{Name: "event-history", EnvVars: env("EVENT_HISTORY"), Usage: "keep the last LIMIT events of a topic for wamp.subscription.get_events: [prefix:|wildcard:]URI[=LIMIT] (repeatable; LIMIT default 100; every realm)"},
			&cli.StringSliceFlag{Name: "realm", Value: cli.NewStringSlice("realm1"), EnvVars: env("REALM"), Usage: "realm to serve (repeatable)"},
			&cli.BoolFlag{Name: "auto-realms", EnvVars: env("AUTO_REALMS"), Usage: "create a realm on the first HELLO that names it"},
			&cli.IntFlag{Name: "max-auto-realms", Value: 1024, EnvVars: env("MAX_AUTO_REALMS"), Usage: "most realms --auto-realms may create"},
			&cli.StringSliceFlag{Name: "serializers", Value: cli.NewStringSlice("json", "msgpack", "cbor"), EnvVars: env("SERIALIZERS"), Usage: "serializers offered, in preference order"},
			&cli.IntFlag{Name: "max-message-size", Value: 16 << 20, EnvVars: env("MAX_MESSAGE_SIZE"), Usage: "largest message accepted, in bytes"},
			&cli.IntFlag{Name: "queue-max-bytes", Value: 4 << 20, EnvVars: env("QUEUE_MAX_BYTES"), Usage: "per-session outbound queue limit in bytes; a session past it is disconnected as a slow consumer"},
			&cli.IntFlag{Name: "queue-max-messages", Value: 8192, EnvVars: env("QUEUE_MAX_MESSAGES"), Usage: "per-session outbound queue limit in messages"},
			&cli.IntFlag{Name: "gc-floor", Value: 16 << 20, EnvVars: env("GC_FLOOR"), Usage: "heap size in bytes below which the garbage collector waits (fewer collections under load for at most this much memory; 0: Go's own pacing; GOGC and GOMEMLIMIT still apply)"},
			&cli.IntFlag{Name: "max-sessions", EnvVars: env("MAX_SESSIONS"), Usage: "connections the router accepts at once, all listeners together (0: unlimited); RawSocket clients past it get handshake error 4, WebSocket clients HTTP 503"},
			&cli.IntFlag{Name: "max-sessions-per-address", EnvVars: env("MAX_SESSIONS_PER_ADDRESS"), Usage: "connections one IP address may hold at once (0: unlimited)"},
			&cli.IntFlag{Name: "max-calls-per-session", Value: 4096, EnvVars: env("MAX_CALLS_PER_SESSION"), Usage: "calls one session may have in flight"},
			&cli.IntFlag{Name: "max-subscriptions-per-session", Value: 10000, EnvVars: env("MAX_SUBSCRIPTIONS_PER_SESSION"), Usage: "subscriptions one session may hold"},
			&cli.IntFlag{Name: "max-registrations-per-session", Value: 10000, EnvVars: env("MAX_REGISTRATIONS_PER_SESSION"), Usage: "registrations one session may hold"},
			&cli.DurationFlag{Name: "call-timeout", EnvVars: env("CALL_TIMEOUT"), Usage: "timeout of calls that set none (0: none); the caller then gets wamp.error.timeout"},
			&cli.DurationFlag{Name: "handshake-timeout", Value: 10 * time.Second, EnvVars: env("HANDSHAKE_TIMEOUT"), Usage: "time allowed from connect to WELCOME"},
			&cli.DurationFlag{Name: "ping-interval", Value: 30 * time.Second, EnvVars: env("PING_INTERVAL"), Usage: "WebSocket keepalive ping interval; 0 disables"},
			&cli.DurationFlag{Name: "rawsocket-ping-interval", EnvVars: env("RAWSOCKET_PING_INTERVAL"), Usage: "RawSocket keepalive PING interval; 0 (the default) disables, because autobahn-python cannot answer RawSocket PINGs"},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: 10 * time.Second, EnvVars: env("SHUTDOWN_TIMEOUT"), Usage: "time allowed for sessions to say GOODBYE on SIGINT/SIGTERM"},
			&cli.BoolFlag{Name: "strict-uris", EnvVars: env("STRICT_URIS"), Usage: "enforce the strict URI rules ([0-9a-z_] components)"},
			&cli.BoolFlag{Name: "lenient-request-ids", EnvVars: env("LENIENT_REQUEST_IDS"), Usage: "accept non-sequential request IDs from old clients"},
			&cli.BoolFlag{Name: "console", Value: true, EnvVars: env("CONSOLE"), Usage: "serve the browser console at / and its WAMP client at /switchyard.js on WebSocket listeners (the config file's console: key sets it too; the flag wins)"},
			&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: env("LOG_LEVEL"), Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: env("LOG_FORMAT"), Usage: "text or json"},
		}, append(operationsFlags(), clusterFlags()...)...),
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
	// SIGHUP reloads --config. Caught from the start: its default action
	// would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log, err := newLogger(c.App.ErrWriter, c.String("log-level"), c.String("log-format"))
	if err != nil {
		return err
	}
	if c.Int("gc-floor") < 0 {
		return fmt.Errorf("--gc-floor: %d is negative", c.Int("gc-floor"))
	}
	defer gcfloor.Start(uint64(c.Int("gc-floor"))).Stop()
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
	var cfg *auth.Config
	if path := c.String("config"); path != "" {
		if cfg, err = auth.LoadConfig(path); err != nil {
			return err // names the file, line and field
		}
		for _, w := range cfg.Warnings {
			log.Warn("config: " + w)
		}
	}
	realms, err := realmConfigs(c, cfg)
	if err != nil {
		return err
	}
	history, err := historyConfigs(c.StringSlice("event-history"))
	if err != nil {
		return err
	}
	for i := range realms {
		realms[i].History = history
	}
	var limiter *auth.RateLimiter
	if c.Bool("auth-rate-limit") {
		limiter = auth.NewRateLimiter(auth.RateLimitOptions{})
	}
	listeners := map[string]*auth.Listener{}
	if cfg != nil {
		for i := range cfg.Listeners {
			listeners[cfg.Listeners[i].Name] = &cfg.Listeners[i]
		}
	}
	// A cluster node, only when asked for: without one no NATS code runs.
	var node *cluster.Node
	var linked router.Cluster
	if copts, ok := clusterOptions(c, cfg, log); ok {
		if node, err = cluster.Start(copts); err != nil {
			return err
		}
		defer node.Close() // after the router's shutdown below
		linked = node
	}
	r, err := router.New(router.Options{
		Cluster:                    linked,
		Realms:                     realms,
		AutoCreateRealms:           c.Bool("auto-realms"),
		MaxAutoRealms:              c.Int("max-auto-realms"),
		StrictURIs:                 c.Bool("strict-uris"),
		LenientRequestIDs:          c.Bool("lenient-request-ids"),
		HandshakeTimeout:           c.Duration("handshake-timeout"),
		MaxCallsPerSession:         c.Int("max-calls-per-session"),
		DefaultCallTimeout:         c.Duration("call-timeout"),
		MaxSubscriptionsPerSession: c.Int("max-subscriptions-per-session"),
		MaxRegistrationsPerSession: c.Int("max-registrations-per-session"),
		Listeners:                  listeners,
		RateLimiter:                limiter,
		Agent:                      "switchyard-" + versionString(),
		Logger:                     log,
	})
	if err != nil {
		return err
	}
	ws := transport.Options{
		Limiter:        &transport.ConnLimiter{MaxTotal: c.Int("max-sessions"), MaxPerAddr: c.Int("max-sessions-per-address")},
		MaxMessageSize: c.Int("max-message-size"),
		QueueMaxBytes:  c.Int("queue-max-bytes"),
		QueueMaxFrames: c.Int("queue-max-messages"),
		PingInterval:   pingInterval(c.Duration("ping-interval")),
		Logger:         log,
	}
	// RawSocket PING is off by default: autobahn-python 22.x fails on it
	// (it reads the PING header as a frame length). TCP keepalive still
	// finds half-open connections.
	wsMeter, rsMeter := &transport.Meter{}, &transport.Meter{}
	ws.Meter = wsMeter
	rs := ws
	rs.PingInterval = pingInterval(c.Duration("rawsocket-ping-interval"))
	rs.Meter = rsMeter
	srv := &server{router: r, log: log, sers: sers, ws: ws, rs: rs, hsTO: c.Duration("handshake-timeout")}
	srv.console = consoleEnabled(c, cfg)
	if srv.bridge, err = newBridge(r, realms, log); err != nil {
		return err
	}
	ops, err := startOperations(c, cfg, log, srv, metrics.Options{
		Router:  r,
		Meters:  map[string]*transport.Meter{"websocket": wsMeter, "rawsocket": rsMeter},
		Version: versionString(),
	})
	if err != nil {
		return err
	}
	defer ops.stop(context.Background())
	if node != nil {
		ops.ready.Add("cluster", node.Ready)
	}
	if srv.bridge != nil {
		if err := srv.bridge.RegisterMetrics(ops.metrics.Registerer()); err != nil {
			return fmt.Errorf("registering the HTTP bridge's metrics: %w", err)
		}
	}

	specs, err := listenerSpecs(c, cfg)
	if err != nil {
		return err
	}
	anonymous := false
	for _, rc := range realms {
		anonymous = anonymous || rc.Auth == nil || rc.Auth.Anonymous != nil
	}
	names := serializerNames(sers)
	var urls []string
	for _, l := range specs {
		u, err := srv.listen(l)
		if err != nil {
			srv.closeListeners()
			return err
		}
		for _, url := range u {
			log.Info("listening", "url", url, "serializers", names, "listener", l.name)
		}
		urls = append(urls, u...)
		if anonymous && !isLoopback(l.network, l.addr) {
			log.Warn("anonymous sessions are allowed on a non-loopback address", "address", l.addr)
		}
	}
	if len(specs) == 0 {
		return errors.New("no listener configured: set at least one of --ws, --rawsocket, --unix, --listen (or listeners in --config)")
	}
	ops.up.Store(true)
	realmNames := make([]string, len(realms))
	for i, rc := range realms {
		realmNames[i] = string(rc.Name)
	}
	log.Info("switchyard ready", "version", versionString(), "realms", realmNames)
	fmt.Fprintf(c.App.Writer, "Switchyard %s is routing realm(s) %s (serializers %s). Connect to:\n",
		versionString(), strings.Join(realmNames, ", "), names)
	for _, u := range urls {
		fmt.Fprintf(c.App.Writer, "  %s\n", u)
	}

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var failed error
wait:
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			break wait
		case failed = <-srv.errs:
			log.Error("listener failed", "error", failed)
			break wait
		case <-hup:
			log.Info("SIGHUP: reloading the configuration", "config", c.String("config"))
			ops.reloader.reload(ctx) // logs and counts its outcome
		}
	}
	ops.ready.ShuttingDown()
	ops.reloader.close()
	sctx, cancel := context.WithTimeout(context.Background(), c.Duration("shutdown-timeout"))
	defer cancel()
	srv.shutdown(sctx)
	return failed
}

// realmConfigs builds the realms: those of the config file, and those the
// --realm flag names (all of them without a config file; with one, only
// when the flag is set). Flag realms admit anonymous sessions (unless
// --no-anonymous) and the --ticket and --cryptosign principals.
func realmConfigs(c *cli.Context, cfg *auth.Config) ([]router.RealmConfig, error) {
	var out []router.RealmConfig
	seen := map[spec.URI]bool{}
	if cfg != nil {
		for _, rc := range cfg.Realms {
			out = append(out, router.RealmConfig{Name: rc.Name, Auth: rc})
			seen[rc.Name] = true
		}
	}
	if cfg != nil && !c.IsSet("realm") {
		return out, nil
	}
	principals, roles, err := flagPrincipals(c)
	if err != nil {
		return nil, err
	}
	for _, name := range c.StringSlice("realm") {
		if seen[spec.URI(name)] {
			continue
		}
		seen[spec.URI(name)] = true
		rc := &auth.RealmConfig{Name: spec.URI(name), Principals: principals}
		for _, role := range roles {
			rc.Roles = append(rc.Roles, fullAccess(role))
		}
		if !c.Bool("no-anonymous") {
			rc.Anonymous = &auth.AnonymousOptions{Role: "anonymous"}
			rc.Roles = append(rc.Roles, fullAccess("anonymous"))
		}
		if c.Bool("http-api") {
			rc.HTTPAPI = &auth.HTTPAPI{Enabled: true, Anonymous: rc.Anonymous != nil}
		}
		out = append(out, router.RealmConfig{Name: rc.Name, Auth: rc})
	}
	return out, nil
}

// historyConfigs parses --event-history values: [prefix:|wildcard:]URI[=LIMIT].
func historyConfigs(values []string) ([]router.HistoryConfig, error) {
	var out []router.HistoryConfig
	for _, v := range values {
		h := router.HistoryConfig{Match: spec.MatchExact}
		rest := v
		for _, m := range []string{spec.MatchPrefix, spec.MatchWildcard, spec.MatchExact} {
			if after, ok := strings.CutPrefix(rest, m+":"); ok {
				h.Match, rest = m, after
				break
			}
		}
		if uri, limit, ok := strings.Cut(rest, "="); ok {
			n, err := strconv.Atoi(limit)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("--event-history %q: the limit must be a positive number", v)
			}
			h.Limit, rest = n, uri
		}
		h.Topic = spec.URI(rest)
		if !spec.ValidURI(h.Topic, spec.Loose, h.Match) {
			return nil, fmt.Errorf("--event-history %q: %q is not a valid %s topic", v, rest, h.Match)
		}
		out = append(out, h)
	}
	return out, nil
}

// fullAccess is a role allowed everything (but, as always, registering or
// publishing under wamp.): what flag-defined principals get.
func fullAccess(name string) auth.Role {
	return auth.Role{Name: name, Permissions: []auth.Permission{{
		URI: "", Match: spec.MatchPrefix, Call: true, Register: true, Publish: true, Subscribe: true,
	}}}
}

// flagPrincipals parses --ticket AUTHID:TICKET[:ROLE] and
// --cryptosign AUTHID:PUBKEY[:ROLE] (role default "user").
func flagPrincipals(c *cli.Context) ([]auth.Principal, []string, error) {
	var ps []auth.Principal
	roles := map[string]bool{}
	var roleList []string
	parse := func(flag, v string) (authid, secret, role string, err error) {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return "", "", "", fmt.Errorf("--%s %q: want AUTHID:%s[:ROLE]", flag, v, map[string]string{"ticket": "TICKET", "cryptosign": "PUBKEY"}[flag])
		}
		role = "user"
		if len(parts) == 3 && parts[2] != "" {
			role = parts[2]
		}
		if !roles[role] {
			roles[role] = true
			roleList = append(roleList, role)
		}
		return parts[0], parts[1], role, nil
	}
	for _, v := range c.StringSlice("ticket") {
		authid, ticket, role, err := parse("ticket", v)
		if err != nil {
			return nil, nil, err
		}
		ps = append(ps, auth.Principal{AuthID: authid, Role: role, Ticket: auth.PlainTicket(ticket)})
	}
	for _, v := range c.StringSlice("cryptosign") {
		authid, pub, role, err := parse("cryptosign", v)
		if err != nil {
			return nil, nil, err
		}
		key, err := auth.ParseCryptosignPublicKey(pub)
		if err != nil {
			return nil, nil, fmt.Errorf("--cryptosign %s: %w", authid, err)
		}
		ps = append(ps, auth.Principal{AuthID: authid, Role: role, Cryptosign: []ed25519.PublicKey{key}})
	}
	return ps, roleList, nil
}

// listenerSpecs lists the endpoints to open: every flag listener (without a
// config file; with one, the flags that are set), then the config file's
// listeners, whose authentication methods the router restricts by name.
func listenerSpecs(c *cli.Context, cfg *auth.Config) ([]listenerSpec, error) {
	var tlsConfig *tls.Config
	if c.String("tls-cert") != "" || c.String("tls-key") != "" {
		var err error
		if tlsConfig, err = transport.ServerTLSConfig(c.String("tls-cert"), c.String("tls-key")); err != nil {
			return nil, err
		}
	}
	flags := []struct {
		flag, network, kind string
		secure              bool
	}{
		{"ws", "tcp", "ws", false},
		{"rawsocket", "tcp", "rs", false},
		{"unix", "unix", "rs", false},
		{"listen", "tcp", "both", false},
		{"wss", "tcp", "ws", true},
		{"rawsocket-tls", "tcp", "rs", true},
		{"listen-tls", "tcp", "both", true},
	}
	var specs []listenerSpec
	for _, f := range flags {
		addr := c.String(f.flag)
		if addr == "" || (cfg != nil && len(cfg.Listeners) > 0 && !c.IsSet(f.flag)) {
			continue
		}
		l := listenerSpec{origin: "--" + f.flag, network: f.network, addr: addr, kind: f.kind}
		if f.kind != "rs" {
			l.origins = wsAllowedOrigins(c)
		}
		if f.secure {
			if tlsConfig == nil {
				return nil, fmt.Errorf("--%s needs --tls-cert and --tls-key", f.flag)
			}
			l.tls = tlsConfig
		}
		specs = append(specs, l)
	}
	if cfg != nil {
		for _, cl := range cfg.Listeners {
			l := listenerSpec{name: cl.Name, origin: "config listener " + cl.Name, network: "tcp", addr: cl.Address}
			switch cl.Transport {
			case auth.TransportWebSocket:
				l.kind = "ws"
			case auth.TransportRawSocket:
				l.kind = "rs"
			case auth.TransportUnix:
				l.kind, l.network = "rs", "unix"
			case auth.TransportListen:
				l.kind = "both"
			}
			tc, err := cl.TLSConfig()
			if err != nil {
				return nil, fmt.Errorf("config listener %s: %w", cl.Name, err)
			}
			l.tls = tc
			if l.kind != "rs" {
				l.origins = cl.AllowedOrigins
				if l.origins == nil {
					l.origins = wsAllowedOrigins(c)
				}
			}
			l.key = listenerKey(cl, l.origins)
			specs = append(specs, l)
		}
	}
	return specs, nil
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

// consoleEnabled: an explicit --console flag (or its environment variable)
// wins, then the config file's console key, then the default (on).
func consoleEnabled(c *cli.Context, cfg *auth.Config) bool {
	if !c.IsSet("console") && cfg != nil && cfg.Console != nil {
		return *cfg.Console
	}
	return c.Bool("console")
}
