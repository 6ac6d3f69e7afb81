package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// challengerFunc is a Challenger that plays the client: it gets the
// CHALLENGE and returns the AUTHENTICATE a client would compute.
type challengerFunc func(ctx context.Context, method string, extra spec.Dict) (*spec.Authenticate, error)

func (f challengerFunc) Challenge(ctx context.Context, method string, extra spec.Dict) (*spec.Authenticate, error) {
	return f(ctx, method, extra)
}

// recorder wraps a client and remembers every challenge it was sent.
type recorder struct {
	mu         sync.Mutex
	challenges []recorded
	client     challengerFunc
}

type recorded struct {
	method string
	extra  spec.Dict
}

func (r *recorder) Challenge(ctx context.Context, method string, extra spec.Dict) (*spec.Authenticate, error) {
	r.mu.Lock()
	r.challenges = append(r.challenges, recorded{method, extra})
	r.mu.Unlock()
	return r.client(ctx, method, extra)
}

// noChallenge fails the test if the authenticator challenges.
func noChallenge(t *testing.T) challengerFunc {
	return func(context.Context, string, spec.Dict) (*spec.Authenticate, error) {
		t.Helper()
		t.Error("unexpected CHALLENGE")
		return nil, errors.New("unexpected challenge")
	}
}

// answer returns a client that answers every challenge with sig.
func answer(sig string) challengerFunc {
	return func(context.Context, string, spec.Dict) (*spec.Authenticate, error) {
		return &spec.Authenticate{Signature: sig, Extra: spec.Dict{}}, nil
	}
}

// blocking is a client that never answers: the handshake context ends it.
func blocking() challengerFunc {
	return func(ctx context.Context, _ string, _ spec.Dict) (*spec.Authenticate, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
}

func hello(authid string, extra spec.Dict) *Request {
	d := spec.Dict{"roles": spec.Dict{"caller": spec.Dict{}}}
	if authid != "" {
		d["authid"] = authid
	}
	if extra != nil {
		d["authextra"] = extra
	}
	return NewRequest("realm1", d, 4242, "192.0.2.7:50000", nil)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustPrincipals(t *testing.T, list ...Principal) *Principals {
	t.Helper()
	p, err := NewPrincipals(list)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// wantRefused checks that err is a refusal wrapping target, and that its
// text contains none of the secrets.
func wantRefused(t *testing.T, err, target error, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("admitted, want %v", target)
	}
	if !errors.Is(err, target) {
		t.Fatalf("error %q does not wrap %q", err, target)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("error %q contains a secret", err)
		}
	}
}

func wantTimeout(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want a wrapped context.DeadlineExceeded", err)
	}
	if reason, msg := Refusal(err); reason != spec.ErrAuthenticationFailed || msg != "authentication timed out" {
		t.Fatalf("Refusal = %s %q", reason, msg)
	}
}

func shortCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	t.Cleanup(cancel)
	return ctx
}

// tlsPair makes a real TLS connection over an in-memory pipe and returns the
// server's and the client's connection state. clientCert, if set, is
// presented to the server.
func tlsPair(t *testing.T, maxVersion uint16, clientCert *tls.Certificate) (server, client tls.ConnectionState) {
	t.Helper()
	serverCert := selfSigned(t, "switchyard test server")
	sc, cc := net.Pipe()
	t.Cleanup(func() { sc.Close(); cc.Close() })
	srv := tls.Server(sc, &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequestClientCert,
		MaxVersion:   maxVersion,
	})
	ccfg := &tls.Config{InsecureSkipVerify: true, MaxVersion: maxVersion}
	if clientCert != nil {
		ccfg.Certificates = []tls.Certificate{*clientCert}
	}
	cli := tls.Client(cc, ccfg)
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return srv.ConnectionState(), cli.ConnectionState()
}

func selfSigned(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
