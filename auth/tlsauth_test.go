package auth

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"strings"
	"testing"
)

func fingerprintColons(b []byte) string {
	h := strings.ToUpper(hex.EncodeToString(b))
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

func TestTLSClientCert(t *testing.T) {
	certA, certB, certC := selfSigned(t, "device-a"), selfSigned(t, "device-b"), selfSigned(t, "stranger")
	s256 := sha256.Sum256(certA.Certificate[0])
	s1 := sha1.Sum(certB.Certificate[0])
	ps := mustPrincipals(t,
		Principal{AuthID: "dev-a", Role: "device", TLSFingerprints: []string{fingerprintColons(s256[:])}}, // SHA-256, as tools print it
		Principal{AuthID: "dev-b", Role: "device", TLSFingerprints: []string{hex.EncodeToString(s1[:])}},  // SHA-1, as Crossbar uses
	)
	a := NewTLSAuthenticator(TLSOptions{Principals: ps})
	if a.Method() != "tls" {
		t.Fatal(a.Method())
	}
	for _, c := range []struct {
		cert   tls.Certificate
		authid string
		want   string
	}{{certA, "", "dev-a"}, {certA, "dev-a", "dev-a"}, {certB, "", "dev-b"}} {
		srv, _ := tlsPair(t, tls.VersionTLS13, &c.cert)
		req := hello(c.authid, nil)
		req.TLS = &srv
		id, err := a.Authenticate(ctxT(t), req, noChallenge(t))
		if err != nil {
			t.Fatal(err)
		}
		if id.AuthID != c.want || id.AuthRole != "device" || id.AuthMethod != "tls" {
			t.Fatalf("identity %+v", id)
		}
	}
	// Unknown certificate, no certificate, no TLS, authid of someone else.
	srvC, _ := tlsPair(t, tls.VersionTLS12, &certC)
	srvNone, _ := tlsPair(t, tls.VersionTLS13, nil)
	srvA, _ := tlsPair(t, tls.VersionTLS13, &certA)
	for _, c := range []struct {
		state  *tls.ConnectionState
		authid string
		want   error
	}{{&srvC, "", ErrNoSuchPrincipal}, {&srvNone, "", ErrAuthenticationFailed}, {nil, "", ErrAuthenticationFailed}, {&srvA, "dev-b", ErrAuthenticationFailed}} {
		req := hello(c.authid, nil)
		req.TLS = c.state
		_, err := a.Authenticate(ctxT(t), req, noChallenge(t))
		wantRefused(t, err, c.want)
	}
}

func TestNormalizeFingerprint(t *testing.T) {
	s := sha256.Sum256([]byte("x"))
	got, err := NormalizeFingerprint(fingerprintColons(s[:]))
	if err != nil || got != hex.EncodeToString(s[:]) {
		t.Fatalf("%q %v", got, err)
	}
	for _, bad := range []string{"", "zz", "AB:CD", strings.Repeat("a", 62)} {
		if _, err := NormalizeFingerprint(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
