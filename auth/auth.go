// Package auth decides who may join a realm (authentication) and what each
// role may do there (authorization).
//
// The router calls an [Authenticator] for the first method in the client's
// HELLO.Details.authmethods that the realm and transport allow; the
// authenticator may send CHALLENGEs through the [Challenger] and returns the
// session's [Identity]. Afterwards the router asks the realm's [Authorizer]
// before every action. A denial is not an error: errors mean a technical
// failure (the router then answers wamp.error.authorization_failed or
// aborts the handshake).
//
// # What the router does with this package
//
// At startup, for each realm, the router takes its realm configuration from a
// [Config] (loaded with [LoadConfig] or [ParseConfig], or [DefaultConfig] for
// the no-flags case) and builds
//
//   - one [Methods] per (realm, listener) with [Config.Authenticators]: the
//     authenticators allowed there, selected at HELLO by the client's
//     authmethods in the client's order of preference ([Methods.Select]);
//   - one [Authorizer] per realm with [Config.Authorizer], consulted before
//     every CALL, REGISTER, PUBLISH and SUBSCRIBE.
//
// Both take a [Caller] for the parts that call WAMP procedures of trusted
// backend sessions (dynamic authenticators and authorizers), and may share a
// [RateLimiter] that slows down addresses whose attempts keep failing.
//
// During the handshake the router builds a [Request] ([NewRequest]), calls the
// selected authenticator with a [Challenger] that sends CHALLENGE and waits
// for AUTHENTICATE (bounded by the handshake context), and either sends
// WELCOME with [Identity.WelcomeDetails] or ABORT with the reason and message
// [Refusal] derives from the error. Refusals never carry secrets, and their
// client-facing message never tells an unknown authid from a wrong secret.
package auth

import (
	"context"
	"crypto/tls"
	"errors"

	"github.com/switchyard/switchyard/spec"
)

// Identity is who a session is, as WELCOME.Details reports it.
type Identity struct {
	AuthID       string
	AuthRole     string
	AuthMethod   string
	AuthProvider string
	// AuthExtra is sent as WELCOME.Details.authextra: the principal's
	// configured extra, plus for SCRAM the server signature the client
	// verifies ("scram_server_signature" for the scram method, "verifier"
	// for wamp-scram). Nil when there is nothing to send.
	AuthExtra spec.Dict
}

// Request is what an authenticator knows about the joining client.
type Request struct {
	Realm spec.URI
	// AuthID and AuthExtra are HELLO.Details.authid and .authextra.
	AuthID    string
	AuthExtra spec.Dict
	// Details is the whole HELLO.Details.
	Details spec.Dict
	// SessionID is the ID the session will get (WAMP-CRA puts it in the
	// challenge).
	SessionID spec.ID
	// RemoteAddr is the client's address, for logs and rate limits.
	RemoteAddr string
	// TLS is the connection's TLS state, or nil on a plain connection.
	TLS *tls.ConnectionState
}

// Challenger sends a CHALLENGE to the client and returns its AUTHENTICATE.
type Challenger interface {
	Challenge(ctx context.Context, method string, extra spec.Dict) (*spec.Authenticate, error)
}

// Authenticator implements one authentication method.
type Authenticator interface {
	// Method is the name clients put in authmethods ("ticket", "wampcra", ...).
	Method() string
	// Authenticate admits the client, returning its identity, or refuses it
	// with an error wrapping one of the Err* values below.
	Authenticate(ctx context.Context, req *Request, ch Challenger) (Identity, error)
}

// Refusals an Authenticator returns (wrapped with context). The router maps
// each to the ABORT reason of the same name.
var (
	ErrAuthenticationFailed = errors.New("auth: authentication failed") // wamp.error.authentication_failed
	ErrNoSuchPrincipal      = errors.New("auth: no such principal")     // wamp.error.no_such_principal (sent as authentication_failed to avoid user enumeration)
	ErrNoSuchRole           = errors.New("auth: no such role")          // wamp.error.no_such_role
	// ErrNoAuthMethod means none of the client's authmethods is allowed for
	// the realm on this listener ([Methods.Select]).
	ErrNoAuthMethod = errors.New("auth: no acceptable authentication method") // wamp.error.no_auth_method
)

// Action is something a session does to a URI.
type Action string

// The four actions authorization rules grant.
const (
	ActionCall      Action = "call"
	ActionRegister  Action = "register"
	ActionPublish   Action = "publish"
	ActionSubscribe Action = "subscribe"
)

// Decision is an authorizer's answer.
type Decision struct {
	Allow bool
	// Disclose asks the router to disclose the caller / publisher identity
	// (INVOCATION.Details.caller, EVENT.Details.publisher) for this action,
	// as Crossbar's per-role "disclose" does: autobahn never sends disclose_me.
	Disclose bool
}

// Authorizer decides whether a session may perform an action on a URI.
type Authorizer interface {
	Authorize(ctx context.Context, who *Identity, session spec.ID, action Action, uri spec.URI) (Decision, error)
}
