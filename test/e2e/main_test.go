// Package e2e runs the real switchyard binary on loopback ports and drives
// it over every transport and serializer with the project's Go client, and
// with hand-made bad input.
package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"github.com/switchyard/switchyard/internal/leakcheck"
	"maps"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var routerBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchyard-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	routerBinary = filepath.Join(dir, "switchyard")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	build := exec.Command("go", "build", "-o", routerBinary, "./cmd/switchyard")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building switchyard:", err)
		os.Exit(1)
	}
	code := leakcheck.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePorts returns n distinct loopback addresses nobody listens on right
// now. The listeners stay open until all are chosen, so no two are alike.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs[i] = ln.Addr().String()
	}
	return addrs
}

// syncBuffer collects the router's log for failure reports.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// routerProc is a running switchyard with every listener on.
type routerProc struct {
	cmd     *exec.Cmd
	log     *syncBuffer
	stdout  *syncBuffer
	exited  chan struct{}     // closed when the process has exited
	exitErr error             // its exit status, once exited is closed
	urls    map[string]string // by listener name
	tls     *tls.Config       // trusts the router's certificate
	termed  sync.Once
}

// terminate sends the router SIGTERM once: a second one, from the cleanup
// while the router is already exiting, could land after it stopped
// catching signals and kill it, which the cleanup would report as an
// unclean exit.
func (p *routerProc) terminate() error {
	var err error
	p.termed.Do(func() { err = p.cmd.Process.Signal(syscall.SIGTERM) })
	return err
}

func startRouter(t *testing.T, extra ...string) *routerProc {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile, pool := writeCert(t, dir)
	names := []string{"ws", "rawsocket", "listen", "wss", "rawsocket-tls", "listen-tls"}
	addrs := map[string]string{}
	for i, addr := range freePorts(t, len(names)) {
		addrs[names[i]] = addr
	}
	sock := filepath.Join(dir, "switchyard.sock")
	args := []string{"serve", "--unix", sock, "--tls-cert", certFile, "--tls-key", keyFile, "--log-level", "debug"}
	for name, addr := range addrs {
		args = append(args, "--"+name, addr)
	}
	args = append(args, extra...)
	p := startRouterWith(t, slices.Collect(maps.Values(addrs)), args...)
	p.tls = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	p.urls = map[string]string{
		"ws":             "ws://" + addrs["ws"] + "/",
		"wss":            "wss://" + addrs["wss"] + "/",
		"rawsocket":      "rs://" + addrs["rawsocket"],
		"rawsocket-tls":  "rss://" + addrs["rawsocket-tls"],
		"unix":           "unix://" + sock,
		"listen-ws":      "ws://" + addrs["listen"] + "/",
		"listen-rs":      "tcp://" + addrs["listen"],
		"listen-tls-wss": "wss://" + addrs["listen-tls"] + "/",
		"listen-tls-rss": "tcps://" + addrs["listen-tls"],
	}
	return p
}

// startRouterWith runs the router with exactly args, waiting until every
// address in wait accepts connections.
func startRouterWith(t *testing.T, wait []string, args ...string) *routerProc {
	t.Helper()
	p := &routerProc{
		cmd:    exec.Command(routerBinary, args...),
		log:    &syncBuffer{},
		stdout: &syncBuffer{},
		exited: make(chan struct{}),
	}
	p.cmd.Stderr, p.cmd.Stdout = p.log, p.stdout
	// No admin listener unless the test asks for one (--admin ADDR wins
	// over the environment): many routers run at once.
	p.cmd.Env = append(os.Environ(), "SWITCHYARD_ADMIN=")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.exitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.terminate()
		select {
		case <-p.exited:
			if p.exitErr != nil {
				t.Errorf("router exited with %v", p.exitErr)
			}
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			t.Errorf("router did not exit after SIGTERM")
		}
		if t.Failed() {
			t.Logf("router log:\n%s", p.log.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for _, addr := range wait {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("router never listened on %s; log:\n%s", addr, p.log.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return p
}

// writeCert writes a self-signed certificate for 127.0.0.1.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "switchyard test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func logContains(p *routerProc, s string) bool { return strings.Contains(p.log.String(), s) }
