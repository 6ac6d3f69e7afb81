package auth

import (
	"crypto/ed25519"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/spec"
)

// Principal is a known client of a realm: who it is (AuthID), what it may do
// (Role) and the credentials it may prove its identity with, one field per
// authentication method. A nil or empty credential means the principal
// cannot use that method.
type Principal struct {
	AuthID string
	Role   string
	// Extra is merged into WELCOME.Details.authextra when the principal is
	// admitted.
	Extra spec.Dict

	Ticket     *TicketSecret
	WampCRA    *WampCRASecret
	Cryptosign []ed25519.PublicKey
	Scram      *ScramCredential
	// TLSFingerprints are client-certificate fingerprints: lower-case hex of
	// the SHA-256 (64 digits) or SHA-1 (40 digits, as Crossbar uses) of the
	// certificate's DER bytes. Use NormalizeFingerprint to accept the
	// colon-separated upper-case forms tools print.
	TLSFingerprints []string
}

// Principals is a read-only index of a realm's principals by authid,
// Cryptosign public key and certificate fingerprint. Safe for concurrent
// use; build a new one to change it.
type Principals struct {
	byID  map[string]*Principal
	byKey map[[ed25519.PublicKeySize]byte]*Principal
	byFP  map[string]*Principal
}

// NewPrincipals indexes list. An authid, public key or fingerprint that
// appears twice is an error: the router could not tell which principal a
// client is.
func NewPrincipals(list []Principal) (*Principals, error) {
	p := &Principals{
		byID:  make(map[string]*Principal, len(list)),
		byKey: make(map[[ed25519.PublicKeySize]byte]*Principal),
		byFP:  make(map[string]*Principal),
	}
	for i := range list {
		pr := &list[i]
		if pr.AuthID == "" {
			return nil, fmt.Errorf("auth: principal %d has no authid", i)
		}
		if pr.Role == "" {
			return nil, fmt.Errorf("auth: principal %q has no role", pr.AuthID)
		}
		if _, dup := p.byID[pr.AuthID]; dup {
			return nil, fmt.Errorf("auth: principal %q appears twice", pr.AuthID)
		}
		p.byID[pr.AuthID] = pr
		for _, k := range pr.Cryptosign {
			if len(k) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("auth: principal %q: cryptosign key is %d bytes, want %d", pr.AuthID, len(k), ed25519.PublicKeySize)
			}
			kk := [ed25519.PublicKeySize]byte(k)
			if other, dup := p.byKey[kk]; dup {
				return nil, fmt.Errorf("auth: cryptosign key %x belongs to both %q and %q", k, other.AuthID, pr.AuthID)
			}
			p.byKey[kk] = pr
		}
		for _, fp := range pr.TLSFingerprints {
			n, err := NormalizeFingerprint(fp)
			if err != nil {
				return nil, fmt.Errorf("auth: principal %q: %w", pr.AuthID, err)
			}
			if other, dup := p.byFP[n]; dup {
				return nil, fmt.Errorf("auth: certificate fingerprint %s belongs to both %q and %q", n, other.AuthID, pr.AuthID)
			}
			p.byFP[n] = pr
		}
	}
	return p, nil
}

// ByAuthID returns the principal with this authid.
func (p *Principals) ByAuthID(authid string) (*Principal, bool) {
	if p == nil {
		return nil, false
	}
	pr, ok := p.byID[authid]
	return pr, ok
}

// ByCryptosignKey returns the principal that owns this Ed25519 public key.
func (p *Principals) ByCryptosignKey(key ed25519.PublicKey) (*Principal, bool) {
	if p == nil || len(key) != ed25519.PublicKeySize {
		return nil, false
	}
	pr, ok := p.byKey[[ed25519.PublicKeySize]byte(key)]
	return pr, ok
}

// ByCertificate returns the principal whose fingerprint matches the
// certificate's DER bytes, by SHA-256 or SHA-1.
func (p *Principals) ByCertificate(der []byte) (*Principal, bool) {
	if p == nil {
		return nil, false
	}
	s256 := sha256.Sum256(der)
	if pr, ok := p.byFP[hex.EncodeToString(s256[:])]; ok {
		return pr, true
	}
	s1 := sha1.Sum(der)
	pr, ok := p.byFP[hex.EncodeToString(s1[:])]
	return pr, ok
}

// Len returns the number of principals.
func (p *Principals) Len() int {
	if p == nil {
		return 0
	}
	return len(p.byID)
}

// has reports whether any principal has a credential for method.
func (p *Principals) has(method string) bool {
	if p == nil {
		return false
	}
	for _, pr := range p.byID {
		switch method {
		case MethodTicket:
			if pr.Ticket != nil {
				return true
			}
		case MethodWampCRA:
			if pr.WampCRA != nil {
				return true
			}
		case MethodCryptosign:
			if len(pr.Cryptosign) > 0 {
				return true
			}
		case MethodScram, MethodWampScram:
			if pr.Scram != nil {
				return true
			}
		case MethodTLS:
			if len(pr.TLSFingerprints) > 0 {
				return true
			}
		}
	}
	return false
}

// NormalizeFingerprint turns a certificate fingerprint as tools print it
// ("AB:CD:...", any case) into lower-case hex, and checks it is a SHA-256 (32
// bytes) or SHA-1 (20 bytes) fingerprint.
func NormalizeFingerprint(fp string) (string, error) {
	s := strings.ToLower(strings.ReplaceAll(fp, ":", ""))
	b, err := hex.DecodeString(s)
	if err != nil {
		return "", errors.New("certificate fingerprint is not hex")
	}
	if len(b) != sha256.Size && len(b) != sha1.Size {
		return "", fmt.Errorf("certificate fingerprint is %d bytes, want 32 (SHA-256) or 20 (SHA-1)", len(b))
	}
	return s, nil
}

// identity builds the Identity of an admitted principal.
func (pr *Principal) identity(method, provider string) Identity {
	return Identity{
		AuthID:       pr.AuthID,
		AuthRole:     pr.Role,
		AuthMethod:   method,
		AuthProvider: provider,
		AuthExtra:    cloneDict(pr.Extra),
	}
}

// cloneDict copies the top level of d, so a session's authextra can be
// changed without touching the principal's.
func cloneDict(d spec.Dict) spec.Dict {
	if len(d) == 0 {
		return nil
	}
	out := make(spec.Dict, len(d)+1)
	for k, v := range d {
		out[k] = v
	}
	return out
}
