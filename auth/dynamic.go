package auth

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// Caller calls a WAMP procedure in a realm. The router provides it: a call
// to a procedure registered by a trusted backend session, made on behalf of
// the router itself (not of the session being authenticated or authorized),
// bounded by ctx. An application error (the callee answered ERROR) and a
// technical one (no such procedure, timeout) are both returned as err.
type Caller interface {
	Call(ctx context.Context, procedure spec.URI, args spec.List, kwargs spec.Dict) (spec.List, spec.Dict, error)
}

// CallerFunc adapts a function to Caller.
type CallerFunc func(ctx context.Context, procedure spec.URI, args spec.List, kwargs spec.Dict) (spec.List, spec.Dict, error)

// Call implements Caller.
func (f CallerFunc) Call(ctx context.Context, procedure spec.URI, args spec.List, kwargs spec.Dict) (spec.List, spec.Dict, error) {
	return f(ctx, procedure, args, kwargs)
}

// DynamicOptions configures NewDynamicAuthenticator.
type DynamicOptions struct {
	// Method is the method the procedure authenticates: MethodTicket,
	// MethodWampCRA or MethodCryptosign.
	Method string
	// Procedure is the URI of the authenticator procedure.
	Procedure spec.URI
	// Caller calls it.
	Caller Caller
	// RoleExists reports whether a role returned by the procedure exists in
	// the realm; a role that does not is refused with ErrNoSuchRole. Nil
	// accepts any role.
	RoleExists func(role string) bool
	// Now stamps WAMP-CRA challenges. Default time.Now.
	Now func() time.Time
}

// Dynamic is an authenticator whose decisions a backend makes: the router
// calls a WAMP procedure, as Crossbar's "dynamic" authenticators do.
//
// # Contract of the procedure
//
// It is called with three positional arguments, (realm, authid, details):
//
//   - realm (string): the realm the client asks to join;
//   - authid (string): HELLO.Details.authid, "" if none (cryptosign);
//   - details (dict): "session" (int, the ID the session will get),
//     "authmethod" (string), "authid" (string), "authextra" (dict, from
//     HELLO; for cryptosign it holds "pubkey"), "transport" ({"peer": the
//     client's address, "tls": bool}), and for ticket "ticket" (string, the
//     ticket the client sent).
//
// It answers with its first positional result (or, with no positional
// results, its keyword results), either a string — the authrole — or a dict:
//
//   - "role" (string, required; "authrole" is accepted too);
//   - "authid" (string, optional): the authid the session gets, replacing
//     the client's (for cryptosign without an authid the default is the hex
//     public key);
//   - "extra" (dict, optional): put into WELCOME.Details.authextra;
//   - for wampcra: "secret" (string, required), and "salt" (string),
//     "iterations" and "keylen" (int) for a salted secret, in which case
//     "secret" is the password and the router derives the key.
//
// To refuse, it raises an error (any URI; wamp.error.not_authorized is
// customary). The client then gets ABORT wamp.error.authentication_failed —
// the backend's error text stays in the router's log.
//
// When it is called: for ticket after the client answered the CHALLENGE (the
// backend checks the ticket); for wampcra at HELLO (the backend supplies the
// secret, the router runs the challenge); for cryptosign at HELLO (the
// backend decides whether the public key may log in and as whom, the router
// checks the signature).
type Dynamic struct {
	method     string
	procedure  spec.URI
	caller     Caller
	roleExists func(string) bool
	now        func() time.Time
}

// NewDynamicAuthenticator returns a dynamic authenticator for o.Method.
func NewDynamicAuthenticator(o DynamicOptions) (*Dynamic, error) {
	d, err := newDynamic(o)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return d, nil
}

func newDynamic(o DynamicOptions) (*Dynamic, error) {
	switch o.Method {
	case MethodTicket, MethodWampCRA, MethodCryptosign:
	default:
		return nil, fmt.Errorf("dynamic authentication is not supported for method %q (ticket, wampcra, cryptosign)", o.Method)
	}
	if o.Procedure == "" {
		return nil, fmt.Errorf("dynamic %s: no procedure", o.Method)
	}
	if o.Caller == nil {
		return nil, fmt.Errorf("dynamic %s: no caller to reach procedure %s", o.Method, o.Procedure)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Dynamic{method: o.Method, procedure: o.Procedure, caller: o.Caller, roleExists: o.RoleExists, now: o.Now}, nil
}

// Method implements Authenticator.
func (d *Dynamic) Method() string { return d.method }

// Authenticate implements Authenticator.
func (d *Dynamic) Authenticate(ctx context.Context, req *Request, ch Challenger) (Identity, error) {
	switch d.method {
	case MethodTicket:
		if req.AuthID == "" {
			return Identity{}, fmt.Errorf("%w: ticket: HELLO has no authid", ErrAuthenticationFailed)
		}
		ticket, err := challengeTicket(ctx, ch)
		if err != nil {
			return Identity{}, err
		}
		res, err := d.call(ctx, req, req.AuthID, ticket)
		if err != nil {
			return Identity{}, err
		}
		return res.identity(d.method), nil

	case MethodWampCRA:
		if req.AuthID == "" {
			return Identity{}, fmt.Errorf("%w: wampcra: HELLO has no authid", ErrAuthenticationFailed)
		}
		res, err := d.call(ctx, req, req.AuthID, "")
		if err != nil {
			return Identity{}, err
		}
		if err := wampcraExchange(ctx, req, ch, res.authid, res.role, "dynamic", res.wampcra, d.now()); err != nil {
			return Identity{}, err
		}
		return res.identity(d.method), nil

	default: // cryptosign
		pub, err := helloPubkey(req)
		if err != nil {
			return Identity{}, err
		}
		authid := req.AuthID
		if authid == "" {
			authid = hex.EncodeToString(pub)
		}
		res, err := d.call(ctx, req, authid, "")
		if err != nil {
			return Identity{}, err
		}
		if err := cryptosignExchange(ctx, req, ch, pub); err != nil {
			return Identity{}, err
		}
		return res.identity(d.method), nil
	}
}

// dynamicResult is a parsed answer of the authenticator procedure.
type dynamicResult struct {
	authid  string
	role    string
	extra   spec.Dict
	wampcra *WampCRASecret
}

func (r *dynamicResult) identity(method string) Identity {
	return Identity{AuthID: r.authid, AuthRole: r.role, AuthMethod: method, AuthProvider: "dynamic", AuthExtra: r.extra}
}

// call invokes the procedure and parses its answer. defaultAuthID is the
// authid when the answer names none.
func (d *Dynamic) call(ctx context.Context, req *Request, defaultAuthID, ticket string) (*dynamicResult, error) {
	authextra := req.AuthExtra
	if authextra == nil {
		authextra = spec.Dict{}
	}
	details := spec.Dict{
		"session":    int64(req.SessionID),
		"authmethod": d.method,
		"authid":     req.AuthID,
		"authextra":  authextra,
		"transport":  spec.Dict{"peer": req.RemoteAddr, "tls": req.TLS != nil},
	}
	if d.method == MethodTicket {
		details["ticket"] = ticket
	}
	args, kwargs, err := d.caller.Call(ctx, d.procedure, spec.List{string(req.Realm), req.AuthID, details}, nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("auth: %s: dynamic authenticator %s: %w", d.method, d.procedure, err)
		}
		return nil, fmt.Errorf("%w: %s: dynamic authenticator %s refused authid %q: %w", ErrAuthenticationFailed, d.method, d.procedure, req.AuthID, err)
	}
	var answer any = kwargs
	if len(args) > 0 {
		answer = args[0]
	}
	res, err := d.parseAnswer(answer)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: dynamic authenticator %s: bad answer: %w", d.method, d.procedure, err)
	}
	if res.authid == "" {
		res.authid = defaultAuthID
	}
	if d.roleExists != nil && !d.roleExists(res.role) {
		return nil, fmt.Errorf("%w: %s: dynamic authenticator %s gave authid %q role %q", ErrNoSuchRole, d.method, d.procedure, res.authid, res.role)
	}
	return res, nil
}

func (d *Dynamic) parseAnswer(v any) (*dynamicResult, error) {
	if role, ok := v.(string); ok {
		if role == "" {
			return nil, errors.New("empty role")
		}
		return &dynamicResult{role: role}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a role string or a dict, got %T", v)
	}
	res := &dynamicResult{}
	role, _ := m["role"].(string)
	if role == "" {
		role, _ = m["authrole"].(string)
	}
	if role == "" {
		return nil, errors.New(`no "role"`)
	}
	res.role = role
	if v, ok := m["authid"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return nil, errors.New(`"authid" is not a string`)
		}
		res.authid = s
	}
	if v, ok := m["extra"]; ok && v != nil {
		e, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New(`"extra" is not a dict`)
		}
		res.extra = cloneDict(e)
	}
	if d.method == MethodWampCRA {
		secret, ok := m["secret"].(string)
		if !ok || secret == "" {
			return nil, errors.New(`wampcra needs "secret"`)
		}
		if salt, ok := m["salt"].(string); ok && salt != "" {
			iter, ok1 := spec.AsInt(m["iterations"])
			keylen, ok2 := spec.AsInt(m["keylen"])
			if !ok1 || !ok2 {
				return nil, errors.New(`salted wampcra needs integer "iterations" and "keylen"`)
			}
			s, err := SaltedWampCRA(secret, salt, int(iter), int(keylen))
			if err != nil {
				return nil, err
			}
			res.wampcra = s
		} else {
			res.wampcra = PlainWampCRA(secret)
		}
	}
	return res, nil
}
