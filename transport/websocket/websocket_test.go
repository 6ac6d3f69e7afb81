package websocket

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/switchyard/switchyard/internal/leakcheck"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/internal/testcert"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

var hello1 = &spec.Hello{Realm: "realm1", Details: spec.Dict{"roles": spec.Dict{"caller": spec.Dict{}}}}

type testServer struct {
	*Handler
	url   string
	peers chan transport.Peer
	mu    sync.Mutex
	seen  []transport.Peer
}

// viaNetHTTP makes startServer serve the Handler as an http.Handler (its
// ServeHTTP upgrade path) instead of with Handler.Serve; see
// TestServeHTTPPath.
var viaNetHTTP bool

// startServer serves a Handler over HTTP (or HTTPS with cert) on
// 127.0.0.1:0.
func startServer(t *testing.T, opts ServerOptions, cert *testcert.Pair) *testServer {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	ts := &testServer{peers: make(chan transport.Peer, 16)}
	ts.Handler = NewHandler(transport.HandlerFunc(func(ctx context.Context, p transport.Peer) {
		ts.mu.Lock()
		ts.seen = append(ts.seen, p)
		ts.mu.Unlock()
		ts.peers <- p
		<-p.Done()
	}), opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.url = "ws://" + ln.Addr().String() + "/ws"
	if cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert.Cert}, NextProtos: []string{"http/1.1"}})
		ts.url = "wss://" + ln.Addr().String() + "/ws"
	}
	srv := &http.Server{Handler: ts.Handler, ErrorLog: nil}
	errc := make(chan error, 1)
	go func() {
		if viaNetHTTP {
			errc <- srv.Serve(ln)
			return
		}
		errc <- ts.Handler.Serve(ln, srv)
	}()
	t.Cleanup(func() {
		ts.mu.Lock()
		for _, p := range ts.seen {
			p.Close("test over")
		}
		ts.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ts.Shutdown(ctx); err != nil {
			t.Errorf("Handler.Shutdown: %v", err)
		}
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("http.Server.Shutdown: %v", err)
		}
		ln.Close()
		<-errc
	})
	return ts
}

func (ts *testServer) peer(t *testing.T) transport.Peer {
	t.Helper()
	select {
	case p := <-ts.peers:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no peer reached the handler")
		return nil
	}
}

func dial(t *testing.T, url string, opts DialOptions) transport.Peer {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { p.Close("test over"); <-p.Done() })
	return p
}

// rawDial connects with coder/websocket directly, offering protos.
func rawDial(t *testing.T, url string, protos ...string) *ws.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := ws.Dial(ctx, url, &ws.DialOptions{Subprotocols: protos})
	if err != nil {
		t.Fatalf("ws.Dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func encode(t testing.TB, s serializer.Serializer, m spec.Message) []byte {
	t.Helper()
	b, err := s.Encode(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func recvMsg(t testing.TB, p transport.Peer) spec.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := p.Recv(ctx)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return m
}

func waitDone(t testing.TB, p transport.Peer) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("peer not Done within 5s")
	}
}

func drain(p transport.Peer) {
	go func() {
		for {
			if _, err := p.Recv(context.Background()); err != nil {
				return
			}
		}
	}()
}

func TestRoundTripEverySubprotocol(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	for _, s := range serializer.All() {
		for _, batched := range []bool{false, true} {
			proto := serializer.Subprotocol(s, batched)
			t.Run(proto, func(t *testing.T) {
				cp := dial(t, ts.url, DialOptions{Serializer: s, Batched: batched})
				sp := ts.peer(t)
				if got := sp.Info().Protocol; got != proto {
					t.Fatalf("server negotiated %q", got)
				}
				if got := cp.Info().Protocol; got != proto {
					t.Fatalf("client negotiated %q", got)
				}
				if err := cp.Send(encode(t, s, hello1)); err != nil {
					t.Fatal(err)
				}
				if h, ok := recvMsg(t, sp).(*spec.Hello); !ok || h.Realm != "realm1" {
					t.Fatalf("got %#v", h)
				}
				// Many frames at once: on batched subprotocols the writer
				// packs them into few messages.
				const n = 300
				for i := range n {
					if err := sp.Send(encode(t, s, &spec.Published{Request: spec.ID(i + 1), Publication: 5})); err != nil {
						t.Fatal(err)
					}
				}
				for i := range n {
					if m := recvMsg(t, cp); m.(*spec.Published).Request != spec.ID(i+1) {
						t.Fatalf("message %d: %#v", i, m)
					}
				}
				drain(sp) // as the router does; it answers the close handshake
				if si := sp.Info(); si.Transport != "websocket" || si.TLS || si.RemoteAddr == "" || si.MaxRecv == 0 {
					t.Fatalf("Info %+v", si)
				}
			})
		}
	}
}

func TestNegotiationOrder(t *testing.T) {
	cases := []struct {
		name   string
		opts   ServerOptions
		offers []string
		want   string
	}{
		{"client order wins", ServerOptions{}, []string{"wamp.2.json", "wamp.2.cbor"}, "wamp.2.json"},
		{"client order wins 2", ServerOptions{}, []string{"wamp.2.cbor", "wamp.2.json"}, "wamp.2.cbor"},
		{"unknown skipped", ServerOptions{}, []string{"wamp.2.ubjson", "chat", "wamp.2.msgpack.batched"}, "wamp.2.msgpack.batched"},
		{"batched disabled", ServerOptions{DisableBatched: true}, []string{"wamp.2.json.batched", "wamp.2.json"}, "wamp.2.json"},
		{"serializer not offered", ServerOptions{Serializers: []serializer.Serializer{serializer.JSON}}, []string{"wamp.2.cbor", "wamp.2.msgpack", "wamp.2.json"}, "wamp.2.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.opts, nil)
			c := rawDial(t, ts.url, tc.offers...)
			if c.Subprotocol() != tc.want {
				t.Fatalf("negotiated %q, want %q", c.Subprotocol(), tc.want)
			}
			if got := ts.peer(t).Info().Protocol; got != tc.want {
				t.Fatalf("server Info.Protocol %q", got)
			}
		})
	}
}

func TestNoSubprotocolIsRefusedWithoutUpgrade(t *testing.T) {
	ts := startServer(t, ServerOptions{DisableBatched: true}, nil)
	httpURL := "http" + strings.TrimPrefix(ts.url, "ws")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	do := func(protocols ...string) *http.Response {
		req, _ := http.NewRequest("GET", httpURL, nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		for _, p := range protocols {
			req.Header.Add("Sec-WebSocket-Protocol", p)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, offers := range [][]string{nil, {"chat, superchat"}, {"wamp.2.json.batched"}, {"wamp.2.JSON"}} {
		resp := do(offers...)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Upgrade") != "" {
			t.Fatalf("offers %q: status %d, Upgrade %q", offers, resp.StatusCode, resp.Header.Get("Upgrade"))
		}
		if !strings.Contains(string(body), "wamp.2.msgpack, wamp.2.cbor, wamp.2.json") {
			t.Fatalf("body does not name our subprotocols: %q", body)
		}
	}

	// A plain GET is told what the endpoint is.
	resp, err := client.Get(httpURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || !strings.Contains(string(body), "wamp.2.json") {
		t.Fatalf("plain GET: %d %q", resp.StatusCode, body)
	}

	// Our Dial reports the refusal with the router's explanation.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = Dial(ctx, ts.url, DialOptions{Serializer: serializer.CBOR, Batched: true})
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "wamp.2.cbor") {
		t.Fatalf("Dial: %v", err)
	}
	select {
	case <-ts.peers:
		t.Fatal("a refused client reached the handler")
	default:
	}
}

// TestFallbackServesPlainHTTP: plain requests go to the fallback handler on
// the same port, and upgrades still reach the WAMP handler.
func TestFallbackServesPlainHTTP(t *testing.T) {
	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "fallback "+r.URL.Path)
	})
	ts := startServer(t, ServerOptions{Fallback: fallback}, nil)
	httpURL := "http" + strings.TrimPrefix(ts.url, "ws")
	resp, err := http.Get(httpURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "fallback /ws" {
		t.Fatalf("plain GET: %d %q, want the fallback's answer", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := Dial(ctx, ts.url, DialOptions{Serializer: serializer.JSON})
	if err != nil {
		t.Fatalf("upgrade beside a fallback: %v", err)
	}
	defer p.Close("test over")
	select {
	case <-ts.peers:
	case <-ctx.Done():
		t.Fatal("the upgraded connection never reached the WAMP handler")
	}
}

func TestTextForJSONBinaryOtherwise(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	for _, tc := range []struct {
		proto string
		want  ws.MessageType
	}{
		{"wamp.2.json", ws.MessageText},
		{"wamp.2.msgpack", ws.MessageBinary},
		{"wamp.2.cbor", ws.MessageBinary},
		{"wamp.2.json.batched", ws.MessageText},
		{"wamp.2.cbor.batched", ws.MessageBinary},
	} {
		t.Run(tc.proto, func(t *testing.T) {
			c := rawDial(t, ts.url, tc.proto)
			sp := ts.peer(t)
			s, batched, _ := serializer.BySubprotocol(tc.proto)
			frame := encode(t, s, &spec.Welcome{Session: 3, Details: spec.Dict{}})
			if err := sp.Send(frame); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			typ, b, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if typ != tc.want {
				t.Fatalf("message type %v, want %v", typ, tc.want)
			}
			want := frame
			if batched {
				want = serializer.AppendBatched(s, nil, frame)
			}
			if !bytes.Equal(b, want) {
				t.Fatalf("got % x, want % x", b, want)
			}
		})
	}
}

func TestBatchedRecvSplits(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	c := rawDial(t, ts.url, "wamp.2.json.batched")
	sp := ts.peer(t)
	s := serializer.JSON
	var b []byte
	b = serializer.AppendBatched(s, b, encode(t, s, hello1))
	b = serializer.AppendBatched(s, b, encode(t, s, &spec.Goodbye{Details: spec.Dict{}, Reason: "wamp.close.normal"}))
	ctx := context.Background()
	if err := c.Write(ctx, ws.MessageText, b); err != nil {
		t.Fatal(err)
	}
	if _, ok := recvMsg(t, sp).(*spec.Hello); !ok {
		t.Fatal("first message of the batch")
	}
	if _, ok := recvMsg(t, sp).(*spec.Goodbye); !ok {
		t.Fatal("second message of the batch")
	}
	// A malformed batch (no record separator) fails the connection.
	drain(sp)
	c.Write(ctx, ws.MessageText, []byte(`[6,{},"wamp.close.normal"]`))
	waitDone(t, sp)
}

func TestDecodeErrorKeepsConnection(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	c := rawDial(t, ts.url, "wamp.2.json")
	sp := ts.peer(t)
	ctx := context.Background()
	c.Write(ctx, ws.MessageText, []byte(`{"not":"wamp"}`))
	c.Write(ctx, ws.MessageText, encode(t, serializer.JSON, hello1))
	_, err := sp.Recv(ctx)
	var pe *spec.ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want *spec.ProtocolError", err)
	}
	if _, ok := recvMsg(t, sp).(*spec.Hello); !ok {
		t.Fatal("the next message must still arrive")
	}
}

func TestCloseSendsStatusAndReason(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	c := rawDial(t, ts.url, "wamp.2.json")
	sp := ts.peer(t)
	drain(sp)
	sp.Send(encode(t, serializer.JSON, &spec.Goodbye{Details: spec.Dict{}, Reason: "wamp.close.system_shutdown"}))
	sp.Close("router shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, b, err := c.Read(ctx); err != nil || !bytes.Contains(b, []byte("system_shutdown")) {
		t.Fatalf("queued GOODBYE lost: %q, %v", b, err)
	}
	_, _, err := c.Read(ctx)
	var ce ws.CloseError
	if !errors.As(err, &ce) || ce.Code != ws.StatusNormalClosure || ce.Reason != "router shutting down" {
		t.Fatalf("got %v, want close 1000 with the reason", err)
	}
	waitDone(t, sp)
}

func TestPeerCloseGivesEOF(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	cp := dial(t, ts.url, DialOptions{})
	sp := ts.peer(t)
	cp.Close("bye")
	_, err := sp.Recv(context.Background())
	if !errors.Is(err, io.EOF) {
		t.Fatalf("got %v, want io.EOF", err)
	}
	waitDone(t, sp)
	waitDone(t, cp)
}

func TestReadLimit(t *testing.T) {
	ts := startServer(t, ServerOptions{Options: transport.Options{MaxMessageSize: 1024}}, nil)
	c := rawDial(t, ts.url, "wamp.2.json")
	sp := ts.peer(t)
	if err := sp.Send(make([]byte, 1025)); !errors.Is(err, transport.ErrFrameTooLarge) {
		t.Fatalf("Send above the limit: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.Write(ctx, ws.MessageText, bytes.Repeat([]byte("x"), 2000))
	if _, err := sp.Recv(ctx); err == nil {
		t.Fatal("an oversize message must fail Recv")
	}
	waitDone(t, sp)
	_, _, err := c.Read(ctx)
	if ws.CloseStatus(err) != ws.StatusMessageTooBig {
		t.Fatalf("client sees %v, want close 1009", err)
	}
}

func TestKeepalive(t *testing.T) {
	ka := transport.Options{PingInterval: 20 * time.Millisecond, PongTimeout: 50 * time.Millisecond}
	ts := startServer(t, ServerOptions{Options: ka}, nil)

	// A client that reads (and so answers pings) stays.
	cp := dial(t, ts.url, DialOptions{Options: ka})
	sp := ts.peer(t)
	drain(cp)
	drain(sp)

	// A client that never reads never sees the pings: it is dropped.
	rawDial(t, ts.url, "wamp.2.json")
	silent := ts.peer(t)
	drain(silent)
	waitDone(t, silent)

	select {
	case <-sp.Done():
		t.Fatal("a responsive peer was closed")
	case <-cp.Done():
		t.Fatal("the client closed a responsive router")
	default:
	}
}

func TestSlowConsumer(t *testing.T) {
	ts := startServer(t, ServerOptions{Options: transport.Options{QueueMaxBytes: 64 << 10, WriteTimeout: time.Minute}}, nil)
	rawDial(t, ts.url, "wamp.2.msgpack") // never reads
	sp := ts.peer(t)
	drain(sp)
	frame := make([]byte, 16<<10)
	var err error
	for i := 0; i < 100000 && err == nil; i++ {
		err = sp.Send(frame)
	}
	if !errors.Is(err, transport.ErrSlowConsumer) {
		t.Fatalf("got %v", err)
	}
	waitDone(t, sp)
}

func TestRecvContext(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	c := rawDial(t, ts.url, "wamp.2.json")
	sp := ts.peer(t)
	// The client reads, so it answers the close handshake.
	closed := make(chan error, 1)
	go func() {
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer rcancel()
		_, _, err := c.Read(rctx)
		closed <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := sp.Recv(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Recv took %v", d)
	}
	// The peer was closed gracefully.
	if err := <-closed; ws.CloseStatus(err) != ws.StatusNormalClosure {
		t.Fatalf("client sees %v", err)
	}
	waitDone(t, sp)
}

func TestTLS(t *testing.T) {
	pair := testcert.New(t)
	ts := startServer(t, ServerOptions{}, pair)
	cp := dial(t, ts.url, DialOptions{Serializer: serializer.CBOR, TLSConfig: pair.ClientConfig()})
	sp := ts.peer(t)
	if !sp.Info().TLS || !cp.Info().TLS {
		t.Fatalf("TLS not reported: server %+v client %+v", sp.Info(), cp.Info())
	}
	cp.Send(encode(t, serializer.CBOR, hello1))
	if _, ok := recvMsg(t, sp).(*spec.Hello); !ok {
		t.Fatal("no HELLO over wss")
	}
	drain(sp)
}

func TestOriginPatterns(t *testing.T) {
	check := func(opts ServerOptions, origin string) error {
		ts := startServer(t, opts, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p, err := Dial(ctx, ts.url, DialOptions{Options: transport.Options{Logger: quiet}, HTTPHeader: http.Header{"Origin": {origin}}})
		if err == nil {
			drain(ts.peer(t))
			p.Close("")
			<-p.Done()
		}
		return err
	}
	if err := check(ServerOptions{}, "https://app.elsewhere.example"); err != nil {
		t.Fatalf("default must accept any origin: %v", err)
	}
	if err := check(ServerOptions{OriginPatterns: []string{"*.example.com"}}, "https://app.example.com"); err != nil {
		t.Fatalf("matching origin refused: %v", err)
	}
	if err := check(ServerOptions{OriginPatterns: []string{"*.example.com"}}, "https://evil.example.org"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("foreign origin: %v", err)
	}
}

func TestShutdownWaitsThenForces(t *testing.T) {
	ts := startServer(t, ServerOptions{}, nil)
	cp := dial(t, ts.url, DialOptions{})
	drain(cp)
	sp := ts.peer(t)
	drain(sp)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	waitDone(t, sp)
	waitDone(t, cp)
}

func TestNegotiate(t *testing.T) {
	ours := []string{"wamp.2.msgpack", "wamp.2.json"}
	for _, tc := range []struct {
		offers []string
		want   string
	}{
		{nil, ""},
		{[]string{""}, ""},
		{[]string{"wamp.2.json, wamp.2.msgpack"}, "wamp.2.json"},
		{[]string{" wamp.2.cbor ,wamp.2.msgpack "}, "wamp.2.msgpack"},
		{[]string{"a", "b,wamp.2.json"}, "wamp.2.json"},
		{[]string{"wamp.2.jsonx"}, ""},
	} {
		if got := negotiate(tc.offers, ours); got != tc.want {
			t.Errorf("negotiate(%q) = %q, want %q", tc.offers, got, tc.want)
		}
	}
}

// FuzzSubprotocol negotiates on arbitrary header values: the choice must be
// one of ours, offered by the client, and preceded by no offer of ours.
func FuzzSubprotocol(f *testing.F) {
	f.Add("wamp.2.json", "wamp.2.cbor.batched, chat")
	f.Add(" , ,,", "wamp.2.msgpack")
	f.Add("wamp.2.json\x00", "WAMP.2.JSON")
	f.Add("wamp.2.cbor.batched,wamp.2.json.batched", "")
	ours := offered(nil)
	f.Fuzz(func(t *testing.T, h1, h2 string) {
		offers := []string{h1, h2}
		got := negotiate(offers, ours)
		var tokens []string
		for _, v := range offers {
			for _, tok := range strings.Split(v, ",") {
				tokens = append(tokens, strings.TrimSpace(tok))
			}
		}
		first := ""
		for _, tok := range tokens {
			for _, p := range ours {
				if tok == p && first == "" {
					first = p
				}
			}
		}
		if got != first {
			t.Fatalf("negotiate(%q) = %q, want %q", offers, got, first)
		}
		if got != "" {
			s, _, ok := serializer.BySubprotocol(got)
			if !ok || s == nil {
				t.Fatalf("chose %q, which the serializer registry does not know", got)
			}
		}
	})
}

// offered lists what a Handler with opts would offer.
func offered(ss []serializer.Serializer) []string {
	return NewHandler(nil, ServerOptions{Serializers: ss}).Subprotocols()
}
