package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// WampCRASecret is a principal's WAMP-CRA credential.
//
// Unsalted, the HMAC key is the shared secret itself, which the router must
// therefore hold in clear. Salted, the client derives
// key = base64(PBKDF2-HMAC-SHA256(secret, salt, iterations, keylen)) and
// uses that base64 *text* as the HMAC key (Autobahn's derive_key); the router
// needs only the derived key, so a config file can store it instead of the
// password (DerivedWampCRA).
type WampCRASecret struct {
	key        []byte // the HMAC key
	salt       string
	iterations int
	keylen     int
}

// Limits on WAMP-CRA salting parameters. The router derives a salted key
// itself when a config (or a dynamic authenticator) gives the password, at
// a cost of iterations × ⌈keylen/32⌉ HMACs, so both are bounded: Autobahn's
// default is 1000 iterations and 32 bytes.
const (
	maxWampCRAIter   = 1_000_000
	maxWampCRAKeyLen = 64
)

// PlainWampCRA stores an unsalted WAMP-CRA secret.
func PlainWampCRA(secret string) *WampCRASecret {
	return &WampCRASecret{key: []byte(secret)}
}

// SaltedWampCRA derives the salted key from the secret now and keeps only
// the derived key.
func SaltedWampCRA(secret, salt string, iterations, keylen int) (*WampCRASecret, error) {
	if err := checkWampCRAParams(salt, iterations, keylen); err != nil {
		return nil, err
	}
	return &WampCRASecret{key: []byte(DeriveWampcraKey(secret, salt, iterations, keylen)), salt: salt, iterations: iterations, keylen: keylen}, nil
}

// DerivedWampCRA stores a salted principal by its derived key (the output of
// DeriveWampcraKey), so the config never holds the password.
func DerivedWampCRA(key, salt string, iterations, keylen int) (*WampCRASecret, error) {
	if err := checkWampCRAParams(salt, iterations, keylen); err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return nil, errors.New("derived WAMP-CRA key is not base64")
	}
	if len(raw) != keylen {
		return nil, fmt.Errorf("derived WAMP-CRA key is %d bytes, but keylen is %d", len(raw), keylen)
	}
	return &WampCRASecret{key: []byte(key), salt: salt, iterations: iterations, keylen: keylen}, nil
}

func checkWampCRAParams(salt string, iterations, keylen int) error {
	switch {
	case salt == "":
		return errors.New("salted WAMP-CRA needs a salt")
	case iterations < 1 || iterations > maxWampCRAIter:
		return fmt.Errorf("WAMP-CRA iterations must be in [1, %d]", maxWampCRAIter)
	case keylen < 1 || keylen > maxWampCRAKeyLen:
		return fmt.Errorf("WAMP-CRA keylen must be in [1, %d]", maxWampCRAKeyLen)
	}
	return nil
}

// Salted reports whether the secret is salted.
func (s *WampCRASecret) Salted() bool { return s.salt != "" }

// DeriveWampcraKey returns base64(PBKDF2-HMAC-SHA256(secret, salt,
// iterations, keylen)), the salted WAMP-CRA key, exactly as Autobahn's
// derive_key computes it. iterations must be in [1, 1,000,000] and keylen in
// [1, 64]: otherwise it returns "".
func DeriveWampcraKey(secret, salt string, iterations, keylen int) string {
	if iterations < 1 || keylen < 1 || keylen > maxWampCRAKeyLen {
		return ""
	}
	k, err := pbkdf2.Key(sha256.New, secret, []byte(salt), iterations, keylen)
	if err != nil {
		// Only in FIPS 140-only mode, for salts under 16 bytes or keys under
		// 14 bytes, which WAMP-CRA cannot be used with there.
		return ""
	}
	return base64.StdEncoding.EncodeToString(k)
}

// WampCRAOptions configures NewWampCRAAuthenticator.
type WampCRAOptions struct {
	Principals *Principals
	// Provider is WELCOME's authprovider. Default "static".
	Provider string
	// Now stamps challenges. Default time.Now.
	Now func() time.Time
}

// WampCRA implements "wampcra" (WAMP Challenge-Response Authentication),
// plain and salted.
//
// WAMP-CRA's challenge names the principal's role, so unlike ticket and
// SCRAM it cannot hide whether an authid exists: an unknown authid is
// refused at HELLO, as Crossbar does (with the same ABORT reason as a wrong
// signature).
type WampCRA struct {
	principals *Principals
	provider   string
	now        func() time.Time
}

// NewWampCRAAuthenticator returns the static "wampcra" method.
func NewWampCRAAuthenticator(o WampCRAOptions) *WampCRA {
	if o.Provider == "" {
		o.Provider = "static"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &WampCRA{principals: o.Principals, provider: o.Provider, now: o.Now}
}

// Method implements Authenticator.
func (*WampCRA) Method() string { return MethodWampCRA }

// Authenticate implements Authenticator.
func (w *WampCRA) Authenticate(ctx context.Context, req *Request, ch Challenger) (Identity, error) {
	if req.AuthID == "" {
		return Identity{}, fmt.Errorf("%w: wampcra: HELLO has no authid", ErrAuthenticationFailed)
	}
	pr, ok := w.principals.ByAuthID(req.AuthID)
	if !ok || pr.WampCRA == nil {
		return Identity{}, fmt.Errorf("%w: wampcra: authid %q", ErrNoSuchPrincipal, req.AuthID)
	}
	if err := wampcraExchange(ctx, req, ch, pr.AuthID, pr.Role, w.provider, pr.WampCRA, w.now()); err != nil {
		return Identity{}, err
	}
	return pr.identity(MethodWampCRA, w.provider), nil
}

// wampcraChallenge is the JSON object WAMP-CRA signs, in the field order
// Crossbar uses.
type wampcraChallenge struct {
	AuthID       string `json:"authid"`
	AuthRole     string `json:"authrole"`
	AuthMethod   string `json:"authmethod"`
	AuthProvider string `json:"authprovider"`
	Nonce        string `json:"nonce"`
	Timestamp    string `json:"timestamp"`
	Session      uint64 `json:"session"`
}

// wampcraExchange sends a WAMP-CRA challenge for the principal and checks
// the signature. Shared by the static and the dynamic authenticator.
func wampcraExchange(ctx context.Context, req *Request, ch Challenger, authid, role, provider string, secret *WampCRASecret, now time.Time) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(wampcraChallenge{
		AuthID:       authid,
		AuthRole:     role,
		AuthMethod:   MethodWampCRA,
		AuthProvider: provider,
		Nonce:        base64.StdEncoding.EncodeToString(randomBytes(24)),
		Timestamp:    now.UTC().Format("2006-01-02T15:04:05.000Z"),
		Session:      uint64(req.SessionID),
	}); err != nil {
		return fmt.Errorf("auth: wampcra: encoding the challenge: %w", err)
	}
	challengeText := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	extra := spec.Dict{"challenge": string(challengeText)}
	if secret.Salted() {
		extra["salt"] = secret.salt
		extra["iterations"] = int64(secret.iterations)
		extra["keylen"] = int64(secret.keylen)
	}
	resp, err := challenge(ctx, ch, MethodWampCRA, extra)
	if err != nil {
		return err
	}
	if err := verifyWampcra(secret.key, challengeText, resp.Signature); err != nil {
		return fmt.Errorf("%w: wampcra: authid %q: %w", ErrAuthenticationFailed, authid, err)
	}
	return nil
}

// verifyWampcra checks signature = base64(HMAC-SHA256(key, challenge)) in
// constant time.
func verifyWampcra(key, challenge []byte, signature string) error {
	sig, err := parseWampcraSignature(signature)
	if err != nil {
		return err
	}
	if !hmac.Equal(hmacSHA256(key, challenge), sig) {
		return errors.New("wrong signature")
	}
	return nil
}

// parseWampcraSignature decodes a WAMP-CRA signature: base64 (padded or
// not) of a 32-byte HMAC-SHA256.
func parseWampcraSignature(s string) ([]byte, error) {
	if len(s) > 64 {
		return nil, errors.New("signature too long")
	}
	sig, err := decodeB64(s)
	if err != nil {
		return nil, errors.New("signature is not base64")
	}
	if len(sig) != sha256.Size {
		return nil, fmt.Errorf("signature is %d bytes, want %d", len(sig), sha256.Size)
	}
	return sig, nil
}
