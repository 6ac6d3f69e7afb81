package auth

import (
	"context"
	"crypto/tls"
	"errors"

	"github.com/switchyard/switchyard/spec"
)

// NewRequest builds the Request an authenticator sees from a HELLO's realm
// and Details. session is the ID the session will get if admitted (WAMP-CRA
// puts it in its challenge); remoteAddr is the peer's address as the
// transport reports it ("ip:port", or a path for a Unix socket); state is the
// connection's TLS state, nil on a plain connection.
func NewRequest(realm spec.URI, details spec.Dict, session spec.ID, remoteAddr string, state *tls.ConnectionState) *Request {
	authid, _ := details["authid"].(string)
	extra, _ := details["authextra"].(map[string]any)
	return &Request{
		Realm:      realm,
		AuthID:     authid,
		AuthExtra:  extra,
		Details:    details,
		SessionID:  session,
		RemoteAddr: remoteAddr,
		TLS:        state,
	}
}

// RequestedMethods returns HELLO.Details.authmethods in the client's order of
// preference. A client that names none asks for anonymous access, as
// Crossbar and the spec's examples assume; entries that are not strings are
// skipped.
func RequestedMethods(details spec.Dict) []string {
	list, _ := details["authmethods"].([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		if s, ok := v.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return []string{MethodAnonymous}
	}
	return out
}

// WelcomeDetails returns the authentication keys of WELCOME.Details:
// authid, authrole, authmethod, authprovider and, when there is any,
// authextra (for SCRAM it carries the server signature the client checks).
// The router adds roles, agent and the rest.
func (id Identity) WelcomeDetails() spec.Dict {
	d := spec.Dict{
		"authid":       id.AuthID,
		"authrole":     id.AuthRole,
		"authmethod":   id.AuthMethod,
		"authprovider": id.AuthProvider,
	}
	if len(id.AuthExtra) > 0 {
		d["authextra"] = id.AuthExtra
	}
	return d
}

// Refusal maps an error returned by [Authenticator.Authenticate] or
// [Methods.Select] to the ABORT the router sends: the reason URI and a
// message for ABORT.Details.message.
//
// The message is safe to show the client: it never contains secrets and
// never tells an unknown authid from a wrong secret (both are
// wamp.error.authentication_failed), so clients cannot probe for valid
// authids. Log the error itself, which has the details, on the router side.
func Refusal(err error) (reason spec.URI, message string) {
	switch {
	case err == nil:
		return "", ""
	case errors.Is(err, ErrNoAuthMethod):
		return spec.ErrNoAuthMethod, "no acceptable authentication method"
	case errors.Is(err, ErrNoSuchRole):
		return spec.ErrNoSuchRole, "the role this principal maps to does not exist in the realm"
	case errors.Is(err, ErrAuthenticationFailed), errors.Is(err, ErrNoSuchPrincipal):
		return spec.ErrAuthenticationFailed, "authentication failed"
	case errors.Is(err, context.DeadlineExceeded):
		return spec.ErrAuthenticationFailed, "authentication timed out"
	default:
		return spec.ErrAuthenticationFailed, "authentication could not be completed"
	}
}
