package auth

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/xdg-go/stringprep"
	"golang.org/x/crypto/argon2"

	"github.com/switchyard/switchyard/spec"
)

// SCRAM key derivation functions, as Autobahn and Crossbar name them. The
// spec's name for Argon2id is "argon2id13"; ParseScramKDF accepts both.
const (
	KDFArgon2id = "argon2id-13"
	KDFPBKDF2   = "pbkdf2"
)

// Defaults of DeriveScramCredential. Argon2id with OWASP's first
// recommendation (19 MiB, 2 passes): the client computes it at every login,
// so it must stay affordable on small devices. PBKDF2-SHA256 with OWASP's
// 600,000 iterations.
const (
	DefaultScramArgon2Iterations = 2
	DefaultScramArgon2Memory     = 19456 // KiB
	DefaultScramPBKDF2Iterations = 600_000
)

// ParseScramKDF normalizes a KDF name: "argon2id-13" (Autobahn/Crossbar) and
// "argon2id13" (spec) both give KDFArgon2id; "pbkdf2" gives KDFPBKDF2.
func ParseScramKDF(s string) (string, error) {
	switch s {
	case "argon2id-13", "argon2id13":
		return KDFArgon2id, nil
	case "pbkdf2":
		return KDFPBKDF2, nil
	}
	return "", fmt.Errorf("unknown SCRAM kdf %q (argon2id-13 or pbkdf2)", s)
}

// ScramCredential is what the router stores for a SCRAM principal: the
// salt, the KDF and its parameters, StoredKey and ServerKey. Never the
// password: with these the router can verify a client, but a thief cannot
// log in without brute-forcing the KDF.
type ScramCredential struct {
	KDF        string // KDFArgon2id or KDFPBKDF2
	Iterations int
	Memory     int // KiB; Argon2id only
	Salt       []byte
	StoredKey  []byte // SHA-256(HMAC(SaltedPassword, "Client Key")), 32 bytes
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key"), 32 bytes
}

// ScramParams chooses how DeriveScramCredential derives a credential. The
// zero value means Argon2id with the defaults above and a random 16-byte
// salt.
type ScramParams struct {
	KDF        string
	Iterations int
	Memory     int
	Salt       []byte
}

// DeriveScramCredential derives the stored credential for a password, for
// the CLI that writes config files.
//
// It computes SaltedPassword the way Autobahn (AuthScram,
// derive_scram_credential) and Crossbar do, since those are the clients in
// use: for Argon2id the HMAC key is the unpadded base64 *text* of the 32-byte
// Argon2id output (a quirk of Autobahn's use of argon2-cffi), for PBKDF2 the
// raw 32 bytes; the password is UTF-8 without SASLprep, as Autobahn sends it.
// A client that follows the spec text literally with Argon2id (raw bytes)
// computes other keys; PBKDF2 credentials work for both.
func DeriveScramCredential(password string, p ScramParams) (*ScramCredential, error) {
	kdf := KDFArgon2id
	if p.KDF != "" {
		var err error
		if kdf, err = ParseScramKDF(p.KDF); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	c := &ScramCredential{KDF: kdf, Iterations: p.Iterations, Memory: p.Memory, Salt: slices.Clone(p.Salt)}
	if len(c.Salt) == 0 {
		c.Salt = randomBytes(16)
	}
	if c.Iterations == 0 {
		c.Iterations = DefaultScramPBKDF2Iterations
		if kdf == KDFArgon2id {
			c.Iterations = DefaultScramArgon2Iterations
		}
	}
	if kdf == KDFArgon2id && c.Memory == 0 {
		c.Memory = DefaultScramArgon2Memory
	}
	if kdf == KDFPBKDF2 {
		c.Memory = 0
	}
	if err := c.checkParams(); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	var salted []byte
	switch kdf {
	case KDFArgon2id:
		raw := argon2.IDKey([]byte(password), c.Salt, uint32(c.Iterations), uint32(c.Memory), 1, 32)
		salted = []byte(base64.RawStdEncoding.EncodeToString(raw))
	default:
		var err error
		salted, err = pbkdf2.Key(sha256.New, password, c.Salt, c.Iterations, 32)
		if err != nil {
			return nil, fmt.Errorf("auth: scram pbkdf2: %w", err)
		}
	}
	clientKey := hmacSHA256(salted, []byte("Client Key"))
	stored := sha256.Sum256(clientKey)
	c.StoredKey = stored[:]
	c.ServerKey = hmacSHA256(salted, []byte("Server Key"))
	return c, nil
}

func (c *ScramCredential) checkParams() error {
	switch c.KDF {
	case KDFArgon2id:
		if c.Iterations < 1 || c.Iterations > maxArgon2Time {
			return fmt.Errorf("argon2id iterations must be in [1, %d]", maxArgon2Time)
		}
		if c.Memory < 8 || c.Memory > maxArgon2Memory {
			return fmt.Errorf("argon2id memory must be in [8, %d] KiB", maxArgon2Memory)
		}
	case KDFPBKDF2:
		if c.Iterations < 1 || c.Iterations > maxKDFIter {
			return fmt.Errorf("pbkdf2 iterations must be in [1, %d]", maxKDFIter)
		}
	default:
		return fmt.Errorf("unknown SCRAM kdf %q", c.KDF)
	}
	if len(c.Salt) < 8 {
		return errors.New("SCRAM salt must be at least 8 bytes")
	}
	return nil
}

// Validate checks a credential read from a config.
func (c *ScramCredential) Validate() error {
	if err := c.checkParams(); err != nil {
		return err
	}
	if len(c.StoredKey) != sha256.Size || len(c.ServerKey) != sha256.Size {
		return errors.New("SCRAM stored_key and server_key must be 32 bytes")
	}
	return nil
}

// Map returns the credential as a config file's "scram" entry: kdf,
// iterations, memory (Argon2id only), and salt, stored_key and server_key in
// hex (Crossbar's encoding, so credentials move between the two).
func (c *ScramCredential) Map() map[string]any {
	m := map[string]any{
		"kdf":        c.KDF,
		"iterations": c.Iterations,
		"salt":       hex.EncodeToString(c.Salt),
		"stored_key": hex.EncodeToString(c.StoredKey),
		"server_key": hex.EncodeToString(c.ServerKey),
	}
	if c.KDF == KDFArgon2id {
		m["memory"] = c.Memory
	}
	return m
}

// ScramOptions configures NewScramAuthenticator.
type ScramOptions struct {
	Principals *Principals
	// Provider is WELCOME's authprovider. Default "static".
	Provider string
	// Method selects the flavour: MethodScram (default) as Autobahn and
	// Crossbar speak it, or MethodWampScram as the spec writes it.
	//
	//   - scram: kdf "argon2id-13"; AuthMessage "...,c=<channel_binding or
	//     empty>,r=<nonce>"; no escaping of the authid; WELCOME.authextra
	//     .scram_server_signature = base64(ServerSignature).
	//   - wamp-scram: kdf "argon2id13"; AuthMessage "...,c=base64(GS2
	//     header ‖ cbind data),r=<nonce>" with "," and "=" escaped in the
	//     authid; AUTHENTICATE.Extra.nonce required;
	//     WELCOME.authextra.verifier = base64(ServerSignature).
	Method string
	// MockKey seeds the deterministic salts of the mock challenges sent for
	// unknown authids. Default: derived from the principals' ServerKeys (so
	// salts are stable across restarts without an extra secret, and unknown
	// to anyone without the credentials), or random if there are none.
	MockKey []byte
}

// Scram implements SCRAM-SHA-256 with Argon2id or PBKDF2 (RFC 5802/7677 as
// WAMP adapts them).
//
// An unknown authid gets a mock challenge, with a salt derived from the
// authid and MockKey and the parameters of a real principal, and then the
// same refusal as a wrong password: clients cannot tell which authids exist.
type Scram struct {
	principals *Principals
	provider   string
	spec       bool // the wamp-scram flavour
	mockKey    []byte
	mockParams ScramCredential
}

// NewScramAuthenticator returns the static "scram" or "wamp-scram" method.
func NewScramAuthenticator(o ScramOptions) (*Scram, error) {
	s := &Scram{principals: o.Principals, provider: o.Provider, mockKey: slices.Clone(o.MockKey)}
	if s.provider == "" {
		s.provider = "static"
	}
	switch o.Method {
	case "", MethodScram:
	case MethodWampScram:
		s.spec = true
	default:
		return nil, fmt.Errorf("auth: scram: method %q is not %q or %q", o.Method, MethodScram, MethodWampScram)
	}
	s.mockParams = ScramCredential{KDF: KDFArgon2id, Iterations: DefaultScramArgon2Iterations, Memory: DefaultScramArgon2Memory}
	var ids []string
	if o.Principals != nil {
		for id, pr := range o.Principals.byID {
			if pr.Scram != nil {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	if len(ids) > 0 {
		first := o.Principals.byID[ids[0]].Scram
		s.mockParams = ScramCredential{KDF: first.KDF, Iterations: first.Iterations, Memory: first.Memory}
	}
	if len(s.mockKey) == 0 {
		h := sha256.New()
		h.Write([]byte("switchyard scram mock salt key\x00"))
		for _, id := range ids {
			h.Write(o.Principals.byID[id].Scram.ServerKey)
		}
		if len(ids) == 0 {
			h.Write(randomBytes(32))
		}
		s.mockKey = h.Sum(nil)
	}
	return s, nil
}

// Method implements Authenticator.
func (s *Scram) Method() string {
	if s.spec {
		return MethodWampScram
	}
	return MethodScram
}

// Authenticate implements Authenticator.
func (s *Scram) Authenticate(ctx context.Context, req *Request, ch Challenger) (Identity, error) {
	method := s.Method()
	if req.AuthID == "" {
		return Identity{}, fmt.Errorf("%w: %s: HELLO has no authid", ErrAuthenticationFailed, method)
	}
	clientNonce, ok := req.AuthExtra["nonce"].(string)
	if !ok {
		return Identity{}, fmt.Errorf("%w: %s: HELLO has no authextra.nonce", ErrAuthenticationFailed, method)
	}
	if n, err := base64.StdEncoding.DecodeString(clientNonce); err != nil || len(n) < 8 || len(clientNonce) > 256 {
		return Identity{}, fmt.Errorf("%w: %s: authextra.nonce must be base64 of 8 to 192 random bytes", ErrAuthenticationFailed, method)
	}
	binding, err := requestedBinding(req, method)
	if err != nil {
		return Identity{}, err
	}
	var cbData []byte
	if binding != "" {
		if cbData, err = TLSChannelBinding(req.TLS, binding); err != nil {
			return Identity{}, fmt.Errorf("%w: %s: %w", ErrAuthenticationFailed, method, err)
		}
	}
	username, err := stringprep.SASLprep.Prepare(req.AuthID)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %s: authid is not a valid SASLprep string", ErrAuthenticationFailed, method)
	}

	pr, known := s.principals.ByAuthID(req.AuthID)
	var cred *ScramCredential
	if known && pr.Scram != nil {
		cred = pr.Scram
	} else {
		known = false
		cred = s.mockCredential(req.AuthID)
	}

	nonce := clientNonce + base64.StdEncoding.EncodeToString(scramServerNonce())
	salt := base64.StdEncoding.EncodeToString(cred.Salt)
	extra := spec.Dict{"nonce": nonce, "salt": salt, "iterations": int64(cred.Iterations)}
	if s.spec {
		extra["kdf"] = cred.KDF
		if cred.KDF == KDFArgon2id {
			extra["kdf"] = "argon2id13"
			extra["memory"] = int64(cred.Memory)
		} else {
			extra["memory"] = nil
		}
	} else {
		// Autobahn's AuthScram rejects unknown keys and reads "memory" and
		// "channel_binding" as-is, so send only what applies.
		extra["kdf"] = cred.KDF
		if cred.KDF == KDFArgon2id {
			extra["memory"] = int64(cred.Memory)
		}
		if binding != "" {
			extra["channel_binding"] = binding
		}
	}

	resp, err := challenge(ctx, ch, method, extra)
	if err != nil {
		return Identity{}, err
	}
	proof, err := parseScramProof(resp.Signature)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %s: authid %q: %w", ErrAuthenticationFailed, method, req.AuthID, err)
	}
	if err := s.checkFinalExtra(resp.Extra, nonce, binding, cbData); err != nil {
		return Identity{}, fmt.Errorf("%w: %s: authid %q: %w", ErrAuthenticationFailed, method, req.AuthID, err)
	}

	var am strings.Builder
	am.WriteString("n=")
	if s.spec {
		am.WriteString(scramEscape(username))
	} else {
		am.WriteString(username)
	}
	am.WriteString(",r=" + clientNonce)
	am.WriteString(",r=" + nonce + ",s=" + salt + ",i=" + strconv.Itoa(cred.Iterations))
	am.WriteString(",c=")
	if s.spec {
		gs2 := "n,,"
		if binding != "" {
			gs2 = "p=" + binding + ",,"
		}
		am.WriteString(base64.StdEncoding.EncodeToString(append([]byte(gs2), cbData...)))
	} else {
		am.WriteString(binding)
	}
	am.WriteString(",r=" + nonce)
	authMessage := []byte(am.String())

	clientSig := hmacSHA256(cred.StoredKey, authMessage)
	clientKey := make([]byte, sha256.Size)
	for i := range clientKey {
		clientKey[i] = clientSig[i] ^ proof[i]
	}
	recovered := sha256.Sum256(clientKey)
	if !hmac.Equal(recovered[:], cred.StoredKey) || !known {
		if !known {
			return Identity{}, fmt.Errorf("%w: %s: authid %q", ErrNoSuchPrincipal, method, req.AuthID)
		}
		return Identity{}, fmt.Errorf("%w: %s: wrong proof for authid %q", ErrAuthenticationFailed, method, req.AuthID)
	}
	id := pr.identity(method, s.provider)
	if id.AuthExtra == nil {
		id.AuthExtra = spec.Dict{}
	}
	serverSig := base64.StdEncoding.EncodeToString(hmacSHA256(cred.ServerKey, authMessage))
	if s.spec {
		id.AuthExtra["verifier"] = serverSig
	} else {
		id.AuthExtra["scram_server_signature"] = serverSig
	}
	return id, nil
}

// checkFinalExtra checks AUTHENTICATE.Extra: the nonce (when sent; required
// by the spec flavour) must be this challenge's, the channel binding type the
// one from HELLO, and the binding data this connection's.
func (s *Scram) checkFinalExtra(extra spec.Dict, nonce, binding string, cbData []byte) error {
	v, present := extra["nonce"]
	if !present && s.spec {
		return errors.New("AUTHENTICATE has no nonce")
	}
	if present {
		if n, ok := v.(string); !ok || n != nonce {
			return errors.New("AUTHENTICATE nonce is not this challenge's")
		}
	}
	if v, present := extra["channel_binding"]; present {
		got, _ := v.(string)
		if (v != nil && !isString(v)) || got != binding {
			return errors.New("AUTHENTICATE channel_binding differs from HELLO's")
		}
	}
	if binding == "" {
		return nil
	}
	data, _ := extra["cbind_data"].(string)
	raw, err := base64.StdEncoding.DecodeString(data)
	if data == "" || err != nil {
		return errors.New("AUTHENTICATE has no base64 cbind_data")
	}
	if !hmac.Equal(raw, cbData) {
		return errors.New("channel binding data is not this connection's")
	}
	return nil
}

func isString(v any) bool { _, ok := v.(string); return ok }

// mockCredential is the credential of an authid that does not exist: a salt
// that is always the same for that authid, the parameters of real
// principals, and keys that nothing matches.
func (s *Scram) mockCredential(authid string) *ScramCredential {
	c := s.mockParams
	c.Salt = hmacSHA256(s.mockKey, []byte(authid))[:16]
	c.StoredKey = randomBytes(sha256.Size)
	c.ServerKey = randomBytes(sha256.Size)
	return &c
}

// scramServerNonce returns the router's part of the nonce; a variable so a
// test can replay autobahn-python's fixed vectors against the router side.
var scramServerNonce = func() []byte { return randomBytes(16) }

// parseScramProof decodes AUTHENTICATE.Signature: base64 of the 32-byte
// ClientProof.
func parseScramProof(s string) ([]byte, error) {
	if len(s) > 64 {
		return nil, errors.New("proof too long")
	}
	p, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("proof is not base64")
	}
	if len(p) != sha256.Size {
		return nil, fmt.Errorf("proof is %d bytes, want %d", len(p), sha256.Size)
	}
	return p, nil
}

// scramEscape escapes "," and "=" in a SCRAM username (RFC 5802 §5.1).
func scramEscape(s string) string {
	if !strings.ContainsAny(s, ",=") {
		return s
	}
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}
