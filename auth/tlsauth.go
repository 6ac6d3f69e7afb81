package auth

import (
	"context"
	"fmt"
)

// TLSOptions configures NewTLSAuthenticator.
type TLSOptions struct {
	Principals *Principals
	// Provider is WELCOME's authprovider. Default "static".
	Provider string
}

// TLSClientCert implements "tls": the client certificate of the TLS
// connection, checked by the TLS layer, is mapped to a principal by its
// SHA-256 or SHA-1 fingerprint. There is no CHALLENGE.
//
// Fingerprint pinning is sound even when the listener accepts certificates
// without verifying a chain (tls.RequireAnyClientCert): the handshake's
// CertificateVerify already proves the client holds the certificate's
// private key. If the HELLO names an authid it must be the principal's.
type TLSClientCert struct {
	principals *Principals
	provider   string
}

// NewTLSAuthenticator returns the static "tls" method.
func NewTLSAuthenticator(o TLSOptions) *TLSClientCert {
	if o.Provider == "" {
		o.Provider = "static"
	}
	return &TLSClientCert{principals: o.Principals, provider: o.Provider}
}

// Method implements Authenticator.
func (*TLSClientCert) Method() string { return MethodTLS }

// Authenticate implements Authenticator.
func (t *TLSClientCert) Authenticate(ctx context.Context, req *Request, _ Challenger) (Identity, error) {
	if err := ctx.Err(); err != nil {
		return Identity{}, fmt.Errorf("auth: tls: %w", err)
	}
	if req.TLS == nil || !req.TLS.HandshakeComplete || len(req.TLS.PeerCertificates) == 0 {
		return Identity{}, fmt.Errorf("%w: tls: the connection has no client certificate", ErrAuthenticationFailed)
	}
	pr, ok := t.principals.ByCertificate(req.TLS.PeerCertificates[0].Raw)
	if !ok {
		return Identity{}, fmt.Errorf("%w: tls: no principal for certificate %q", ErrNoSuchPrincipal, req.TLS.PeerCertificates[0].Subject.String())
	}
	if req.AuthID != "" && req.AuthID != pr.AuthID {
		return Identity{}, fmt.Errorf("%w: tls: the certificate is not authorized for authid %q", ErrAuthenticationFailed, req.AuthID)
	}
	return pr.identity(MethodTLS, t.provider), nil
}
