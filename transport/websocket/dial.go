package websocket

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	ws "github.com/coder/websocket"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/internal/peerutil"
)

// DialOptions configure [Dial]. The zero value means defaults.
type DialOptions struct {
	transport.Options
	// Serializer selects the subprotocol; nil means serializer.JSON.
	Serializer serializer.Serializer
	// Batched asks for the ".batched" variant of the subprotocol.
	Batched bool
	// TLSConfig is used for wss:// URLs; nil means the system roots.
	TLSConfig *tls.Config
	// HTTPHeader is added to the opening handshake request (Origin,
	// Authorization, cookies...).
	HTTPHeader http.Header
	// Dialer, if set, makes the TCP connection (a local address to dial
	// from, socket options); nil means a zero net.Dialer.
	Dialer *net.Dialer
}

// Dial connects to a WAMP router's WebSocket endpoint (ws:// or wss://)
// offering one subprotocol, "wamp.2.<serializer>" (or its batched
// variant). ctx bounds the connection and the opening handshake only.
// HTTP proxies are not used.
func Dial(ctx context.Context, url string, opts DialOptions) (transport.Peer, error) {
	o := opts.Options.WithDefaults()
	s := opts.Serializer
	if s == nil {
		s = serializer.JSON
	}
	proto := serializer.Subprotocol(s, opts.Batched)

	// The transport dials for us so that we keep the net.Conn under the
	// WebSocket: the peer needs it for write deadlines and for a close
	// that never blocks.
	var (
		mu   sync.Mutex
		conn net.Conn
	)
	keep := func(c net.Conn) {
		mu.Lock()
		conn = c
		mu.Unlock()
	}
	d := opts.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				keep(c)
			}
			return c, err
		},
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cfg := &tls.Config{MinVersion: tls.VersionTLS12}
			if opts.TLSConfig != nil {
				cfg = opts.TLSConfig.Clone()
			}
			if cfg.ServerName == "" {
				host, _, err := net.SplitHostPort(addr)
				if err != nil {
					host = addr
				}
				cfg.ServerName = host
			}
			cfg.NextProtos = []string{"http/1.1"}
			tc := tls.Client(c, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, err
			}
			keep(tc)
			return tc, nil
		},
	}
	defer tr.CloseIdleConnections()
	c, resp, err := ws.Dial(ctx, url, &ws.DialOptions{
		HTTPClient:   &http.Client{Transport: tr},
		HTTPHeader:   opts.HTTPHeader,
		Subprotocols: []string{proto},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return nil, fmt.Errorf("websocket: dial %s: router answered %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil, fmt.Errorf("websocket: dial %s: %w", url, err)
	}
	mu.Lock()
	nc := conn
	mu.Unlock()
	if c.Subprotocol() != proto {
		c.CloseNow()
		return nil, fmt.Errorf("websocket: dial %s: router chose subprotocol %q, we offered %q", url, c.Subprotocol(), proto)
	}
	if nc == nil {
		c.CloseNow()
		return nil, errors.New("websocket: dial: no connection recorded")
	}
	info := transport.Info{
		Transport:  "websocket",
		Protocol:   proto,
		RemoteAddr: peerutil.RemoteAddr(nc),
		TLS:        peerutil.IsTLS(nc),
		TLSState:   peerutil.TLSState(nc),
		MaxRecv:    o.MaxMessageSize,
		MaxSend:    o.MaxMessageSize,
	}
	c.SetReadLimit(int64(o.MaxMessageSize))
	cc := &coderConn{c: c, typ: ws.MessageBinary}
	if !s.Binary() {
		cc.typ = ws.MessageText
	}
	return newPeer(cc, nc, nil, s, opts.Batched, info, o, nil), nil
}
