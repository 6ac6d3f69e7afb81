package websocket

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	gws "github.com/gobwas/ws"

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
//
// The opening handshake is gobwas/ws's client upgrade, straight on the
// connection, and the frames are read and written by the same code as the
// router's (masked, as a client's must be): no net/http client, transport
// or goroutine per connection. Through net/http and coder/websocket a
// WebSocket connect cost the client about 100 µs more than a RawSocket one,
// enough to make the load generator of `switchyard bench connect` the
// bottleneck of a WebSocket run.
func Dial(ctx context.Context, rawURL string, opts DialOptions) (transport.Peer, error) {
	o := opts.Options.WithDefaults()
	s := opts.Serializer
	if s == nil {
		s = serializer.JSON
	}
	proto := serializer.Subprotocol(s, opts.Batched)
	u, err := url.ParseRequestURI(rawURL)
	if err != nil {
		return nil, fmt.Errorf("websocket: dial %s: %w", rawURL, err)
	}
	nc, err := dialConn(ctx, u, opts)
	if err != nil {
		return nil, fmt.Errorf("websocket: dial %s: %w", rawURL, err)
	}
	pre, err := openingHandshake(ctx, nc, u, proto, opts.HTTPHeader)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("websocket: dial %s: %w", rawURL, err)
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
	wr := newWire(nc, o.WriteTimeout)
	wr.prime()
	c := newConn(nc, pre, wr, o.MaxMessageSize, true)
	return newPeer(c, nc, wr, s, opts.Batched, info, o, nil), nil
}

// dialConn opens the TCP connection to u's host, and for wss:// runs the
// TLS handshake on it, both within ctx.
func dialConn(ctx context.Context, u *url.URL, opts DialOptions) (net.Conn, error) {
	d := opts.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	var port string
	switch strings.ToLower(u.Scheme) {
	case "ws":
		port = "80"
	case "wss":
		port = "443"
	default:
		return nil, fmt.Errorf("not a WebSocket URL (scheme %q)", u.Scheme)
	}
	host := u.Hostname()
	if p := u.Port(); p != "" {
		port = p
	}
	nc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil || !strings.EqualFold(u.Scheme, "wss") {
		return nc, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.TLSConfig != nil {
		cfg = opts.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cfg.NextProtos = []string{"http/1.1"}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// openingHandshake asks the router at u to upgrade nc, offering proto,
// within ctx. It returns the bytes the router sent past its response (its
// first frames, if it was quick). A refusal's error carries the router's
// status and explanation, which names the subprotocols it speaks.
func openingHandshake(ctx context.Context, nc net.Conn, u *url.URL, proto string, header http.Header) ([]byte, error) {
	// ctx's end, its deadline included, cuts the handshake short: the
	// connection's deadline moves into the past. (Setting ctx's deadline
	// on the connection as well would race with it: the read could time
	// out before ctx reports why.)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(aLongTimeAgo) })
	var refusal error
	d := gws.Dialer{
		Protocols: []string{proto},
		OnStatusError: func(status int, reason []byte, resp io.Reader) {
			refusal = refusalError(status, reason, resp)
		},
	}
	if len(header) > 0 {
		d.Header = gws.HandshakeHeaderHTTP(header)
	}
	br, hs, err := d.Upgrade(nc, u)
	if !stop() && (err == nil || isTimeout(err)) {
		err = ctx.Err() // the handshake was cut short, or the connection poisoned after it
	}
	var pre []byte
	if br != nil {
		pre = leftover(br)
		gws.PutReader(br)
	}
	switch {
	case refusal != nil:
		return nil, refusal
	case err != nil:
		return nil, fmt.Errorf("opening handshake: %w", err)
	case hs.Protocol != proto:
		return nil, fmt.Errorf("router chose subprotocol %q, we offered %q", hs.Protocol, proto)
	}
	nc.SetDeadline(time.Time{})
	return pre, nil
}

// refusalError describes a router's answer other than 101: its status and
// the start of its body.
func refusalError(status int, reason []byte, resp io.Reader) error {
	msg := fmt.Sprintf("router answered %d %s", status, reason)
	r, err := http.ReadResponse(bufio.NewReader(resp), nil)
	if err != nil {
		return errors.New(msg)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(r.Body, 512))
	if b := strings.TrimSpace(string(body)); b != "" {
		msg += ": " + b
	}
	return errors.New(msg)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
