// Package ops is what the operator CLI's client commands (call, publish,
// subscribe, register, sessions) share: connecting from command-line
// settings, turning command-line words into WAMP arguments, and printing
// results and events as JSON. It speaks plain WAMP through package client,
// so it works against any router, not only Switchyard.
package ops

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/switchyard/switchyard/client"
)

// ConnectOptions are the settings every client command takes.
type ConnectOptions struct {
	URL        string
	Realm      string
	Serializer string
	// AuthID names the principal; with one of Ticket, Secret (wampcra) or
	// PrivateKey (cryptosign, the hex Ed25519 seed or full key) the client
	// authenticates, otherwise it joins anonymously.
	AuthID     string
	Ticket     string
	Secret     string
	PrivateKey string
	// CAFile trusts the PEM certificates in it (instead of the system's);
	// Insecure skips verification; CertFile and KeyFile are a client
	// certificate (for the router's "tls" method or a client_ca listener).
	CAFile   string
	Insecure bool
	CertFile string
	KeyFile  string
	// Timeout bounds connecting and joining (the commands also use it for
	// their requests).
	Timeout time.Duration
	// Reconnect and OnStateChange go to client.Config, for commands that
	// run until stopped.
	Reconnect     *client.Reconnect
	OnStateChange func(client.State, error)
}

// Config turns o into a client configuration.
func (o ConnectOptions) Config() (client.Config, error) {
	cfg := client.Config{Realm: o.Realm, Serializer: o.Serializer, AuthID: o.AuthID, Reconnect: o.Reconnect, OnStateChange: o.OnStateChange}
	n := 0
	for _, s := range []string{o.Ticket, o.Secret, o.PrivateKey} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return cfg, errors.New("give only one of --ticket, --secret and --private-key")
	}
	switch {
	case o.Ticket != "":
		cfg.AuthMethods = []string{"ticket"}
		cfg.Authenticate = client.Ticket(o.Ticket)
	case o.Secret != "":
		cfg.AuthMethods = []string{"wampcra"}
		cfg.Authenticate = client.WampCRA(o.Secret)
	case o.PrivateKey != "":
		key, err := ParsePrivateKey(o.PrivateKey)
		if err != nil {
			return cfg, err
		}
		cfg.AuthMethods = []string{"cryptosign"}
		cfg.AuthExtra = client.CryptosignExtra(key)
		cfg.Authenticate = client.Cryptosign(key)
	}
	if n > 0 && o.AuthID == "" && o.PrivateKey == "" {
		return cfg, errors.New("--ticket and --secret need --authid")
	}
	tc, err := o.tlsConfig()
	if err != nil {
		return cfg, err
	}
	cfg.TLSConfig = tc
	return cfg, nil
}

// ParsePrivateKey decodes a cryptosign private key: the 32-byte seed
// ("switchyard keygen" prints it) or the 64-byte key, in hex.
func ParsePrivateKey(s string) (ed25519.PrivateKey, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("--private-key is not hex")
	}
	switch len(b) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case ed25519.PrivateKeySize:
		return ed25519.PrivateKey(b), nil
	}
	return nil, fmt.Errorf("--private-key must be %d hex digits (the seed) or %d", 2*ed25519.SeedSize, 2*ed25519.PrivateKeySize)
}

func (o ConnectOptions) tlsConfig() (*tls.Config, error) {
	if o.CAFile == "" && !o.Insecure && o.CertFile == "" && o.KeyFile == "" {
		return nil, nil // the client's default: system roots, TLS 1.2+
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.Insecure {
		tc.InsecureSkipVerify = true //nolint:gosec // asked for by the operator
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in it", o.CAFile)
		}
		tc.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("--cert and --key go together")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Connect dials o.URL and joins o.Realm within o.Timeout (when set).
func Connect(ctx context.Context, o ConnectOptions) (*client.Client, error) {
	cfg, err := o.Config()
	if err != nil {
		return nil, err
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	c, err := client.Connect(ctx, o.URL, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s (realm %s): %w", o.URL, cfg.Realm, err)
	}
	return c, nil
}
