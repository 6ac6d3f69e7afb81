package websocket

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	gws "github.com/gobwas/ws"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/transport/internal/peerutil"
)

// headBufferSize bounds the request head Serve reads before deciding
// where a connection goes; a longer head goes to net/http, which refuses
// it (431) or serves it.
const headBufferSize = 4 << 10

// defaultHeadTimeout bounds the wait for the request head when the
// http.Server given to Serve sets no ReadHeaderTimeout.
const defaultHeadTimeout = 10 * time.Second

var headReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, headBufferSize) }}

// Serve accepts connections from ln and answers WebSocket upgrades on them
// itself, without net/http: it reads the request head (bounded in size,
// and in time by hs.ReadHeaderTimeout), and an upgrade goes through
// gobwas/ws's zero-copy upgrade straight to a session. Every other request
// (the console page, the HTTP bridge, a malformed head) goes to hs, which
// should have the Handler (or anything else) as its Handler, through a
// listener fed with those connections, their head bytes replayed.
//
// The profile that motivated it: net/http's connection goroutine (request
// parsing, header maps, response, hijack) cost ~55 µs per WebSocket
// session. Serve returns when ln's Accept fails (ln closed): it then stops
// hs's listener and closes the connections whose head it is reading;
// sessions go on until Shutdown or Close.
func (hd *Handler) Serve(ln net.Listener, hs *http.Server) error {
	timeout := hs.ReadHeaderTimeout
	if timeout <= 0 {
		timeout = hs.ReadTimeout
	}
	if timeout <= 0 {
		timeout = defaultHeadTimeout
	}
	fl := &fedListener{addr: ln.Addr(), conns: make(chan net.Conn), closed: make(chan struct{})}
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		hs.Serve(fl)
		fl.Close() // hs shut down: plain requests are refused from now on
	}()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		reading = make(map[net.Conn]struct{})
	)
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: back off, as
				// net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			fl.Close()
			mu.Lock()
			for c := range reading {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
			<-httpDone
			return err
		}
		delay = 0
		mu.Lock()
		reading[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			toHTTP, session := hd.serveConn(c, timeout)
			mu.Lock()
			delete(reading, c)
			mu.Unlock()
			if session != nil {
				// The session is the handler's from here on (Shutdown
				// waits for it), and runs on this goroutine, whose stack
				// the upgrade has grown already.
				wg.Done()
				session()
				return
			}
			if toHTTP != nil && !fl.feed(toHTTP) {
				toHTTP.Close()
			}
			wg.Done()
		}()
	}
}

// serveConn reads c's request head and upgrades it, returning the session
// to run; or it returns the connection to hand to net/http; or neither
// (the connection failed or was refused, and is closed).
func (hd *Handler) serveConn(c net.Conn, timeout time.Duration) (net.Conn, func()) {
	c.SetDeadline(time.Now().Add(timeout))
	br := headReaders.Get().(*bufio.Reader)
	br.Reset(c)
	head, err := readHead(br)
	if err != nil {
		br.Reset(nil)
		headReaders.Put(br)
		c.Close()
		return nil, nil
	}
	if head == nil || !isUpgrade(head) {
		c.SetDeadline(time.Time{}) // net/http sets its own
		return &peekedConn{Conn: c, r: br}, nil
	}
	return nil, hd.upgradeConn(c, br, head)
}

// upgradeConn runs gobwas/ws's upgrade on the head and, if it succeeds,
// returns the session to run (see run). br (a pooled head reader) holds
// head and any bytes sent after it.
func (hd *Handler) upgradeConn(c net.Conn, br *bufio.Reader, head []byte) func() {
	remote := peerutil.RemoteAddr(c)
	var (
		host, origin, proto string
		admitted            bool
	)
	u := gws.Upgrader{
		// The client's order of preference decides, header by header
		// until one matches. (The flag says the header is well-formed.)
		ProtocolCustom: func(v []byte) (string, bool) {
			proto = negotiateBytes(v, hd.protocols)
			return proto, true
		},
		OnHost: func(h []byte) error {
			host = string(h)
			return nil
		},
		OnHeader: func(key, value []byte) error {
			if bytes.EqualFold(key, originHeader) {
				origin = string(value)
			}
			return nil
		},
		// Called once every header is read and the request is a valid
		// upgrade; no extension is negotiated (permessage-deflate is
		// declined).
		OnBeforeUpgrade: func() (gws.HandshakeHeader, error) {
			if err := hd.check(proto, host, origin, remote); err != nil {
				return nil, err
			}
			if code, msg := hd.admitCode(remote); code != 0 {
				return nil, gws.RejectConnectionError(gws.RejectionStatus(code), gws.RejectionReason(msg))
			}
			admitted = true
			return gws.HandshakeHeaderString(""), nil
		},
	}
	_, err := u.Upgrade(struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(head), c})
	if err != nil {
		if admitted {
			hd.release(remote)
		}
		hd.log.Debug("upgrade refused", "remote", remote, "error", err)
		br.Reset(nil)
		headReaders.Put(br)
		c.Close()
		return nil
	}
	br.Discard(len(head))
	pre := leftover(br)
	br.Reset(nil)
	headReaders.Put(br)
	c.SetDeadline(time.Time{})
	s, batched, _ := serializer.BySubprotocol(proto)
	wr := newWire(c, hd.opts.WriteTimeout)
	wr.prime()
	return hd.run(c, pre, wr, s, batched, proto, remote, peerutil.IsTLS(c), peerutil.TLSState(c))
}

var originHeader = []byte("Origin")

// check refuses an upgrade offering none of our subprotocols (400) or from
// an origin not allowed (403), logging why.
func (hd *Handler) check(proto, host, origin, remote string) error {
	if proto == "" {
		hd.log.Info("refused: no supported subprotocol", "remote", remote)
		return gws.RejectConnectionError(gws.RejectionStatus(http.StatusBadRequest),
			gws.RejectionReason("no supported WAMP subprotocol offered (Sec-WebSocket-Protocol); this router speaks "+hd.listing))
	}
	if err := checkOrigin(origin, host, hd.opts.OriginPatterns); err != nil {
		hd.log.Info("refused: origin not allowed", "remote", remote, "origin", origin)
		return gws.RejectConnectionError(gws.RejectionStatus(http.StatusForbidden),
			gws.RejectionReason("origin "+origin+" not allowed"))
	}
	return nil
}

// negotiateBytes is negotiate for one Sec-WebSocket-Protocol header value
// as gobwas/ws passes it: it returns one of ours, without allocating.
func negotiateBytes(v []byte, ours []string) string {
	for len(v) > 0 {
		tok := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		tok = bytes.TrimSpace(tok)
		for _, p := range ours {
			if string(tok) == p {
				return p
			}
		}
	}
	return ""
}

// readHead peeks at the request head in br: it returns the bytes up to and
// including the blank line ending it, nil if the head does not fit br's
// buffer or the connection does not look like HTTP/1 (net/http answers
// those), or the read error.
func readHead(br *bufio.Reader) ([]byte, error) {
	n := 0
	for {
		b, err := br.Peek(n + 1)
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, nil
			}
			if len(b) > 0 {
				return nil, nil // let net/http answer what it can
			}
			return nil, err
		}
		b, _ = br.Peek(br.Buffered())
		if i := bytes.Index(b, crlfcrlf); i >= 0 {
			return b[:i+4], nil
		}
		n = len(b)
	}
}

var crlfcrlf = []byte("\r\n\r\n")

// isUpgrade reports whether the head asks for a WebSocket upgrade: an
// Upgrade header naming websocket. gobwas/ws checks the rest (method,
// version, Connection, key) and refuses a bad upgrade itself.
func isUpgrade(head []byte) bool {
	for len(head) > 0 {
		i := bytes.IndexByte(head, '\n')
		if i < 0 {
			return false
		}
		line := head[:i]
		head = head[i+1:]
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || !bytes.EqualFold(bytes.TrimSpace(k), []byte("Upgrade")) {
			continue
		}
		for len(v) > 0 {
			tok := v
			if j := bytes.IndexByte(v, ','); j >= 0 {
				tok, v = v[:j], v[j+1:]
			} else {
				v = nil
			}
			if bytes.EqualFold(bytes.TrimSpace(tok), []byte("websocket")) {
				return true
			}
		}
	}
	return false
}

// peekedConn is a connection whose first bytes were read into r: reads
// replay them first.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if c.r != nil {
		if c.r.Buffered() > 0 {
			return c.r.Read(p)
		}
		c.r = nil // the rest comes straight from the connection
	}
	return c.Conn.Read(p)
}

// fedListener is the net.Listener Serve hands net/http: Accept returns the
// connections Serve feeds it.
type fedListener struct {
	addr      net.Addr
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

// feed hands c to Accept; false once the listener is closed.
func (l *fedListener) feed(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *fedListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, fmt.Errorf("websocket: plain HTTP listener: %w", net.ErrClosed)
	}
}

func (l *fedListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *fedListener) Addr() net.Addr { return l.addr }
