package transport_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/internal/testcert"
	"github.com/switchyard/switchyard/transport/rawsocket"
	"github.com/switchyard/switchyard/transport/websocket"
)

var quiet = slog.New(slog.DiscardHandler)

// echo is a Handler that answers every HELLO with a WELCOME, until the
// peer goes away.
type echo struct {
	mu    sync.Mutex
	infos []transport.Info
}

func (e *echo) ServePeer(ctx context.Context, p transport.Peer) {
	e.mu.Lock()
	e.infos = append(e.infos, p.Info())
	e.mu.Unlock()
	for {
		m, err := p.Recv(ctx)
		if err != nil {
			return
		}
		if _, ok := m.(*spec.Hello); ok {
			w, _ := p.Serializer().Encode(nil, &spec.Welcome{Session: 77, Details: spec.Dict{}})
			p.Send(w)
		}
	}
}

// oneport serves RawSocket and WebSocket on one listener, as the router's
// single-port mode does, and shuts both down cleanly at the end of the
// test.
func oneport(t *testing.T, tlsConfig *tls.Config) (addr string, h *echo) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	raw, web := transport.SniffListener(ln, time.Second)
	h = &echo{}
	opts := transport.Options{Logger: quiet}
	rs := rawsocket.NewServer(h, rawsocket.ServerOptions{Options: opts})
	wh := websocket.NewHandler(h, websocket.ServerOptions{Options: opts})
	hs := &http.Server{Handler: wh}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := rs.Serve(raw); err != nil {
			t.Errorf("rawsocket Serve: %v", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := hs.Serve(web); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("http Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("http Shutdown: %v", err)
		}
		if err := wh.Shutdown(ctx); err != nil {
			t.Errorf("websocket Shutdown: %v", err)
		}
		if err := rs.Shutdown(ctx); err != nil {
			t.Errorf("rawsocket Shutdown: %v", err)
		}
		wg.Wait()
	})
	return addr, h
}

func hello(t *testing.T, p transport.Peer) {
	t.Helper()
	s := p.Serializer()
	b, _ := s.Encode(nil, &spec.Hello{Realm: "realm1", Details: spec.Dict{"roles": spec.Dict{"caller": spec.Dict{}}}})
	if err := p.Send(b); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := p.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if w, ok := m.(*spec.Welcome); !ok || w.Session != 77 {
		t.Fatalf("got %#v", m)
	}
	p.Close("done")
	<-p.Done()
}

func TestSniffListenerOnePort(t *testing.T) {
	pair := testcert.New(t)
	for _, secure := range []bool{false, true} {
		name := "plain"
		var serverTLS, clientTLS *tls.Config
		if secure {
			name = "tls"
			certFile, keyFile := pair.Files(t)
			var err error
			serverTLS, err = transport.ServerTLSConfig(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			clientTLS = pair.ClientConfig()
		}
		t.Run(name, func(t *testing.T) {
			addr, h := oneport(t, serverTLS)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			opts := transport.Options{Logger: quiet}
			for _, s := range serializer.All() {
				rp, err := rawsocket.Dial(ctx, "tcp", addr, rawsocket.DialOptions{Options: opts, Serializer: s, TLSConfig: clientTLS})
				if err != nil {
					t.Fatalf("rawsocket Dial: %v", err)
				}
				hello(t, rp)
				scheme := "ws://"
				if secure {
					scheme = "wss://"
				}
				wp, err := websocket.Dial(ctx, scheme+addr+"/", websocket.DialOptions{Options: opts, Serializer: s, TLSConfig: clientTLS})
				if err != nil {
					t.Fatalf("websocket Dial: %v", err)
				}
				hello(t, wp)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if len(h.infos) != 6 {
				t.Fatalf("%d sessions, want 6", len(h.infos))
			}
			for _, info := range h.infos {
				if info.TLS != secure {
					t.Fatalf("Info %+v: TLS should be %v", info, secure)
				}
			}
		})
	}
}

func TestSniffListenerSlowAndSilentClients(t *testing.T) {
	addr, _ := oneport(t, nil)
	// A client that sends nothing is dropped after the sniff timeout.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ne net.Error
	if _, err := c.Read(make([]byte, 1)); err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("silent client not dropped after the sniff timeout: %v", err)
	}
	// A plain HTTP request on the shared port reaches the HTTP side.
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET: %d", resp.StatusCode)
	}
}

func TestSniffListenerCloseStopsEverything(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	raw, web := transport.SniffListener(ln, time.Minute)
	// A connection still being sniffed when the listeners close.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(20 * time.Millisecond)
	raw.Close()
	if _, err := raw.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	web.Close() // closes ln, the pending connection, and waits for the goroutines
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("pending connection not closed")
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("listener still open")
	}
}

func TestSniffListenerUnderlyingClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	raw, web := transport.SniffListener(ln, time.Minute)
	ln.Close()
	if _, err := raw.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("raw Accept: %v", err)
	}
	if _, err := web.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("web Accept: %v", err)
	}
	raw.Close()
	web.Close()
}

func TestServerTLSConfig(t *testing.T) {
	pair := testcert.New(t)
	certFile, keyFile := pair.Files(t)
	cfg, err := transport.ServerTLSConfig(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || len(cfg.Certificates) != 1 {
		t.Fatalf("config %+v", cfg)
	}
	// A TLS 1.1 client is refused.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	old := pair.ClientConfig()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if c, err := tls.Dial("tcp", ln.Addr().String(), old); err == nil {
		c.Close()
		t.Fatal("TLS 1.1 accepted")
	}
	<-done
	if _, err := transport.ServerTLSConfig(certFile+".missing", keyFile); err == nil {
		t.Fatal("missing file accepted")
	}
}
