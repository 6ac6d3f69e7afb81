package transport

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/transport/internal/peerutil"
)

// DefaultSniffTimeout bounds how long SniffListener waits for a new
// connection's first byte (and, under TLS, for the TLS handshake).
const DefaultSniffTimeout = 10 * time.Second

// rawSocketMagic is the first byte of every RawSocket handshake; it cannot
// start an HTTP request.
const rawSocketMagic = 0x7F

// SniffListener serves RawSocket and WebSocket on one port. It accepts
// connections from ln and reads each one's first byte (within timeout; 0
// means DefaultSniffTimeout): 0x7F, the RawSocket magic, sends the
// connection to raw, anything else (an HTTP request) to web. The byte is not
// lost: the connection returned by Accept yields it first.
//
// Serve raw with a rawsocket Server and web with an http.Server (the
// WebSocket handler):
//
//	raw, web := transport.SniffListener(ln, 0)
//	go rawServer.Serve(raw)
//	go httpServer.Serve(web)
//
// Under TLS, pass a tls.NewListener: the first byte is read after the TLS
// handshake, so both protocols share the TLS port. The HTTP side then sees
// wrapped connections, so http.Request.TLS is nil; the WebSocket handler
// detects TLS by itself.
//
// Closing raw or web stops that side: connections sniffed for it are
// closed. Closing both closes ln, closes the connections still being
// sniffed and waits for the accept goroutine to end, so that nothing
// outlives the two listeners. If ln fails (or is closed directly), both
// listeners' Accept return its error.
func SniffListener(ln net.Listener, timeout time.Duration) (raw, web net.Listener) {
	if timeout <= 0 {
		timeout = DefaultSniffTimeout
	}
	s := &sniffer{
		ln:      ln,
		timeout: timeout,
		done:    make(chan struct{}),
		sniffed: make(map[net.Conn]struct{}),
	}
	s.raw = &sniffedListener{s: s, conns: make(chan net.Conn), closed: make(chan struct{})}
	s.web = &sniffedListener{s: s, conns: make(chan net.Conn), closed: make(chan struct{})}
	s.wg.Add(1)
	go s.acceptLoop()
	return s.raw, s.web
}

// sniffer owns the accept goroutine and one goroutine per connection being
// sniffed; all end once both listeners are closed. Lock order: sniffer.mu
// is a leaf.
type sniffer struct {
	ln       net.Listener
	timeout  time.Duration
	raw, web *sniffedListener
	wg       sync.WaitGroup
	done     chan struct{} // closed when the accept loop ends
	err      error         // why it ended; set before done is closed

	mu              sync.Mutex // Protects the fields below.
	sniffed         map[net.Conn]struct{}
	closedListeners int // of raw and web
	stopped         bool
}

func (s *sniffer) acceptLoop() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) && peerutil.TemporaryAcceptError(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			s.err = fmt.Errorf("transport: sniff listener: %w", err)
			close(s.done)
			return
		}
		backoff = 0
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			c.Close()
			continue
		}
		s.sniffed[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.sniff(c)
	}
}

// sniff reads c's first byte and hands c to the listener it belongs to.
func (s *sniffer) sniff(c net.Conn) {
	defer s.wg.Done()
	var b [1]byte
	c.SetDeadline(time.Now().Add(s.timeout)) // a TLS handshake writes too
	n, err := readOne(c, b[:])
	c.SetDeadline(time.Time{})
	s.mu.Lock()
	delete(s.sniffed, c)
	stopped := s.stopped
	s.mu.Unlock()
	if err != nil || n == 0 || stopped {
		c.Close()
		return
	}
	to := s.web
	if b[0] == rawSocketMagic {
		to = s.raw
	}
	sc := &sniffedConn{Conn: c, first: b[0]}
	sc.hasFirst.Store(true)
	select {
	case to.conns <- sc:
	case <-to.closed:
		c.Close()
	}
}

func readOne(c net.Conn, b []byte) (int, error) {
	for {
		n, err := c.Read(b)
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// listenerClosed is called once per listener; the second call stops the
// sniffer and waits for its goroutines.
func (s *sniffer) listenerClosed() {
	s.mu.Lock()
	s.closedListeners++
	last := s.closedListeners == 2
	if last {
		s.stopped = true
		for c := range s.sniffed {
			c.Close()
		}
	}
	s.mu.Unlock()
	if last {
		s.ln.Close()
		s.wg.Wait()
	}
}

// sniffedListener is one side (raw or web) of a SniffListener.
type sniffedListener struct {
	s         *sniffer
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

// Accept returns the next connection sniffed for this side.
func (l *sniffedListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.s.done:
		return nil, l.s.err
	}
}

// Close stops this side; see SniffListener.
func (l *sniffedListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.s.listenerClosed()
	})
	return nil
}

// Addr is the shared listener's address.
func (l *sniffedListener) Addr() net.Addr { return l.s.ln.Addr() }

// sniffedConn gives back the byte read while sniffing, then reads on.
type sniffedConn struct {
	net.Conn
	first    byte
	hasFirst atomic.Bool
}

func (c *sniffedConn) Read(p []byte) (int, error) {
	if len(p) > 0 && c.hasFirst.Load() {
		c.hasFirst.Store(false)
		p[0] = c.first
		return 1, nil
	}
	return c.Conn.Read(p)
}

// NetConn returns the wrapped connection (a *tls.Conn under TLS).
func (c *sniffedConn) NetConn() net.Conn { return c.Conn }
