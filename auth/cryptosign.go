package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/spec"
)

// Channel binding types a client may ask for in HELLO.Details.authextra.
const (
	// ChannelBindingTLSUnique is RFC 5929 tls-unique: TLS 1.2 only (Go has no
	// tls-unique for TLS 1.3 connections, nor for resumed ones without the
	// extended master secret).
	ChannelBindingTLSUnique = "tls-unique"
	// ChannelBindingTLSExporter is RFC 9266 tls-exporter: TLS 1.3, or TLS 1.2
	// with the extended master secret.
	ChannelBindingTLSExporter = "tls-exporter"
)

// TLSChannelBinding returns the channel binding data of a TLS connection as
// the RFCs define it: for tls-unique the first Finished message (RFC 5929
// §3), for tls-exporter 32 bytes of keying material exported with the label
// "EXPORTER-Channel-Binding" and no context (RFC 9266). SCRAM sends this
// data as cbind_data.
func TLSChannelBinding(state *tls.ConnectionState, kind string) ([]byte, error) {
	if state == nil {
		return nil, fmt.Errorf("channel binding %q needs a TLS connection", kind)
	}
	switch kind {
	case ChannelBindingTLSUnique:
		if len(state.TLSUnique) == 0 {
			return nil, errors.New("tls-unique is not available on this connection (TLS 1.3, or a resumption without extended master secret); use tls-exporter")
		}
		return state.TLSUnique, nil
	case ChannelBindingTLSExporter:
		b, err := state.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
		if err != nil {
			return nil, fmt.Errorf("tls-exporter is not available on this connection: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unsupported channel binding %q (tls-unique or tls-exporter)", kind)
}

// CryptosignChannelID returns the 32-byte channel ID WAMP-Cryptosign XORs
// into the challenge: SHA-256 of the tls-unique data, as Autobahn computes
// it, or the tls-exporter data itself (already 32 bytes).
func CryptosignChannelID(state *tls.ConnectionState, kind string) ([]byte, error) {
	b, err := TLSChannelBinding(state, kind)
	if err != nil {
		return nil, err
	}
	if kind == ChannelBindingTLSUnique {
		h := sha256.Sum256(b)
		return h[:], nil
	}
	return b, nil
}

// GenerateCryptosignKey returns a new Ed25519 key pair for WAMP-Cryptosign
// as hex: the 32-byte public key (for the router's config) and the 32-byte
// private seed (for the client; Autobahn's CryptosignKey.from_bytes reads
// this form).
func GenerateCryptosignKey() (pub, priv string, err error) {
	p, s, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("auth: generating an Ed25519 key: %w", err)
	}
	return hex.EncodeToString(p), hex.EncodeToString(s.Seed()), nil
}

// ParseCryptosignPublicKey decodes a hex Ed25519 public key (64 hex digits).
func ParseCryptosignPublicKey(s string) (ed25519.PublicKey, error) {
	if len(s) != 2*ed25519.PublicKeySize {
		return nil, fmt.Errorf("cryptosign public key must be %d hex digits", 2*ed25519.PublicKeySize)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("cryptosign public key is not hex")
	}
	return ed25519.PublicKey(b), nil
}

// CryptosignOptions configures NewCryptosignAuthenticator.
type CryptosignOptions struct {
	Principals *Principals
	// Provider is WELCOME's authprovider. Default "static".
	Provider string
}

// Cryptosign implements "cryptosign" (WAMP-Cryptosign, Ed25519): HELLO
// carries authextra.pubkey; the router finds the principal that owns the key
// (the authid is optional, and if given must be that principal's), sends 32
// random bytes, and checks the Ed25519 signature over them, XORed with the
// TLS channel ID when the client asked for channel binding.
//
// Not implemented: router authentication (authextra.challenge; the router
// has no key of its own) and certificate chains (trustroot/certificates).
type Cryptosign struct {
	principals *Principals
	provider   string
}

// NewCryptosignAuthenticator returns the static "cryptosign" method.
func NewCryptosignAuthenticator(o CryptosignOptions) *Cryptosign {
	if o.Provider == "" {
		o.Provider = "static"
	}
	return &Cryptosign{principals: o.Principals, provider: o.Provider}
}

// Method implements Authenticator.
func (*Cryptosign) Method() string { return MethodCryptosign }

// Authenticate implements Authenticator.
func (c *Cryptosign) Authenticate(ctx context.Context, req *Request, ch Challenger) (Identity, error) {
	pub, err := helloPubkey(req)
	if err != nil {
		return Identity{}, err
	}
	pr, ok := c.principals.ByCryptosignKey(pub)
	if !ok {
		return Identity{}, fmt.Errorf("%w: cryptosign: public key %x", ErrNoSuchPrincipal, []byte(pub))
	}
	if req.AuthID != "" && req.AuthID != pr.AuthID {
		return Identity{}, fmt.Errorf("%w: cryptosign: public key %x is not authorized for authid %q", ErrAuthenticationFailed, []byte(pub), req.AuthID)
	}
	if err := cryptosignExchange(ctx, req, ch, pub); err != nil {
		return Identity{}, err
	}
	return pr.identity(MethodCryptosign, c.provider), nil
}

// helloPubkey reads HELLO.Details.authextra.pubkey.
func helloPubkey(req *Request) (ed25519.PublicKey, error) {
	s, ok := req.AuthExtra["pubkey"].(string)
	if !ok {
		return nil, fmt.Errorf("%w: cryptosign: HELLO has no authextra.pubkey", ErrAuthenticationFailed)
	}
	pub, err := ParseCryptosignPublicKey(s)
	if err != nil {
		return nil, fmt.Errorf("%w: cryptosign: %w", ErrAuthenticationFailed, err)
	}
	return pub, nil
}

// requestedBinding reads authextra.channel_binding: "" for none.
func requestedBinding(req *Request, method string) (string, error) {
	v, present := req.AuthExtra["channel_binding"]
	if !present || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s: authextra.channel_binding is not a string", ErrAuthenticationFailed, method)
	}
	if s != ChannelBindingTLSUnique && s != ChannelBindingTLSExporter {
		return "", fmt.Errorf("%w: %s: unsupported channel binding %q (tls-unique or tls-exporter)", ErrAuthenticationFailed, method, s)
	}
	return s, nil
}

// cryptosignExchange challenges the client to sign 32 random bytes (XOR the
// channel ID) with the private key of pub. Shared by the static and the
// dynamic authenticator.
func cryptosignExchange(ctx context.Context, req *Request, ch Challenger, pub ed25519.PublicKey) error {
	binding, err := requestedBinding(req, MethodCryptosign)
	if err != nil {
		return err
	}
	chal := cryptosignChallenge()
	want := chal
	extra := spec.Dict{"challenge": hex.EncodeToString(chal), "channel_binding": nil}
	if binding != "" {
		// A client that asked for binding signs challenge XOR channel ID;
		// continuing without it would fail later and silently downgrade, so
		// refuse up front when this connection cannot provide it.
		id, err := CryptosignChannelID(req.TLS, binding)
		if err != nil {
			return fmt.Errorf("%w: cryptosign: %w", ErrAuthenticationFailed, err)
		}
		want = make([]byte, len(chal))
		for i := range chal {
			want[i] = chal[i] ^ id[i]
		}
		extra["channel_binding"] = binding
	}
	resp, err := challenge(ctx, ch, MethodCryptosign, extra)
	if err != nil {
		return err
	}
	sig, msg, err := parseCryptosignSignature(resp.Signature)
	if err != nil {
		return fmt.Errorf("%w: cryptosign: %w", ErrAuthenticationFailed, err)
	}
	if msg == nil {
		msg = want
	}
	if !hmac.Equal(msg, want) {
		// An answer to another challenge (a replay), or a channel ID that is
		// not this connection's.
		return fmt.Errorf("%w: cryptosign: the signed message is not this challenge", ErrAuthenticationFailed)
	}
	if !ed25519.Verify(pub, msg, sig) {
		return fmt.Errorf("%w: cryptosign: bad signature for public key %x", ErrAuthenticationFailed, []byte(pub))
	}
	return nil
}

// cryptosignChallenge returns the 32 random bytes to sign; a variable so a
// test can replay the spec's fixed vectors against the router side.
var cryptosignChallenge = func() []byte { return randomBytes(32) }

// parseCryptosignSignature decodes AUTHENTICATE.Signature: hex of the 64-byte
// Ed25519 signature followed by the 32-byte signed message (192 hex digits).
// The signature alone (128 digits, as some older clients send) is accepted
// too; msg is nil then and the expected message is verified.
func parseCryptosignSignature(s string) (sig, msg []byte, err error) {
	const sigLen, msgLen = ed25519.SignatureSize, 32
	if len(s) != 2*(sigLen+msgLen) && len(s) != 2*sigLen {
		return nil, nil, fmt.Errorf("signature must be %d hex digits, got %d", 2*(sigLen+msgLen), len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, nil, errors.New("signature is not hex")
	}
	if len(b) == sigLen {
		return b, nil, nil
	}
	return b[:sigLen], b[sigLen:], nil
}
