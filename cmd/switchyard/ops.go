package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/switchyard/switchyard/admin"
	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/metrics"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/spec"
)

// defaultAdmin is where the admin listener goes without --admin.
const defaultAdmin = "127.0.0.1:8082"

func operationsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "admin", Value: defaultAdmin, EnvVars: env("ADMIN"), Usage: "admin HTTP listener: /metrics (Prometheus), /healthz, /readyz, POST /reload; empty turns it off"},
		&cli.StringFlag{Name: "admin-token", EnvVars: env("ADMIN_TOKEN"), Usage: "token POST /reload requires (Authorization: Bearer TOKEN); without one, reload over HTTP works only on a loopback admin address"},
		&cli.StringSliceFlag{Name: "ws-allowed-origins", EnvVars: env("WS_ALLOWED_ORIGINS"), Usage: "browser Origin host patterns WebSocket listeners accept, e.g. app.example.com,*.example.com (default: any origin)"},
	}
}

// wsAllowedOrigins is --ws-allowed-origins, comma lists split; nil when
// unset (any origin).
func wsAllowedOrigins(c *cli.Context) []string {
	var out []string
	for _, v := range c.StringSlice("ws-allowed-origins") {
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				out = append(out, o)
			}
		}
	}
	return out
}

// listenerKey identifies a config listener's socket setup: a reload
// re-binds a listener whose key changed and leaves the others alone. Auth
// methods are not part of it: the router applies those without a re-bind.
func listenerKey(cl auth.Listener, origins []string) string {
	var b strings.Builder
	for _, f := range []string{cl.Name, cl.Transport, cl.Address} {
		b.WriteString(strconv.Quote(f))
	}
	if cl.TLS != nil {
		for _, f := range []string{cl.TLS.Cert, cl.TLS.Key, cl.TLS.ClientCA} {
			b.WriteString(strconv.Quote(f))
		}
	}
	b.WriteString(strconv.Quote(strings.Join(origins, ",")))
	return b.String()
}

// operations is what serve runs beside the WAMP listeners: the metrics
// registry, readiness, the admin listener and the reloader.
type operations struct {
	log      *slog.Logger
	metrics  *metrics.Registry
	ready    *admin.Readiness
	reloader *reloader
	admin    *admin.Server
	adminErr chan error
	up       atomic.Bool // every listener is open
}

// startOperations builds the registry and the reloader and opens the admin
// listener. An admin address that fails to bind is an error, except the
// default one when it is busy: then the router runs without (tests and
// laptops start several routers), with a warning.
func startOperations(c *cli.Context, cfg *auth.Config, log *slog.Logger, srv *server, m metrics.Options) (*operations, error) {
	o := &operations{log: log, metrics: metrics.New(m), ready: &admin.Readiness{}}
	o.reloader = &reloader{c: c, log: log, srv: srv, metrics: o.metrics, started: &o.up}
	o.ready.Add("listeners", func() error {
		if !o.up.Load() {
			return errors.New("the WAMP listeners are not all open yet")
		}
		return nil
	})
	addr, explicit := c.String("admin"), c.IsSet("admin")
	token := c.String("admin-token")
	if cfg != nil && cfg.Admin != nil {
		if !explicit {
			addr, explicit = cfg.Admin.Address, true
		}
		if token == "" {
			token = cfg.Admin.Token
		}
	}
	if addr == "" {
		return o, nil
	}
	as, err := admin.Listen(addr, admin.Options{
		Metrics:   o.metrics.Handler(),
		Readiness: o.ready,
		Reload:    o.reloader.reload,
		Token:     token,
		Logger:    log,
	})
	if err != nil {
		if !explicit && errors.Is(err, syscall.EADDRINUSE) {
			log.Warn("the default admin address is busy; running without the admin listener (set --admin to choose another)", "address", addr)
			return o, nil
		}
		return nil, fmt.Errorf("--admin: %w", err)
	}
	o.admin = as
	o.adminErr = make(chan error, 1)
	go func() { o.adminErr <- as.Serve() }()
	log.Info("admin listening", "url", "http://"+as.Addr()+"/", "metrics", "http://"+as.Addr()+"/metrics")
	return o, nil
}

// stop ends the admin listener, last: /readyz says 503 during shutdown.
func (o *operations) stop(ctx context.Context) {
	if o.admin == nil {
		return
	}
	if err := o.admin.Shutdown(ctx); err != nil {
		o.log.Warn("admin listener shutdown", "error", err)
	}
	if err := <-o.adminErr; err != nil {
		o.log.Warn("admin listener", "error", err)
	}
}

// reloader re-reads --config into the running router; one reload at a time.
type reloader struct {
	c       *cli.Context
	log     *slog.Logger
	srv     *server
	metrics *metrics.Registry
	// started is set once serve has opened every listener: a reload before
	// that would race it for the listeners.
	started *atomic.Bool

	mu     sync.Mutex // serializes reloads; guards closed
	closed bool
}

// reloadResult is what a reload did, as POST /reload answers it.
type reloadResult struct {
	AddedRealms     []spec.URI `json:"added_realms"`
	RemovedRealms   []spec.URI `json:"removed_realms"`
	KilledSessions  int        `json:"killed_sessions"`
	OpenedListeners []string   `json:"opened_listeners"`
	ClosedListeners []string   `json:"closed_listeners"`
}

// close makes later reloads fail; it waits for one in progress.
func (rl *reloader) close() {
	rl.mu.Lock()
	rl.closed = true
	rl.mu.Unlock()
}

// reload applies the configuration file, or on any error changes nothing;
// either way the outcome is logged and counted.
func (rl *reloader) reload(context.Context) (any, error) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if rl.closed {
		return nil, errors.New("the router is shutting down")
	}
	if !rl.started.Load() {
		return nil, errors.New("the router is still starting; try again when /readyz says ready")
	}
	start := time.Now()
	res, err := rl.apply()
	if err != nil {
		rl.metrics.CountReload(metrics.ReloadFailure)
		rl.log.Error("config reload failed; the running configuration is unchanged", "error", err)
		return nil, err
	}
	rl.metrics.CountReload(metrics.ReloadSuccess)
	rl.log.Info("config reloaded", "added_realms", res.AddedRealms, "removed_realms", res.RemovedRealms,
		"killed_sessions", res.KilledSessions, "opened_listeners", res.OpenedListeners,
		"closed_listeners", res.ClosedListeners, "took", time.Since(start))
	if rl.srv.bridge != nil {
		rl.log.Info("the HTTP bridge keeps its tokens, signature keys, webhooks and limits until a restart; roles and permissions apply now")
	}
	return res, nil
}

func (rl *reloader) apply() (*reloadResult, error) {
	c := rl.c
	path := c.String("config")
	if path == "" {
		return nil, errors.New("nothing to reload: the router was started without --config")
	}
	cfg, err := auth.LoadConfig(path)
	if err != nil {
		return nil, err // names the file, line and field
	}
	realms, err := realmConfigs(c, cfg)
	if err != nil {
		return nil, err
	}
	history, err := historyConfigs(c.StringSlice("event-history"))
	if err != nil {
		return nil, err
	}
	for i := range realms {
		realms[i].History = history
	}
	listeners := map[string]*auth.Listener{}
	for i := range cfg.Listeners {
		listeners[cfg.Listeners[i].Name] = &cfg.Listeners[i]
	}
	prepared, err := rl.srv.router.PrepareReload(router.ReloadConfig{Realms: realms, Listeners: listeners})
	if err != nil {
		return nil, err
	}
	specs, err := listenerSpecs(c, cfg)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	var opened []listenerSpec
	for _, l := range specs {
		if l.key == "" {
			continue // flag listeners do not change
		}
		want[l.key] = true
		if !rl.srv.keyed(l.key) {
			opened = append(opened, l)
		}
	}
	closing := rl.srv.keysExcept(want)
	// A changed listener on the same address must let go of it first.
	// This is the one step a failure cannot undo: it is logged.
	for _, l := range opened {
		for _, old := range closing {
			if old.addr == l.addr && old.network == l.network {
				rl.srv.closeKeyed(old.key)
			}
		}
	}
	bound := make([]boundListener, 0, len(opened))
	for _, l := range opened {
		ln, err := bind(l)
		if err != nil {
			for _, b := range bound {
				b.ln.Close()
			}
			return nil, err
		}
		bound = append(bound, boundListener{l, ln})
	}
	for _, w := range cfg.Warnings {
		rl.log.Warn("config: " + w)
	}
	committed := prepared.Commit()
	// Empty lists, not null, in the JSON answer.
	res := &reloadResult{
		AddedRealms:     append([]spec.URI{}, committed.Added...),
		RemovedRealms:   append([]spec.URI{}, committed.Removed...),
		KilledSessions:  committed.Killed,
		OpenedListeners: []string{},
		ClosedListeners: []string{},
	}
	for _, b := range bound {
		for _, u := range rl.srv.serveListener(b.spec, b.ln) {
			rl.log.Info("listening", "url", u, "listener", b.spec.name)
		}
		res.OpenedListeners = append(res.OpenedListeners, b.spec.name)
	}
	for _, old := range closing {
		rl.srv.closeKeyed(old.key)
		res.ClosedListeners = append(res.ClosedListeners, old.name)
	}
	return res, nil
}

type boundListener struct {
	spec listenerSpec
	ln   net.Listener
}

// reloadCommand asks a running router to re-read its --config.
func reloadCommand() *cli.Command {
	return &cli.Command{
		Name:  "reload",
		Usage: "make a running router re-read its --config file",
		Description: `With --pid, sends the router SIGHUP (the outcome is in its log and in
switchyard_config_reloads_total). With --admin, POSTs /reload to its admin
listener and prints what changed, or the error (exit 1).`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "pid", Usage: "process ID of the router"},
			&cli.StringFlag{Name: "admin", EnvVars: env("ADMIN"), Usage: "admin address of the router (host:port)"},
			&cli.StringFlag{Name: "admin-token", EnvVars: env("ADMIN_TOKEN"), Usage: "the router's --admin-token, if it has one"},
			&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "how long to wait for the router's answer"},
		},
		Action: func(c *cli.Context) error {
			if pid := c.Int("pid"); pid > 0 {
				if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
					return fmt.Errorf("reload: signal process %d: %w", pid, err)
				}
				fmt.Fprintf(c.App.Writer, "sent SIGHUP to %d; the router logs the outcome\n", pid)
				return nil
			}
			addr := c.String("admin")
			if addr == "" {
				return errors.New("reload: give --pid PID or --admin ADDRESS")
			}
			return reloadOverHTTP(c, addr)
		},
	}
}

func reloadOverHTTP(c *cli.Context, addr string) error {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(addr, "/")+"/reload", nil)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if tok := c.String("admin-token"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reload: read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reload: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	_, err = c.App.Writer.Write(body)
	return err
}
