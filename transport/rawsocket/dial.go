package rawsocket

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/transport"
)

// DialOptions configure [Dial]. The zero value means defaults.
type DialOptions struct {
	transport.Options
	// Serializer is the one serializer RawSocket negotiates; nil means
	// serializer.JSON, the one every RawSocket router speaks.
	Serializer serializer.Serializer
	// TLSConfig, if set, wraps the connection in TLS. An empty ServerName
	// is taken from address.
	TLSConfig *tls.Config
	// Dialer, if set, makes the connection (a local address to dial from,
	// socket options); nil means a zero net.Dialer.
	Dialer *net.Dialer
}

// Dial connects to a RawSocket router at address on network ("tcp",
// "tcp4", "tcp6" or "unix") and performs the opening handshake. ctx bounds
// the connection and handshake (DefaultHandshakeTimeout if ctx has no
// deadline); it does not affect the peer afterwards.
//
// A router that refuses the handshake yields a *HandshakeError with its
// code.
func Dial(ctx context.Context, network, address string, opts DialOptions) (transport.Peer, error) {
	o := opts.Options.WithDefaults()
	s := opts.Serializer
	if s == nil {
		s = serializer.JSON
	}
	id := serializer.RawSocketID(s)
	if id == 0 || id > 15 {
		return nil, fmt.Errorf("rawsocket: dial: serializer %q has no RawSocket id", s.Name())
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultHandshakeTimeout)
		defer cancel()
	}
	d := opts.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("rawsocket: dial: %w", err)
	}
	if opts.TLSConfig != nil {
		cfg := opts.TLSConfig
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				host = address
			}
			cfg.ServerName = host
		}
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("rawsocket: dial: tls handshake: %w", err)
		}
		c = tc
	}
	p, err := clientHandshake(ctx, c, s, id, o)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("rawsocket: handshake: %w", err)
	}
	return p, nil
}

// clientHandshake sends our handshake on c and reads the router's reply.
func clientHandshake(ctx context.Context, c net.Conn, s serializer.Serializer, id byte, o transport.Options) (*peer, error) {
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(aLongTimeAgo) })
	defer stop()

	recvExp := lengthExp(min(o.MaxMessageSize, MaxFrameSize))
	req := hello(recvExp, id)
	if _, err := c.Write(req[:]); err != nil {
		return nil, ctxErr(ctx, err)
	}
	var rep [4]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil {
		return nil, ctxErr(ctx, err)
	}
	if rep[0] != magic {
		return nil, fmt.Errorf("not a RawSocket router (first octet %#x)", rep[0])
	}
	if rep[1]&0x0F == 0 {
		return nil, &HandshakeError{Code: ErrorCode(rep[1] >> 4)}
	}
	if rep[1]&0x0F != id {
		return nil, fmt.Errorf("router chose serializer %d, we asked for %d", rep[1]&0x0F, id)
	}
	if !stop() {
		return nil, ctx.Err()
	}
	c.SetDeadline(time.Time{})
	br := bufio.NewReaderSize(c, o.ReadBufferSize)
	return newPeer(c, br, s, lengthLimit(recvExp), lengthLimit(rep[1]>>4), o, nil), nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
