package auth

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// Config is the router's security configuration: listeners, and per realm
// its roles (what sessions may do), its principals (who may join, with
// which credentials), anonymous access and dynamic authenticators. It is
// read-only once loaded; load a new one to change it.
//
// The file format is YAML; testdata/example.yaml documents every key. In
// outline:
//
//	console: false        # optional: no browser console on WebSocket listeners
//	listeners:            # optional
//	  - name, transport (ws|rawsocket|unix|listen), address,
//	    tls: {cert, key, client_ca?}, auth: [methods allowed here]
//	realms:
//	  - name: <realm URI>
//	    anonymous: {role, random_authid?}          # optional
//	    roles:
//	      - name, permissions: [{uri, match, allow: [call|register|publish|subscribe],
//	                             disclose: [caller|publisher]}]
//	      - name, authorizer: <procedure URI>, cache_ttl: 30s
//	    principals:
//	      - authid, role, extra?: {...}, and any of:
//	        ticket | ticket_hash, wampcra (secret, or {secret|key, salt,
//	        iterations, keylen}), cryptosign: [hex pubkeys],
//	        scram: {kdf, iterations, memory, salt, stored_key, server_key},
//	        tls: [certificate fingerprints]
//	    dynamic: {ticket|wampcra|cryptosign: <procedure URI>}
//	    http_api: {enabled, anonymous, tokens, signatures, webhooks_in,
//	               webhooks_out, limits}                 # see HTTPAPI
type Config struct {
	// Listeners are optional: the CLI may define listeners with flags.
	Listeners []Listener
	Realms    []*RealmConfig
	// Console, when set, turns the browser console served on WebSocket
	// listeners on or off (key "console: false"); nil leaves the default
	// (on) to the CLI.
	Console *bool
	// Admin is the admin listener's setup (metrics, health, reload), if
	// the file has one; the CLI's --admin flags override it.
	Admin *Admin
	// Cluster makes the router one node of several (see package cluster),
	// if set.
	Cluster *Cluster
	// Warnings are advisories about a valid config (a ticket allowed on a
	// listener without TLS, plain-text secrets in the file...), for the
	// operator's log.
	Warnings []string
}

// Listener transports.
const (
	TransportWebSocket = "ws"
	TransportRawSocket = "rawsocket"
	TransportUnix      = "unix"
	// TransportListen serves WebSocket and RawSocket on one port, told apart
	// by the first byte.
	TransportListen = "listen"
)

// Listener is a listening endpoint and the authentication methods allowed
// on it.
type Listener struct {
	// Name identifies the listener in Config.Authenticators; defaults to
	// Address.
	Name      string
	Transport string // ws, rawsocket, unix or listen
	Address   string // host:port, or a socket path for unix
	TLS       *ListenerTLS
	// Auth lists the methods allowed on this listener; nil allows every
	// method a realm configures.
	Auth []string
	// AllowedOrigins, on a WebSocket listener, are the host patterns
	// (path.Match syntax, e.g. "app.example.com" or "*.example.com") a
	// browser's Origin header must match; nil accepts any origin.
	AllowedOrigins []string
}

// Cluster is the config file's cluster section: the same settings as
// serve's --node, --cluster-listen, --cluster-routes and --nats* flags, which
// win when set.
type Cluster struct {
	Node      string
	Listen    string
	Routes    []string
	NATS      []string
	NATSCreds string
	NATSCA    string
	NATSCert  string
	NATSKey   string
}

// Admin is the config file's admin section.
type Admin struct {
	// Address of the admin HTTP listener; "" turns it off.
	Address string
	// Token, if set, is required (as "Authorization: Bearer TOKEN") by
	// POST /reload.
	Token string
}

// ListenerTLS is a listener's TLS setup (files in PEM).
type ListenerTLS struct {
	Cert, Key string
	// ClientCA, if set, is the CA bundle client certificates are verified
	// against. Without it, client certificates are requested but not
	// verified: the "tls" method then pins them by fingerprint.
	ClientCA string
}

// AllowsMethod reports whether the listener allows method.
func (l *Listener) AllowsMethod(method string) bool {
	return l == nil || l.Auth == nil || slices.Contains(l.Auth, method)
}

// ClientAuth is the tls.ClientAuthType the listener needs: verify client
// certificates against ClientCA if given, else request any certificate when
// the "tls" method is allowed here, else none.
func (l *Listener) ClientAuth() tls.ClientAuthType {
	switch {
	case l.TLS == nil:
		return tls.NoClientCert
	case l.TLS.ClientCA != "":
		return tls.VerifyClientCertIfGiven
	case l.AllowsMethod(MethodTLS):
		return tls.RequestClientCert
	}
	return tls.NoClientCert
}

// TLSConfig loads the listener's certificate, key and client CA into a
// tls.Config (TLS 1.2 or later), or returns nil for a plain listener.
func (l *Listener) TLSConfig() (*tls.Config, error) {
	if l.TLS == nil {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(l.TLS.Cert, l.TLS.Key)
	if err != nil {
		return nil, fmt.Errorf("auth: listener %s: %w", l.Name, err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, ClientAuth: l.ClientAuth()}
	if l.TLS.ClientCA != "" {
		pem, err := os.ReadFile(l.TLS.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("auth: listener %s: client CA: %w", l.Name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("auth: listener %s: client CA %s has no PEM certificate", l.Name, l.TLS.ClientCA)
		}
		c.ClientCAs = pool
	}
	return c, nil
}

// RealmConfig is one realm's security configuration.
type RealmConfig struct {
	Name spec.URI
	// Anonymous, if set, admits clients without credentials under its role.
	Anonymous *AnonymousOptions
	Roles     []Role
	// Principals are the realm's known clients and their credentials.
	Principals []Principal
	// Dynamic maps an authentication method (ticket, wampcra, cryptosign) to
	// the procedure that authenticates it (see Dynamic).
	Dynamic map[string]spec.URI
	// HTTPAPI, if set, is the realm's HTTP bridge (see HTTPAPI).
	HTTPAPI *HTTPAPI

	index *Principals
}

// PrincipalIndex returns the realm's principals indexed for lookup.
func (r *RealmConfig) PrincipalIndex() *Principals { return r.index }

// HasRole reports whether the realm defines role.
func (r *RealmConfig) HasRole(role string) bool {
	return slices.ContainsFunc(r.Roles, func(x Role) bool { return x.Name == role })
}

// AnonymousRealm returns a realm where anonymous sessions get the role
// "anonymous" with every action allowed on every URI (except, as always,
// registering or publishing under "wamp."): the no-flags default.
func AnonymousRealm(name spec.URI) *RealmConfig {
	r := &RealmConfig{
		Name:      name,
		Anonymous: &AnonymousOptions{Role: "anonymous"},
		Roles: []Role{{Name: "anonymous", Permissions: []Permission{{
			URI: "", Match: spec.MatchPrefix, Call: true, Register: true, Publish: true, Subscribe: true,
		}}}},
	}
	r.index, _ = NewPrincipals(nil)
	return r
}

// DefaultConfig is the configuration of "switchyard serve" without a config
// file: realm "realm1", anonymous sessions allowed with full permissions.
func DefaultConfig() *Config {
	return &Config{Realms: []*RealmConfig{AnonymousRealm("realm1")}}
}

// Realm returns the configuration of a realm.
func (c *Config) Realm(name spec.URI) (*RealmConfig, bool) {
	for _, r := range c.Realms {
		if r.Name == name {
			return r, true
		}
	}
	return nil, false
}

// Listener returns the listener with this name.
func (c *Config) Listener(name string) (*Listener, bool) {
	for i := range c.Listeners {
		if c.Listeners[i].Name == name {
			return &c.Listeners[i], true
		}
	}
	return nil, false
}

// BuildOptions are what the router supplies when it builds authenticators
// and authorizers from a Config. The zero value works for configs without
// dynamic parts.
type BuildOptions struct {
	// Caller reaches the realm's dynamic authenticators and authorizers.
	// Required if the realm has any.
	Caller Caller
	// RateLimiter, if set, wraps every authenticator (share one across all
	// realms and listeners).
	RateLimiter *RateLimiter
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// AuthorizerCacheSize bounds each dynamic authorizer's cache.
	AuthorizerCacheSize int
}

// Authenticators returns the methods a client may use to join realm through
// listener (by name; "" for no listener restriction), for the router to
// Select from at each HELLO.
func (c *Config) Authenticators(realm spec.URI, listener string, o BuildOptions) (*Methods, error) {
	r, ok := c.Realm(realm)
	if !ok {
		return nil, fmt.Errorf("auth: no realm %q in the config", realm)
	}
	var l *Listener
	if listener != "" {
		if l, ok = c.Listener(listener); !ok {
			return nil, fmt.Errorf("auth: no listener %q in the config", listener)
		}
	}
	return r.Authenticators(l, o)
}

// Authorizer returns the authorizer of realm. Build it once per realm and
// keep it: dynamic authorizers hold their caches.
func (c *Config) Authorizer(realm spec.URI, o BuildOptions) (*RoleAuthorizer, error) {
	r, ok := c.Realm(realm)
	if !ok {
		return nil, fmt.Errorf("auth: no realm %q in the config", realm)
	}
	return r.Authorizer(o)
}

// Authorizer compiles the realm's roles.
func (r *RealmConfig) Authorizer(o BuildOptions) (*RoleAuthorizer, error) {
	a, err := newAuthorizer(r.Roles, AuthorizerOptions{Caller: o.Caller, Now: o.Now, CacheSize: o.AuthorizerCacheSize})
	if err != nil {
		return nil, fmt.Errorf("auth: realm %s: %w", r.Name, err)
	}
	return a, nil
}

// Authenticators builds the realm's methods allowed on listener l (nil: no
// restriction). A method is available when the realm configures it:
// anonymous when Anonymous is set; ticket, wampcra and cryptosign when a
// principal has such a credential or a dynamic authenticator is configured;
// scram and wamp-scram when a principal has a SCRAM credential; tls when a
// principal has a fingerprint and the listener (if given) has TLS.
func (r *RealmConfig) Authenticators(l *Listener, o BuildOptions) (*Methods, error) {
	idx := r.index
	if idx == nil {
		var err error
		if idx, err = NewPrincipals(r.Principals); err != nil {
			return nil, fmt.Errorf("auth: realm %s: %w", r.Name, err)
		}
	}
	// A RealmConfig built in code rather than parsed gets the same checks
	// the parser makes.
	if r.Anonymous != nil && !r.HasRole(r.Anonymous.Role) {
		return nil, fmt.Errorf("auth: realm %s: anonymous role %q is not defined", r.Name, r.Anonymous.Role)
	}
	for _, pr := range r.Principals {
		if !r.HasRole(pr.Role) {
			return nil, fmt.Errorf("auth: realm %s: principal %q has role %q, which is not defined", r.Name, pr.AuthID, pr.Role)
		}
	}
	var list []Authenticator
	add := func(a Authenticator) {
		if o.RateLimiter != nil {
			a = o.RateLimiter.Wrap(a)
		}
		list = append(list, a)
	}
	allowed := func(m string) bool { return l.AllowsMethod(m) }
	if r.Anonymous != nil && allowed(MethodAnonymous) {
		add(NewAnonymousAuthenticator(*r.Anonymous))
	}
	for _, m := range []string{MethodTicket, MethodWampCRA, MethodCryptosign} {
		if !allowed(m) {
			continue
		}
		if proc, ok := r.Dynamic[m]; ok {
			d, err := newDynamic(DynamicOptions{Method: m, Procedure: proc, Caller: o.Caller, RoleExists: r.HasRole, Now: o.Now})
			if err != nil {
				return nil, fmt.Errorf("auth: realm %s: %w", r.Name, err)
			}
			add(d)
			continue
		}
		if !idx.has(m) {
			continue
		}
		switch m {
		case MethodTicket:
			add(NewTicketAuthenticator(TicketOptions{Principals: idx}))
		case MethodWampCRA:
			add(NewWampCRAAuthenticator(WampCRAOptions{Principals: idx, Now: o.Now}))
		case MethodCryptosign:
			add(NewCryptosignAuthenticator(CryptosignOptions{Principals: idx}))
		}
	}
	if idx.has(MethodScram) {
		for _, m := range []string{MethodScram, MethodWampScram} {
			if !allowed(m) {
				continue
			}
			s, err := NewScramAuthenticator(ScramOptions{Principals: idx, Method: m})
			if err != nil {
				return nil, fmt.Errorf("auth: realm %s: %w", r.Name, err)
			}
			add(s)
		}
	}
	if idx.has(MethodTLS) && allowed(MethodTLS) && (l == nil || l.TLS != nil) {
		add(NewTLSAuthenticator(TLSOptions{Principals: idx}))
	}
	return NewMethods(list...)
}
