// Package bridge is Switchyard's HTTP bridge: systems that cannot hold a
// WAMP connection (a shell script, a CI job, a payment provider's webhook)
// publish and call over plain HTTP on the WebSocket port, and events can be
// forwarded to HTTP endpoints.
//
//	POST /api/{realm}/publish  {"topic", "args", "kwargs", "options"} → 200 {"id"}
//	POST /api/{realm}/call     {"procedure", "args", "kwargs", "options"} → 200 {"args", "kwargs"}
//	POST /webhook/{name}       publishes the request to the hook's topic
//
// Every request acts for a principal of the realm (a bearer token, a signed
// request, or the realm's anonymous role when allowed) through a
// router.LocalSession, so the realm's authorization, the dealer's timeouts
// and caller/publisher disclosure apply exactly as for a WAMP session.
// Failures answer {"error": URI, "args", "kwargs"} with a fitting status.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/spec"
)

// Defaults of auth.HTTPLimits.
const (
	DefaultMaxBody              = 1 << 20
	DefaultTimeout              = 30 * time.Second
	DefaultPerClientConcurrency = 16
)

// Options configures New. The zero value of each optional field is a
// sensible default.
type Options struct {
	Router *router.Router
	// Realms are the realms served, each with its http_api configuration
	// (realms whose API is nil or not enabled are not served).
	Realms []RealmOptions
	Logger *slog.Logger
	// Client sends outgoing webhooks; default a client without a global
	// timeout (each attempt has the hook's).
	Client *http.Client
	// Now is the clock for signature timestamps; default time.Now.
	Now func() time.Time
	// RetryBase is the first retry delay of outgoing webhooks, doubled per
	// attempt up to 30 times it; default 200ms.
	RetryBase time.Duration
}

// RealmOptions is one realm's bridge configuration.
type RealmOptions struct {
	Name spec.URI
	API  *auth.HTTPAPI
	// AnonymousRole is the realm's anonymous role, used for requests
	// without credentials when API.Anonymous is set.
	AnonymousRole string
}

// Bridge serves the HTTP bridge. It owns a local session per principal and
// a goroutine per outgoing webhook; Close ends them.
type Bridge struct {
	log       *slog.Logger
	now       func() time.Time
	client    *http.Client
	retryBase time.Duration
	metrics   *metrics

	realms   map[spec.URI]*realmBridge
	hooksIn  map[string]*hookIn
	hooksOut []*hookOut

	ctx    context.Context // ends at Close: requests in flight return
	cancel context.CancelFunc
	wg     sync.WaitGroup

	clientsMu sync.Mutex
	clients   map[string]int // requests in flight per client address
}

type realmBridge struct {
	name      spec.URI
	api       *auth.HTTPAPI
	limits    auth.HTTPLimits
	sessions  map[principal]*router.LocalSession
	anonymous *principal
	tokens    tokenCache
	nonces    nonceCache
}

type hookIn struct {
	realm *realmBridge
	cfg   auth.WebhookIn
	ls    *router.LocalSession
}

// New builds the bridge: it opens the local sessions of every configured
// principal and subscribes the outgoing webhooks.
func New(o Options) (*Bridge, error) {
	if o.Router == nil {
		return nil, errors.New("bridge: no router")
	}
	b := &Bridge{
		log:       o.Logger,
		now:       o.Now,
		client:    o.Client,
		retryBase: o.RetryBase,
		metrics:   newMetrics(),
		realms:    make(map[spec.URI]*realmBridge),
		hooksIn:   make(map[string]*hookIn),
		clients:   make(map[string]int),
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	b.log = b.log.With("component", "http-bridge")
	if b.now == nil {
		b.now = time.Now
	}
	if b.client == nil {
		b.client = &http.Client{}
	}
	if b.retryBase <= 0 {
		b.retryBase = 200 * time.Millisecond
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	if err := b.open(o); err != nil {
		b.Close(context.Background())
		return nil, err
	}
	return b, nil
}

func (b *Bridge) open(o Options) error {
	for _, ro := range o.Realms {
		if ro.API == nil || !ro.API.Enabled {
			continue
		}
		realm := o.Router.Realm(ro.Name)
		if realm == nil {
			return fmt.Errorf("bridge: no realm %s", ro.Name)
		}
		rb := &realmBridge{name: ro.Name, api: ro.API, limits: withDefaults(ro.API.Limits), sessions: make(map[principal]*router.LocalSession)}
		b.realms[ro.Name] = rb
		var ps []principal
		if ro.API.Anonymous && ro.AnonymousRole != "" {
			rb.anonymous = &principal{authID: "anonymous", authRole: ro.AnonymousRole}
			ps = append(ps, *rb.anonymous)
		}
		for _, t := range ro.API.Tokens {
			ps = append(ps, principal{t.AuthID, t.AuthRole})
		}
		for _, k := range ro.API.Signatures {
			ps = append(ps, principal{k.AuthID, k.AuthRole})
		}
		for _, p := range ps {
			if rb.sessions[p] != nil {
				continue
			}
			ls, err := realm.OpenLocalSession(router.LocalSessionOptions{Identity: auth.Identity{AuthID: p.authID, AuthRole: p.authRole}})
			if err != nil {
				return fmt.Errorf("bridge: realm %s: %w", ro.Name, err)
			}
			rb.sessions[p] = ls
		}
		for _, h := range ro.API.WebhooksIn {
			if b.hooksIn[h.Name] != nil {
				return fmt.Errorf("bridge: webhook %q is configured in two realms", h.Name)
			}
			ls, err := realm.OpenLocalSession(router.LocalSessionOptions{
				Identity: auth.Identity{AuthID: "webhook:" + h.Name, AuthRole: "webhook", AuthMethod: "webhook"},
				Trusted:  true,
			})
			if err != nil {
				return fmt.Errorf("bridge: webhook %s: %w", h.Name, err)
			}
			b.hooksIn[h.Name] = &hookIn{realm: rb, cfg: h, ls: ls}
		}
		for _, h := range ro.API.WebhooksOut {
			if err := b.startHookOut(realm, h); err != nil {
				return fmt.Errorf("bridge: realm %s: webhook to %s: %w", ro.Name, redactURL(h.URL), err)
			}
		}
	}
	return nil
}

func withDefaults(l auth.HTTPLimits) auth.HTTPLimits {
	if l.MaxBody <= 0 {
		l.MaxBody = DefaultMaxBody
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.PerClientConcurrency <= 0 {
		l.PerClientConcurrency = DefaultPerClientConcurrency
	}
	return l
}

// Enabled reports whether any realm is served.
func (b *Bridge) Enabled() bool { return len(b.realms) > 0 }

// Register adds the bridge's paths, /api/ and /webhook/, to mux.
func (b *Bridge) Register(mux *http.ServeMux) {
	mux.HandleFunc("/api/", b.serveAPI)
	mux.HandleFunc("/webhook/", b.serveWebhook)
}

// Close ends requests in flight (503), closes the local sessions, and
// stops the outgoing webhooks; events still queued are given up (counted
// and logged). It waits for the webhook goroutines within ctx.
func (b *Bridge) Close(ctx context.Context) error {
	b.cancel()
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("bridge: outgoing webhooks still running: %w", ctx.Err())
	}
	for _, rb := range b.realms {
		for _, ls := range rb.sessions {
			ls.Close()
		}
	}
	for _, h := range b.hooksIn {
		h.ls.Close()
	}
	for _, h := range b.hooksOut {
		h.ls.Close()
	}
	return err
}

// statusRecorder remembers the status code for the metrics.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (read deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (b *Bridge) count(endpoint string, code int) {
	if code == 0 {
		code = http.StatusOK
	}
	b.metrics.requests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
}

// admit applies the per-client concurrency limit; release must be called
// when admitted.
func (b *Bridge) admit(r *http.Request, limit int) (release func(), ok bool) {
	addr := clientAddr(r)
	b.clientsMu.Lock()
	defer b.clientsMu.Unlock()
	if b.clients[addr] >= limit {
		return nil, false
	}
	b.clients[addr]++
	return func() {
		b.clientsMu.Lock()
		if b.clients[addr]--; b.clients[addr] <= 0 {
			delete(b.clients, addr)
		}
		b.clientsMu.Unlock()
	}, true
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// readBody reads the request body within the realm's limits: at most
// MaxBody bytes (413 past it) and within Timeout (408 for a body that
// trickles in). It answers the failure itself and returns ok false.
func (b *Bridge) readBody(w http.ResponseWriter, r *http.Request, l auth.HTTPLimits) ([]byte, bool) {
	if r.ContentLength > l.MaxBody {
		fail(w, http.StatusRequestEntityTooLarge, ErrBodyTooLarge, "the body is larger than "+strconv.FormatInt(l.MaxBody, 10)+" bytes")
		return nil, false
	}
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(l.Timeout)
	// Not every connection supports deadlines (HTTP/2 streams do not);
	// then the server's own timeouts are the bound.
	_ = rc.SetReadDeadline(deadline)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, l.MaxBody))
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			fail(w, http.StatusRequestEntityTooLarge, ErrBodyTooLarge, "the body is larger than "+strconv.FormatInt(l.MaxBody, 10)+" bytes")
		case errors.Is(err, os.ErrDeadlineExceeded):
			b.log.Info("request body too slow", "remote", r.RemoteAddr, "path", r.URL.Path, "timeout", l.Timeout)
			w.Header().Set("Connection", "close")
			fail(w, http.StatusRequestTimeout, ErrSlowBody, "the body did not arrive within "+l.Timeout.String())
		default:
			fail(w, http.StatusBadRequest, ErrBadRequest, "the body could not be read")
		}
		return nil, false
	}
	return body, true
}

// serveAPI serves POST /api/{realm}/publish and /api/{realm}/call.
func (b *Bridge) serveAPI(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/api/")
	realmName, action, _ := strings.Cut(rest, "/")
	endpoint := "other"
	if action == "publish" || action == "call" {
		endpoint = action
	}
	rec := &statusRecorder{ResponseWriter: w}
	defer func() { b.count(endpoint, rec.code) }()
	w = rec

	rb := b.realms[spec.URI(realmName)]
	if rb == nil {
		fail(w, http.StatusNotFound, spec.ErrNoSuchRealm, "no HTTP API for realm "+quote(realmName))
		return
	}
	if endpoint == "other" {
		fail(w, http.StatusNotFound, ErrNotFound, "POST /api/{realm}/publish or /api/{realm}/call")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(w, http.StatusMethodNotAllowed, ErrMethodNotAllowed, "use POST")
		return
	}
	release, ok := b.admit(r, rb.limits.PerClientConcurrency)
	if !ok {
		b.log.Info("too many concurrent requests from one client", "remote", r.RemoteAddr, "limit", rb.limits.PerClientConcurrency)
		fail(w, http.StatusTooManyRequests, ErrTooManyRequests, "at most "+strconv.Itoa(rb.limits.PerClientConcurrency)+" requests at once per client")
		return
	}
	defer release()

	ctx, cancel := context.WithTimeout(r.Context(), rb.limits.Timeout)
	defer cancel()
	stop := context.AfterFunc(b.ctx, cancel)
	defer stop()

	body, ok := b.readBody(w, r, rb.limits)
	if !ok {
		return
	}
	p, err := b.authenticate(ctx, r, rb, body)
	if err != nil {
		b.log.Info("HTTP request refused: authentication failed", "remote", r.RemoteAddr, "realm", string(rb.name), "error", err)
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+string(rb.name)+`"`)
		fail(w, http.StatusUnauthorized, ErrUnauthenticated, "authentication failed: "+err.Error())
		return
	}
	ls := rb.sessions[p]
	uriKey := "topic"
	if endpoint == "call" {
		uriKey = "procedure"
	}
	req, err := decodeRequest(body, uriKey)
	if err != nil {
		b.log.Info("HTTP request refused: bad body", "remote", r.RemoteAddr, "realm", string(rb.name), "endpoint", endpoint, "error", err)
		fail(w, http.StatusBadRequest, ErrBadRequest, err.Error())
		return
	}
	if endpoint == "publish" {
		id, err := ls.Publish(ctx, req.URI, req.Args, req.Kwargs, req.Options)
		if err != nil {
			b.answerError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": uint64(id)})
		return
	}
	args, kwargs, err := ls.Call(ctx, req.URI, req.Args, req.Kwargs, req.Options)
	if err != nil {
		b.answerError(w, err)
		return
	}
	if args == nil {
		args = spec.List{}
	}
	if kwargs == nil {
		kwargs = spec.Dict{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"args": args, "kwargs": kwargs})
}

// authenticate finds the request's principal: a bearer token, else a
// signature, else the realm's anonymous role when the API allows it.
func (b *Bridge) authenticate(ctx context.Context, r *http.Request, rb *realmBridge, body []byte) (principal, error) {
	p, err := rb.tokens.bearer(ctx, r, rb.api.Tokens)
	if err == nil || !errors.Is(err, errNoCredentials) {
		return p, err
	}
	if q := r.URL.Query(); signedParams(q) {
		return verifySignature(q, body, rb.api.Signatures, &rb.nonces, b.now())
	}
	if rb.anonymous != nil {
		return *rb.anonymous, nil
	}
	return principal{}, errors.New("no bearer token or signature")
}

// answerError answers a failed publish or call.
func (b *Bridge) answerError(w http.ResponseWriter, err error) {
	var ce *router.CallError
	switch {
	case errors.As(err, &ce):
		writeError(w, statusOf(ce.URI), ce.URI, ce.Arguments, ce.ArgumentsKw)
	case errors.Is(err, context.DeadlineExceeded):
		fail(w, http.StatusGatewayTimeout, spec.ErrTimeout, "no answer within the request timeout")
	case b.ctx.Err() != nil, errors.Is(err, router.ErrLocalSessionClosed):
		fail(w, http.StatusServiceUnavailable, ErrShuttingDown, "the router is shutting down")
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer.
		fail(w, http.StatusServiceUnavailable, spec.ErrCanceled, "the request was canceled")
	default:
		b.log.Warn("HTTP bridge request failed", "error", err)
		fail(w, http.StatusInternalServerError, "switchyard.error.internal", "internal error")
	}
}
