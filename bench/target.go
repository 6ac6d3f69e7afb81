package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/rawsocket"
	"github.com/switchyard/switchyard/transport/websocket"
)

// Target is what a scenario runs against.
type Target struct {
	// Label names the target in tables and JSON: "router", "baseline".
	Label string
	// URL of the router: ws://, wss://, tcp:// or rs://, tcps:// or rss://,
	// unix:///path.
	URL string
	// PID of the process serving URL, or 0. With a pid the scenario reports
	// the process's CPU time per operation and its resident memory.
	PID int
	// MorePIDs are further processes serving the same realms — the other
	// nodes of a cluster: their CPU time and memory are summed with PID's,
	// so a cluster's figures cover every node.
	MorePIDs []int
}

// pids returns every process the target's figures sum over.
func (t Target) pids() []int {
	if t.PID <= 0 {
		return nil
	}
	return append([]int{t.PID}, t.MorePIDs...)
}

// endpoint is a parsed router URL.
type endpoint struct {
	url       string
	scheme    string // lower case
	network   string // "tcp" or "unix" for RawSocket
	address   string // host:port or socket path
	websocket bool
	tls       bool
}

// Transport names the endpoint's transport as the router's session details
// do: "websocket" or "rawsocket".
func (e endpoint) Transport() string {
	if e.websocket {
		return "websocket"
	}
	return "rawsocket"
}

func parseEndpoint(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("bench: parse URL %q: %w", raw, err)
	}
	e := endpoint{url: raw, scheme: strings.ToLower(u.Scheme), network: "tcp", address: u.Host}
	switch e.scheme {
	case "ws":
		e.websocket = true
	case "wss":
		e.websocket, e.tls = true, true
	case "rs", "tcp":
	case "rss", "tcps":
		e.tls = true
	case "unix":
		e.network = "unix"
		e.address = u.Path
		if e.address == "" {
			e.address = u.Opaque
		}
	default:
		return endpoint{}, fmt.Errorf("bench: URL %q: unsupported scheme %q (ws, wss, tcp, rs, tcps, rss, unix)", raw, u.Scheme)
	}
	if e.address == "" {
		return endpoint{}, fmt.Errorf("bench: URL %q has no address", raw)
	}
	return e, nil
}

// ErrRemoteTarget is returned for a target that is not on this machine
// unless remote targets are allowed: a load generator pointed at somebody
// else's router by a typo is a denial of service.
var ErrRemoteTarget = errors.New("bench: target is not a loopback address (pass --allow-remote to load a remote router)")

// checkLoopback refuses e unless it is a Unix socket or every address its
// host resolves to is a loopback address.
func checkLoopback(ctx context.Context, e endpoint) error {
	if e.network == "unix" {
		return nil
	}
	host, _, err := net.SplitHostPort(e.address)
	if err != nil {
		host = e.address
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("%w: %s", ErrRemoteTarget, e.url)
		}
		return nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("bench: resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return fmt.Errorf("%w: %s resolves to %s", ErrRemoteTarget, e.url, a.IP)
		}
	}
	if len(addrs) == 0 {
		return fmt.Errorf("bench: %s resolves to no address", host)
	}
	return nil
}

// dialer opens transport peers to one endpoint with one serializer.
type dialer struct {
	ep   endpoint
	ser  serializer.Serializer
	opts transport.Options
	tls  *tls.Config
}

func newDialer(ep endpoint, serName string, tlsConfig *tls.Config, opts transport.Options) (*dialer, error) {
	ser, ok := serializer.ByName(serName)
	if !ok {
		return nil, fmt.Errorf("bench: unknown serializer %q (json, msgpack, cbor)", serName)
	}
	// The generator's peers must never be the slow consumer: keepalive off
	// (a bench run is short) and the queue as large as a window can need.
	opts.PingInterval = -1
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return &dialer{ep: ep, ser: ser, opts: opts, tls: tlsConfig}, nil
}

// dial opens one connection (transport handshake only, no WAMP session).
func (d *dialer) dial(ctx context.Context) (transport.Peer, error) {
	var tlsConfig *tls.Config
	if d.ep.tls {
		tlsConfig = d.tls
	}
	if d.ep.websocket {
		p, err := websocket.Dial(ctx, d.ep.url, websocket.DialOptions{Options: d.opts, Serializer: d.ser, TLSConfig: tlsConfig})
		if err != nil {
			return nil, fmt.Errorf("bench: dial %s: %w", d.ep.url, err)
		}
		return p, nil
	}
	p, err := rawsocket.Dial(ctx, d.ep.network, d.ep.address, rawsocket.DialOptions{Options: d.opts, Serializer: d.ser, TLSConfig: tlsConfig})
	if err != nil {
		return nil, fmt.Errorf("bench: dial %s: %w", d.ep.url, err)
	}
	return p, nil
}
