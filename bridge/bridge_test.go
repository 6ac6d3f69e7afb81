package bridge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/internal/leakcheck"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func quietLogger() *slog.Logger {
	if os.Getenv("SWITCHYARD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func sha256TokenHash(token string) string {
	salt := "0123456789abcdef"
	h := sha256.Sum256([]byte(salt + token))
	return "$sha256$" + base64.StdEncoding.EncodeToString([]byte(salt)) + "$" + base64.StdEncoding.EncodeToString(h[:])
}

// testConfig: realm1 with an anonymous role allowed everything, a role "ci"
// allowed to call and publish under com.ci. only (disclosed), a token and a
// signature key for it, an incoming webhook and small limits.
func testConfig(extra string) string {
	return `
realms:
  - name: realm1
    anonymous: {role: anonymous}
    roles:
      - name: anonymous
        permissions: [{uri: "", match: prefix, allow: [call, register, publish, subscribe]}]
      - name: ci
        permissions: [{uri: com.ci., match: prefix, allow: [call, publish], disclose: [caller, publisher]}]
    http_api:
      anonymous: true
      tokens:
        - {token_hash: "` + sha256TokenHash("tok-ci") + `", authid: ci-job, role: ci}
      signatures:
        - {key: k1, secret: sekrit, authid: signer, role: ci}
      webhooks_in:
        - {name: gh, topic: com.ci.push, secret: hooksecret, headers: [X-GitHub-Event]}
        - {name: open, topic: com.ci.open}
      limits: {max_body: 1024, timeout: 1s, per_client_concurrency: 2}
` + extra
}

type env struct {
	t   *testing.T
	r   *router.Router
	b   *Bridge
	srv *httptest.Server
	ctx context.Context
	now atomic.Pointer[time.Time]
}

func newEnv(t *testing.T, cfgText string, o Options) *env {
	t.Helper()
	cfg, err := auth.ParseConfig([]byte(cfgText), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var realms []router.RealmConfig
	var ros []RealmOptions
	for _, rc := range cfg.Realms {
		realms = append(realms, router.RealmConfig{Name: rc.Name, Auth: rc})
		ro := RealmOptions{Name: rc.Name, API: rc.HTTPAPI}
		if rc.Anonymous != nil {
			ro.AnonymousRole = rc.Anonymous.Role
		}
		ros = append(ros, ro)
	}
	r, err := router.New(router.Options{Realms: realms, Logger: quietLogger(), GoodbyeTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{t: t, r: r, ctx: ctx}
	now := time.Now()
	e.now.Store(&now)
	o.Router, o.Realms, o.Logger = r, ros, quietLogger()
	o.Now = func() time.Time { return *e.now.Load() }
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.b = b
	mux := http.NewServeMux()
	b.Register(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		e.srv.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer scancel()
		if err := b.Close(sctx); err != nil {
			t.Errorf("bridge close: %v", err)
		}
		if err := r.Shutdown(sctx); err != nil {
			t.Errorf("router shutdown: %v", err)
		}
		cancel()
	})
	return e
}

// join opens a WAMP session on the router over an in-process pipe.
func (e *env) join() *client.Client {
	e.t.Helper()
	clientEnd, serverEnd := transport.Pipe(serializer.CBOR, transport.Options{})
	done := make(chan struct{})
	go func() {
		e.r.ServePeer(e.ctx, serverEnd)
		close(done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Join(ctx, clientEnd, client.Config{Realm: "realm1"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c.Close(ctx)
		clientEnd.Close("test over")
		<-done
	})
	return c
}

// answer is a decoded HTTP answer.
type answer struct {
	code int
	body map[string]any
	raw  string
}

func (a answer) errURI() string { s, _ := a.body["error"].(string); return s }

func (e *env) post(path, body string, header ...string) answer {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) answer {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, raw: string(raw)}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		e.t.Fatalf("%s %s: answer is not a JSON object: %q", req.Method, req.URL.Path, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("Content-Type %q", ct)
	}
	return a
}

func (e *env) expect(a answer, code int, uri string) {
	e.t.Helper()
	if a.code != code || a.errURI() != uri {
		e.t.Fatalf("got %d %s, want %d %q", a.code, a.raw, code, uri)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPublishAndCall(t *testing.T) {
	e := newEnv(t, testConfig(""), Options{})
	sub := e.join()
	events := make(chan *client.Event, 4)
	if _, err := sub.Subscribe(ctxT(t), "com.example.news", func(ev *client.Event) { events <- ev }, nil); err != nil {
		t.Fatal(err)
	}
	bin := base64.StdEncoding.EncodeToString([]byte{0, 1, 0xff})
	a := e.post("/api/realm1/publish", `{"topic": "com.example.news", "args": ["hi", "\u0000`+bin+`", 9007199254740993], "kwargs": {"k": [1, null]}}`)
	if a.code != 200 {
		t.Fatalf("publish: %d %s", a.code, a.raw)
	}
	select {
	case ev := <-events:
		if b, _ := ev.Arguments[1].([]byte); !bytes.Equal(b, []byte{0, 1, 0xff}) {
			t.Fatalf("binary argument arrived as %#v", ev.Arguments[1])
		}
		if n, _ := ev.Arguments[2].(int64); n != 9007199254740993 {
			t.Fatalf("integer arrived as %#v", ev.Arguments[2])
		}
		if !strings.Contains(a.raw, `"id":`+strconv.FormatUint(uint64(ev.Publication), 10)) {
			t.Fatalf("publication id %d, answer %s", ev.Publication, a.raw)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}

	callee := e.join()
	if _, err := callee.Register(ctxT(t), "com.example.add", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		x, _ := inv.Arguments[0].(int64)
		y, _ := inv.Arguments[1].(int64)
		return &client.Result{Arguments: spec.List{x + y, []byte("\x00ok")}, ArgumentsKw: spec.Dict{"who": inv.Details["caller_authid"]}}, nil
	}, spec.Dict{"disclose_caller": true}); err != nil {
		t.Fatal(err)
	}
	a = e.post("/api/realm1/call", `{"procedure": "com.example.add", "args": [2, 3]}`)
	want := `{"args":[5,"\u0000` + base64.StdEncoding.EncodeToString([]byte("\x00ok")) + `"],"kwargs":{"who":"anonymous"}}` + "\n"
	if a.code != 200 || a.raw != want {
		t.Fatalf("call: %d %s, want %s", a.code, a.raw, want)
	}
}

func TestErrorMapping(t *testing.T) {
	e := newEnv(t, testConfig(""), Options{})
	callee := e.join()
	register := func(uri string, h client.Handler) {
		if _, err := callee.Register(ctxT(t), uri, h, nil); err != nil {
			t.Fatal(err)
		}
	}
	release := make(chan struct{})
	defer close(release)
	register("com.example.slow", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		select {
		case <-ctx.Done():
		case <-release:
		}
		return nil, errors.New("gone")
	})
	register("com.example.fail", func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, &client.Error{URI: "com.example.error.broken", Arguments: spec.List{"it broke"}, ArgumentsKw: spec.Dict{"code": int64(7)}}
	})
	register("com.example.picky", func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, &client.Error{URI: spec.ErrInvalidArgument, Arguments: spec.List{"x must be positive"}}
	})
	register("com.ci.build", func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{}, nil
	})
	tok := []string{"Authorization", "Bearer tok-ci"}

	e.expect(e.post("/api/realm1/call", `{"procedure": "com.example.nothing"}`), 404, string(spec.ErrNoSuchProcedure))
	e.expect(e.post("/api/realm1/call", `{"procedure": "com.example.fail"}`, tok...), 403, string(spec.ErrNotAuthorized))
	e.expect(e.post("/api/realm1/call", `{"procedure": "com.example.slow", "options": {"timeout": 50}}`), 504, string(spec.ErrTimeout))
	e.expect(e.post("/api/realm1/call", `{"procedure": "com.example.slow"}`), 504, string(spec.ErrTimeout)) // the 1s request timeout
	a := e.post("/api/realm1/call", `{"procedure": "com.example.fail"}`)
	e.expect(a, 502, "com.example.error.broken")
	if !strings.Contains(a.raw, `"args":["it broke"]`) || !strings.Contains(a.raw, `"kwargs":{"code":7}`) {
		t.Fatalf("application error body %s", a.raw)
	}
	e.expect(e.post("/api/realm1/call", `{"procedure": "com.example.picky"}`), 400, string(spec.ErrInvalidArgument))
	e.expect(e.post("/api/realm1/call", `{"procedure": "not a uri"}`), 400, string(spec.ErrInvalidURI))
	e.expect(e.post("/api/realm1/call", `{"procedure": "com.example.slow", "options": {"progress": true}}`), 400, string(spec.ErrInvalidArgument))
	for _, bad := range []string{``, `not json`, `[1]`, `{"procedure": 5}`, `{"procedure": "a.b", "args": {}}`, `{"procedure": "a.b", "extra": 1}`, `{"procedure": "a.b"} x`, `{"args": []}`} {
		e.expect(e.post("/api/realm1/call", bad), 400, string(spec.ErrInvalidArgument))
	}
	e.expect(e.post("/api/realm1/publish", `{"topic": "wamp.session.on_join"}`), 403, string(spec.ErrNotAuthorized))
	e.expect(e.post("/api/realm1/call", `{"procedure": "com.ci.build"}`, "Authorization", "Bearer wrong"), 401, string(ErrUnauthenticated))
	e.expect(e.post("/api/realm1/call", `{"procedure": "com.ci.build"}`, "Authorization", "Basic eDp5"), 401, string(ErrUnauthenticated))
	e.expect(e.post("/api/realm1/call", `{"procedure": "com.ci.build"}`, tok...), 200, "")
	e.expect(e.post("/api/realm1/call", `{"procedure": "com.ci.build", "args": ["`+strings.Repeat("x", 2000)+`"]}`), 413, string(ErrBodyTooLarge))
	e.expect(e.post("/api/nowhere/call", `{}`), 404, string(spec.ErrNoSuchRealm))
	e.expect(e.post("/api/realm1/register", `{}`), 404, string(ErrNotFound))
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/realm1/call", nil)
	e.expect(e.do(req), 405, string(ErrMethodNotAllowed))

	// A body sent in chunks without a length is bounded too.
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < 40; i++ {
			if _, err := pw.Write([]byte(strings.Repeat(" ", 100))); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/api/realm1/publish", pr)
	e.expect(e.do(req), 413, string(ErrBodyTooLarge))

	got := testutil.ToFloat64(e.b.metrics.requests.WithLabelValues("call", "404"))
	if got != 2 { // no_such_procedure and no_such_realm
		t.Fatalf("requests_total{call,404} = %v, want 2", got)
	}
}

func TestAnonymousRefusedWithoutTheFlag(t *testing.T) {
	e := newEnv(t, strings.Replace(testConfig(""), "      anonymous: true\n", "", 1), Options{})
	e.expect(e.post("/api/realm1/publish", `{"topic": "com.ci.x"}`), 401, string(ErrUnauthenticated))
	e.expect(e.post("/api/realm1/publish", `{"topic": "com.ci.x"}`, "Authorization", "Bearer tok-ci"), 200, "")
}

func TestSlowBody(t *testing.T) {
	e := newEnv(t, testConfig(""), Options{})
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	io.WriteString(conn, "POST /api/realm1/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"topic\":")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 408 || !strings.Contains(string(body), string(ErrSlowBody)) {
		t.Fatalf("slow body: %d %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 4*time.Second {
		t.Fatalf("answered after %v, want about the 1s timeout", d)
	}
}

func TestPerClientConcurrency(t *testing.T) {
	e := newEnv(t, testConfig(""), Options{})
	callee := e.join()
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	if _, err := callee.Register(ctxT(t), "com.example.hold", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return &client.Result{}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(e.srv.URL+"/api/realm1/call", "application/json", strings.NewReader(`{"procedure": "com.example.hold"}`))
			if err == nil {
				codes <- resp.StatusCode
				resp.Body.Close()
			}
		}()
	}
	<-entered
	<-entered
	e.expect(e.post("/api/realm1/call", `{"procedure": "com.example.hold"}`), 429, string(ErrTooManyRequests))
	close(release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("held call answered %d", c)
		}
	}
}

func signedURL(base, secret, key string, ts time.Time, nonce string, body []byte) string {
	stamp := ts.UTC().Format("2006-01-02T15:04:05.000Z")
	q := url.Values{"key": {key}, "timestamp": {stamp}, "seq": {"1"}, "nonce": {nonce}, "signature": {Sign(secret, key, stamp, "1", nonce, body)}}
	return base + "?" + q.Encode()
}

func TestSignedRequests(t *testing.T) {
	e := newEnv(t, testConfig(""), Options{})
	sub := e.join()
	events := make(chan *client.Event, 4)
	if _, err := sub.Subscribe(ctxT(t), "com.ci.status", func(ev *client.Event) { events <- ev }, nil); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"topic": "com.ci.status", "args": ["green"]}`)
	now := *e.now.Load()
	post := func(u string, b []byte) answer {
		req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
		return e.do(req)
	}
	good := signedURL(e.srv.URL+"/api/realm1/publish", "sekrit", "k1", now, "1001", body)
	e.expect(post(good, body), 200, "")
	select {
	case ev := <-events:
		if ev.Details["publisher_authid"] != "signer" {
			t.Fatalf("publisher disclosed as %v", ev.Details)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	e.expect(post(good, body), 401, string(ErrUnauthenticated)) // replayed
	e.expect(post(signedURL(e.srv.URL+"/api/realm1/publish", "wrong", "k1", now, "1002", body), body), 401, string(ErrUnauthenticated))
	e.expect(post(signedURL(e.srv.URL+"/api/realm1/publish", "sekrit", "k1", now, "1003", body), []byte(`{"topic": "com.ci.other"}`)), 401, string(ErrUnauthenticated))
	e.expect(post(signedURL(e.srv.URL+"/api/realm1/publish", "sekrit", "k1", now.Add(-10*time.Minute), "1004", body), body), 401, string(ErrUnauthenticated))
	e.expect(post(signedURL(e.srv.URL+"/api/realm1/publish", "sekrit", "nokey", now, "1005", body), body), 401, string(ErrUnauthenticated))
	e.expect(post(e.srv.URL+"/api/realm1/publish?key=k1", body), 401, string(ErrUnauthenticated))
	// The signer's role is the realm's: outside com.ci. it is refused.
	other := []byte(`{"topic": "com.example.x"}`)
	e.expect(post(signedURL(e.srv.URL+"/api/realm1/publish", "sekrit", "k1", now, "1006", other), other), 403, string(spec.ErrNotAuthorized))
}

func TestWebhookIn(t *testing.T) {
	e := newEnv(t, testConfig(""), Options{})
	sub := e.join()
	events := make(chan *client.Event, 4)
	for _, topic := range []string{"com.ci.push", "com.ci.open"} {
		if _, err := sub.Subscribe(ctxT(t), topic, func(ev *client.Event) { events <- ev }, nil); err != nil {
			t.Fatal(err)
		}
	}
	body := `{"ref": "refs/heads/main", "n": 12345678901234}`
	m := hmac.New(sha256.New, []byte("hooksecret"))
	m.Write([]byte(body))
	sig := "sha256=" + hex.EncodeToString(m.Sum(nil))
	e.expect(e.post("/webhook/gh", body, "X-Hub-Signature-256", sig, "X-GitHub-Event", "push", "X-Other", "no"), 200, "")
	ev := <-events
	payload, _ := ev.Arguments[0].(map[string]any)
	headers, _ := ev.ArgumentsKw["headers"].(map[string]any)
	if payload["ref"] != "refs/heads/main" || payload["n"] != int64(12345678901234) || headers["X-Github-Event"] != "push" || len(headers) != 1 {
		t.Fatalf("event %+v / %+v", ev.Arguments, ev.ArgumentsKw)
	}
	if ev.Details["publisher_authid"] != "webhook:gh" {
		t.Fatalf("publisher %v", ev.Details)
	}
	e.expect(e.post("/webhook/gh", body), 401, string(ErrUnauthenticated))
	e.expect(e.post("/webhook/gh", body, "X-Hub-Signature-256", "sha256=00"), 401, string(ErrUnauthenticated))
	e.expect(e.post("/webhook/gh", body+" ", "X-Hub-Signature-256", sig), 401, string(ErrUnauthenticated))
	e.expect(e.post("/webhook/open", "plain text, not JSON"), 200, "")
	if ev := <-events; ev.Arguments[0] != "plain text, not JSON" {
		t.Fatalf("non-JSON body arrived as %#v", ev.Arguments[0])
	}
	e.expect(e.post("/webhook/nope", body), 404, string(ErrNotFound))
	if got := testutil.ToFloat64(e.b.metrics.requests.WithLabelValues("webhook", "401")); got != 3 {
		t.Fatalf("requests_total{webhook,401} = %v", got)
	}
}

func TestWebhookOutRetriesAndGivesUp(t *testing.T) {
	var attempts atomic.Int32
	got := make(chan map[string]any, 4)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		if v["args"].([]any)[0] == "reject" {
			w.WriteHeader(400)
			return
		}
		if attempts.Add(1) <= 2 {
			w.WriteHeader(503)
			return
		}
		got <- v
	}))
	defer target.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer down.Close()
	cfg := strings.Replace(testConfig(""), "      limits:", `      webhooks_out:
        - {topic: com.out., match: prefix, url: "`+target.URL+`/hook", timeout: 1s, retries: 3}
        - {topic: com.down, url: "`+down.URL+`", retries: 2}
      limits:`, 1)
	e := newEnv(t, cfg, Options{RetryBase: 10 * time.Millisecond})
	pub := e.join()
	if err := pub.Publish(ctxT(t), "com.out.build", spec.List{"done", []byte{1, 2}}, spec.Dict{"n": int64(1) << 60}, spec.Dict{"acknowledge": true}); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v["topic"] != "com.out.build" || v["realm"] != "realm1" || v["args"].([]any)[0] != "done" {
			t.Fatalf("delivered %v", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the webhook was not delivered")
	}
	if n := attempts.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3 (two 503s, then success)", n)
	}
	m := e.b.metrics
	waitFor(t, func() bool {
		return testutil.ToFloat64(m.deliveries.WithLabelValues("com.out.", "delivered")) == 1 &&
			testutil.ToFloat64(m.deliveries.WithLabelValues("com.out.", "retried")) == 2
	})
	if err := pub.Publish(ctxT(t), "com.down", nil, nil, spec.Dict{"acknowledge": true}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctxT(t), "com.out.x", spec.List{"reject"}, nil, spec.Dict{"acknowledge": true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return testutil.ToFloat64(m.giveUps.WithLabelValues("com.down", "attempts_exhausted")) == 1 &&
			testutil.ToFloat64(m.giveUps.WithLabelValues("com.out.", "rejected")) == 1
	})
}

func TestWebhookOutQueueIsBounded(t *testing.T) {
	block := make(chan struct{})
	inFlight := make(chan struct{}, 8)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight <- struct{}{}
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer target.Close()
	defer close(block)
	cfg := strings.Replace(testConfig(""), "      limits:", `      webhooks_out:
        - {topic: com.q, url: "`+target.URL+`", queue: 2, timeout: 10s}
      limits:`, 1)
	e := newEnv(t, cfg, Options{})
	pub := e.join()
	if err := pub.Publish(ctxT(t), "com.q", spec.List{"first"}, nil, spec.Dict{"acknowledge": true}); err != nil {
		t.Fatal(err)
	}
	<-inFlight
	for i := 0; i < 5; i++ {
		if err := pub.Publish(ctxT(t), "com.q", spec.List{int64(i)}, nil, spec.Dict{"acknowledge": true}); err != nil {
			t.Fatal(err)
		}
	}
	// One in flight, two queued: three given up, and the router never waited.
	waitFor(t, func() bool {
		return testutil.ToFloat64(e.b.metrics.giveUps.WithLabelValues("com.q", "queue_full")) == 3
	})
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

func registryOf(t *testing.T, b *Bridge) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := b.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCollectors(t *testing.T) {
	e := newEnv(t, testConfig(""), Options{})
	e.post("/api/realm1/publish", `{"topic": "com.example.x"}`)
	n, err := testutil.GatherAndCount(registryOf(t, e.b), "switchyard_http_bridge_requests_total")
	if err != nil || n != 1 {
		t.Fatalf("gathered %d series: %v", n, err)
	}
	if testutil.CollectAndCount(e.b.Collectors()[0]) != 1 {
		t.Fatal("requests collector")
	}
}

// TestCloseAnswersRequestsInFlight: at shutdown a call waiting for its
// callee answers 503 at once instead of holding the HTTP server up.
func TestCloseAnswersRequestsInFlight(t *testing.T) {
	e := newEnv(t, testConfig(""), Options{})
	callee := e.join()
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	if _, err := callee.Register(ctxT(t), "com.example.hold", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return &client.Result{}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	answered := make(chan answer, 1)
	go func() { answered <- e.post("/api/realm1/call", `{"procedure": "com.example.hold"}`) }()
	<-entered
	start := time.Now()
	if err := e.b.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	a := <-answered
	if a.code != 503 || a.errURI() != string(ErrShuttingDown) || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("got %d %s after %v", a.code, a.raw, time.Since(start))
	}
	e.expect(e.post("/api/realm1/publish", `{"topic": "com.example.x"}`), 503, string(ErrShuttingDown))
}
