package transport

import (
	"crypto/tls"
	"fmt"
)

// ServerTLSConfig loads a certificate and key (PEM files) into a TLS
// configuration for the router's listeners, RawSocket and WebSocket alike.
//
// It allows TLS 1.2 and 1.3 only. TLS 1.3 suites are all AEAD and not
// configurable; for TLS 1.2 it allows only ECDHE key exchange (forward
// secrecy) with AES-GCM or ChaCha20-Poly1305, the suites that current
// browsers and the WAMP client libraries (OpenSSL, Go, Node) negotiate, so
// IoT clients on TLS 1.2 still connect without any CBC or RSA key-exchange
// suite being offered. ALPN offers only "http/1.1": WebSocket needs the
// HTTP/1.1 upgrade, and RawSocket ignores ALPN.
//
// The returned config may be adjusted before use (client certificates,
// GetCertificate for reloading).
func ServerTLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("transport: load TLS certificate: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos: []string{"http/1.1"},
	}, nil
}
