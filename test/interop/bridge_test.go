package interop

// The HTTP bridge against the built binary: Debian's curl and Go's HTTP
// client on one side, autobahn-python and autobahn-js (and the Go client)
// on the other.

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/bridge"
	wamp "github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

func requireCurl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("curl")
	if err != nil {
		requireDep(t, "curl", "curl is not on PATH")
	}
	return p
}

// curlPost POSTs body with Debian's curl and returns the status and the
// decoded JSON answer.
func curlPost(t *testing.T, rawURL, body string, headers ...string) (int, map[string]any, string) {
	t.Helper()
	args := []string{"-sS", "--max-time", "20", "-X", "POST", "-H", "Content-Type: application/json",
		"--data-binary", "@-", "-w", "\n%{http_code}"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	cmd := exec.Command(requireCurl(t), append(args, rawURL)...)
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", rawURL, err, out)
	}
	s := strings.TrimRight(string(out), "\n")
	i := strings.LastIndexByte(s, '\n')
	code, _ := strconv.Atoi(s[i+1:])
	raw := s[:max(i, 0)]
	var v map[string]any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("curl %s: %d answer is not a JSON object: %q", rawURL, code, raw)
	}
	return code, v, raw
}

func b64bin(b []byte) string { return `"\u0000` + base64.StdEncoding.EncodeToString(b) + `"` }

var (
	binA = func() []byte {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}()
	binB = append([]byte{0x00, 0x00, 0x01, 0xFE, 0xFF, 0x80}, "switchyard"...)
)

// TestBridgeInterop: with --http-api, curl's publish reaches an
// autobahn-python subscriber and curl's call reaches an autobahn-js callee,
// binaries intact both ways.
func TestBridgeInterop(t *testing.T) {
	requireCurl(t)
	r := startRouter(t, "--http-api")
	defer r.stop(t)
	api := "http://" + r.wsAddr + "/api/realm1/"

	t.Run("publish-to-autobahn-python", func(t *testing.T) {
		requirePython(t)
		prefix := uriPrefix("bridge", "pub")
		ctx, cancel := context.WithTimeout(context.Background(), clientKillAfter)
		defer cancel()
		sub := startClient(t, ctx, r, peer{"py-asyncio", "websocket", "cbor"}, "subscriber", prefix, "--expect", "http")
		sub.waitReady(t, r)
		body := `{"topic": "` + prefix + `.fanout", "args": ["http", ` + b64bin(binA) + `, "text \u2713", 123],
		  "kwargs": {"from": "http", "bin": ` + b64bin(binB) + `, "n": 9007199254740991, "list": [1, {"x": null}]}}`
		code, v, raw := curlPost(t, api+"publish", body)
		if code != 200 || v["id"] == nil {
			t.Fatalf("publish: %d %s", code, raw)
		}
		sub.wait(t, r)
	})

	t.Run("call-to-autobahn-js", func(t *testing.T) {
		requireJS(t)
		prefix := uriPrefix("bridge", "call")
		ctx, cancel := context.WithTimeout(context.Background(), clientKillAfter)
		defer cancel()
		callee := startClient(t, ctx, r, peer{"js", "websocket", "json"}, "callee", prefix, "--count", "1", "--name", "jscallee")
		callee.waitReady(t, r)
		code, v, raw := curlPost(t, api+"call", `{"procedure": "`+prefix+`.bin_echo", "args": [`+b64bin(binA)+`, "http"], "kwargs": {"from": "http"}}`)
		rev := make([]byte, len(binA))
		for i, b := range binA {
			rev[len(binA)-1-i] = b
		}
		wantArgs := `"args":[` + b64bin(rev) + `,` + b64bin(binB) + `]`
		var parsed struct{ Args []string }
		json.Unmarshal([]byte(raw), &parsed)
		if code != 200 || len(parsed.Args) != 2 || parsed.Args[0] != "\x00"+base64.StdEncoding.EncodeToString(rev) ||
			parsed.Args[1] != "\x00"+base64.StdEncoding.EncodeToString(binB) {
			t.Fatalf("call: %d %s, want %s", code, raw, wantArgs)
		}
		kw, _ := v["kwargs"].(map[string]any)
		if kw["received_len"] != float64(256) || kw["from"] != "http" || kw["served_by"] != "jscallee" {
			t.Fatalf("call kwargs %v", kw)
		}
		callee.wait(t, r)
		code, v, raw = curlPost(t, api+"call", `{"procedure": "`+prefix+`.bin_echo"}`)
		if code != 404 || v["error"] != string(spec.ErrNoSuchProcedure) {
			t.Fatalf("call after the callee left: %d %s", code, raw)
		}
	})
}

func sha256Hash(token string) string {
	salt := "bridge-interop-salt"
	h := sha256.Sum256([]byte(salt + token))
	return "$sha256$" + base64.StdEncoding.EncodeToString([]byte(salt)) + "$" + base64.StdEncoding.EncodeToString(h[:])
}

// TestBridgeConfigured: a config file's http_api, against the binary:
// tokens, signatures, webhooks in and out, every error mapping and limit.
func TestBridgeConfigured(t *testing.T) {
	requireCurl(t)
	var attempts atomic.Int32
	delivered := make(chan map[string]any, 4)
	hookTarget := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attempts.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		delivered <- v
	}))
	defer hookTarget.Close()

	dir := t.TempDir()
	cfg := `
realms:
  - name: realm1
    anonymous: {role: backend}
    roles:
      - name: backend
        permissions: [{uri: "", match: prefix, allow: [call, register, publish, subscribe]}]
      - name: ci
        permissions: [{uri: com.ci., match: prefix, allow: [call, publish], disclose: [caller, publisher]}]
    http_api:
      anonymous: true
      tokens:
        - {token_hash: "` + sha256Hash("ci-token-1") + `", authid: ci-job, role: ci}
      signatures:
        - {key: deploy, secret: deploy-secret, authid: deployer, role: ci}
      webhooks_in:
        - {name: github, topic: com.ci.github, secret: gh-secret, headers: [X-GitHub-Event]}
      webhooks_out:
        - {topic: com.ci.out, url: "` + hookTarget.URL + `/in", timeout: 2s, retries: 4}
      limits: {max_body: 4096, timeout: 2s, per_client_concurrency: 2}
`
	path := filepath.Join(dir, "switchyard.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	adminAddr := freeAddrs(t, 1)[0]
	r := startRouter(t, "--config", path, "--admin", adminAddr)
	defer r.stop(t)
	base := "http://" + r.wsAddr
	api := base + "/api/realm1/"
	tok := "Authorization: Bearer ci-token-1"

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	backend, err := wamp.Connect(ctx, "ws://"+r.wsAddr+"/", wamp.Config{Realm: "realm1", Serializer: "cbor"})
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close(context.Background())
	release := make(chan struct{})
	var releaseOnce sync.Once
	defer releaseOnce.Do(func() { close(release) })
	entered := make(chan struct{}, 8)
	procs := map[string]wamp.Handler{
		"com.ci.who": func(_ context.Context, inv *wamp.Invocation) (*wamp.Result, error) {
			return &wamp.Result{Arguments: spec.List{inv.Details["caller_authid"], inv.Details["caller_authrole"]}}, nil
		},
		"com.app.fail": func(context.Context, *wamp.Invocation) (*wamp.Result, error) {
			return nil, &wamp.Error{URI: "com.app.error.broken", Arguments: spec.List{"it broke"}}
		},
		"com.app.picky": func(context.Context, *wamp.Invocation) (*wamp.Result, error) {
			return nil, &wamp.Error{URI: spec.ErrInvalidArgument, Arguments: spec.List{"x must be positive"}}
		},
		"com.app.hold": func(ctx context.Context, _ *wamp.Invocation) (*wamp.Result, error) {
			entered <- struct{}{}
			select {
			case <-ctx.Done():
			case <-release:
			}
			return &wamp.Result{}, nil
		},
	}
	for uri, h := range procs {
		if _, err := backend.Register(ctx, uri, h, nil); err != nil {
			t.Fatal(err)
		}
	}
	events := make(chan *wamp.Event, 8)
	for _, topic := range []string{"com.ci.status", "com.ci.github"} {
		if _, err := backend.Subscribe(ctx, topic, func(e *wamp.Event) { events <- e }, nil); err != nil {
			t.Fatal(err)
		}
	}
	nextEvent := func() *wamp.Event {
		select {
		case e := <-events:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
			return nil
		}
	}
	expect := func(what string, code int, v map[string]any, raw string, wantCode int, wantURI string) {
		t.Helper()
		if code != wantCode || (wantURI != "" && v["error"] != wantURI) {
			t.Errorf("%s: got %d %s, want %d %s", what, code, raw, wantCode, wantURI)
		}
	}

	t.Run("tokens", func(t *testing.T) {
		code, v, raw := curlPost(t, api+"call", `{"procedure": "com.ci.who"}`, tok)
		if code != 200 || !strings.Contains(raw, `"args":["ci-job","ci"]`) {
			t.Fatalf("call with the token: %d %s (%v)", code, raw, v)
		}
		code, v, raw = curlPost(t, api+"call", `{"procedure": "com.ci.who"}`, "Authorization: Bearer ci-token-2")
		expect("wrong token", code, v, raw, 401, string(bridge.ErrUnauthenticated))
		code, v, raw = curlPost(t, api+"call", `{"procedure": "com.app.fail"}`, tok)
		expect("outside the role", code, v, raw, 403, string(spec.ErrNotAuthorized))
	})

	t.Run("signatures", func(t *testing.T) {
		body := `{"topic": "com.ci.status", "args": ["deployed"]}`
		sign := func(secret string, at time.Time, nonce string) string {
			ts := at.UTC().Format("2006-01-02T15:04:05.000Z")
			q := url.Values{"key": {"deploy"}, "timestamp": {ts}, "seq": {"7"}, "nonce": {nonce},
				"signature": {bridge.Sign(secret, "deploy", ts, "7", nonce, []byte(body))}}
			return api + "publish?" + q.Encode()
		}
		good := sign("deploy-secret", time.Now(), "424242")
		code, v, raw := curlPost(t, good, body)
		expect("signed", code, v, raw, 200, "")
		if e := nextEvent(); e.Details["publisher_authid"] != "deployer" || e.Arguments[0] != "deployed" {
			t.Fatalf("signed publication arrived as %+v", e)
		}
		code, v, raw = curlPost(t, good, body)
		expect("replayed", code, v, raw, 401, string(bridge.ErrUnauthenticated))
		code, v, raw = curlPost(t, sign("not-the-secret", time.Now(), "424243"), body)
		expect("wrong secret", code, v, raw, 401, string(bridge.ErrUnauthenticated))
		code, v, raw = curlPost(t, sign("deploy-secret", time.Now().Add(-time.Hour), "424244"), body)
		expect("stale", code, v, raw, 401, string(bridge.ErrUnauthenticated))
	})

	t.Run("webhook-in", func(t *testing.T) {
		body := `{"action": "opened", "number": 17}`
		m := hmac.New(sha256.New, []byte("gh-secret"))
		m.Write([]byte(body))
		sig := "X-Hub-Signature-256: sha256=" + hex.EncodeToString(m.Sum(nil))
		code, v, raw := curlPost(t, base+"/webhook/github", body, sig, "X-GitHub-Event: pull_request")
		expect("signed webhook", code, v, raw, 200, "")
		e := nextEvent()
		payload, _ := e.Arguments[0].(map[string]any)
		headers, _ := e.ArgumentsKw["headers"].(map[string]any)
		if payload["number"] != int64(17) || headers["X-Github-Event"] != "pull_request" {
			t.Fatalf("webhook event %+v %+v", e.Arguments, e.ArgumentsKw)
		}
		code, v, raw = curlPost(t, base+"/webhook/github", body, "X-Hub-Signature-256: sha256=deadbeef")
		expect("badly signed webhook", code, v, raw, 401, string(bridge.ErrUnauthenticated))
	})

	t.Run("webhook-out", func(t *testing.T) {
		if err := backend.Publish(ctx, "com.ci.out", spec.List{"build", int64(99)}, nil, spec.Dict{"acknowledge": true}); err != nil {
			t.Fatal(err)
		}
		select {
		case v := <-delivered:
			args, _ := v["args"].([]any)
			if v["topic"] != "com.ci.out" || len(args) != 2 || args[0] != "build" {
				t.Fatalf("delivered %v", v)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the outgoing webhook never succeeded")
		}
		if n := attempts.Load(); n != 3 {
			t.Fatalf("%d attempts, want 3 (two 503s first)", n)
		}
	})

	t.Run("errors", func(t *testing.T) {
		code, v, raw := curlPost(t, api+"call", `{"procedure": "com.app.nothing"}`)
		expect("no callee", code, v, raw, 404, string(spec.ErrNoSuchProcedure))
		code, v, raw = curlPost(t, api+"call", `{"procedure": "com.app.fail"}`)
		expect("application error", code, v, raw, 502, "com.app.error.broken")
		if !strings.Contains(raw, `"args":["it broke"]`) {
			t.Errorf("application error body %s", raw)
		}
		code, v, raw = curlPost(t, api+"call", `{"procedure": "com.app.picky"}`)
		expect("invalid_argument", code, v, raw, 400, string(spec.ErrInvalidArgument))
		code, v, raw = curlPost(t, api+"call", `{"procedure": "com.app.hold", "options": {"timeout": 100}}`)
		expect("dealer timeout", code, v, raw, 504, string(spec.ErrTimeout))
		<-entered
		code, v, raw = curlPost(t, api+"call", `{"procedure": "com.app.hold"}`)
		expect("request timeout", code, v, raw, 504, string(spec.ErrTimeout))
		<-entered
		code, v, raw = curlPost(t, api+"call", `this is not json`)
		expect("not JSON", code, v, raw, 400, string(spec.ErrInvalidArgument))
		code, v, raw = curlPost(t, api+"publish", `{"topic": "com.app.x", "args": ["`+strings.Repeat("x", 5000)+`"]}`)
		expect("too big", code, v, raw, 413, string(bridge.ErrBodyTooLarge))
		code, v, raw = curlPost(t, base+"/api/realm2/call", `{}`)
		expect("unknown realm", code, v, raw, 404, string(spec.ErrNoSuchRealm))
	})

	t.Run("slow-body", func(t *testing.T) {
		conn, err := net.Dial("tcp", r.wsAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "POST /api/realm1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"topic\":")
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 408 || !strings.Contains(string(b), string(bridge.ErrSlowBody)) {
			t.Fatalf("slow body: %d %s", resp.StatusCode, b)
		}
	})

	t.Run("concurrency", func(t *testing.T) {
		var wg sync.WaitGroup
		codes := make(chan int, 2)
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.Post(api+"call", "application/json", strings.NewReader(`{"procedure": "com.app.hold"}`))
				if err != nil {
					codes <- 0
					return
				}
				resp.Body.Close()
				codes <- resp.StatusCode
			}()
		}
		<-entered
		<-entered
		code, v, raw := curlPost(t, api+"call", `{"procedure": "com.app.hold"}`)
		expect("third request at once", code, v, raw, 429, string(bridge.ErrTooManyRequests))
		releaseOnce.Do(func() { close(release) })
		wg.Wait()
		close(codes)
		for c := range codes {
			if c != 200 {
				t.Errorf("held request answered %d", c)
			}
		}
	})
	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get("http://" + adminAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`switchyard_http_bridge_requests_total{code="429",endpoint="call"} 1`,
			`switchyard_http_bridge_requests_total{code="200",endpoint="webhook"} 1`,
			`switchyard_http_bridge_webhook_deliveries_total{hook="com.ci.out",outcome="retried"} 2`,
		} {
			if !strings.Contains(string(b), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
	if t.Failed() {
		t.Logf("router log:\n%s", tail(r.out.String(), 60))
	}
}
