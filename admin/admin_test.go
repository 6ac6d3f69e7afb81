package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func start(t *testing.T, ln net.Listener, opts Options) string {
	t.Helper()
	s := newServer(ln, opts)
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-errc; err != nil {
			t.Error(err)
		}
	})
	return "http://" + s.Addr()
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func do(t *testing.T, method, url, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	return resp.StatusCode, body
}

func TestHealthAndReadiness(t *testing.T) {
	var ready Readiness
	up := false
	ready.Add("listeners", func() error {
		if !up {
			return errors.New("ws 127.0.0.1:8080 is not listening yet")
		}
		return nil
	})
	base := start(t, listen(t, "127.0.0.1:0"), Options{Readiness: &ready})
	if code, _ := do(t, "GET", base+"/healthz", ""); code != 200 {
		t.Fatalf("/healthz %d", code)
	}
	code, body := do(t, "GET", base+"/readyz", "")
	nr, _ := body["not_ready"].(map[string]any)
	if code != 503 || !strings.Contains(nr["listeners"].(string), "not listening") {
		t.Fatalf("/readyz before the listeners: %d %v", code, body)
	}
	up = true
	if code, body := do(t, "GET", base+"/readyz", ""); code != 200 || body["ready"] != true {
		t.Fatalf("/readyz when up: %d %v", code, body)
	}
	ready.ShuttingDown()
	code, body = do(t, "GET", base+"/readyz", "")
	nr, _ = body["not_ready"].(map[string]any)
	if code != 503 || nr["shutdown"] == nil {
		t.Fatalf("/readyz during shutdown: %d %v", code, body)
	}
	if code, _ := do(t, "POST", base+"/reload", ""); code != 404 && code != 405 {
		t.Fatalf("/reload without a reload function: %d", code)
	}
}

func TestReloadTokenRules(t *testing.T) {
	calls := 0
	reload := func(context.Context) (any, error) {
		calls++
		if calls == 3 {
			return nil, errors.New("reload.yaml:3: realms: bad")
		}
		return map[string]any{"killed": 0}, nil
	}
	// Loopback without a token: allowed.
	base := start(t, listen(t, "127.0.0.1:0"), Options{Reload: reload})
	if code, _ := do(t, "POST", base+"/reload", ""); code != 200 {
		t.Fatalf("loopback reload without a token: %d", code)
	}
	if code, _ := do(t, "GET", base+"/reload", ""); code != 405 {
		t.Fatalf("GET /reload: %d, want 405", code)
	}
	// With a token: required, even on loopback.
	tok := start(t, listen(t, "127.0.0.1:0"), Options{Reload: reload, Token: "s3cret"})
	for _, bad := range []string{"", "wrong"} {
		if code, _ := do(t, "POST", tok+"/reload", bad); code != 403 {
			t.Fatalf("reload with token %q: %d, want 403", bad, code)
		}
	}
	if code, _ := do(t, "POST", tok+"/reload", "s3cret"); code != 200 {
		t.Fatalf("reload with the token: %d", code)
	}
	if code, body := do(t, "POST", tok+"/reload", "s3cret"); code != 422 || !strings.Contains(body["error"].(string), "reload.yaml:3") {
		t.Fatalf("failed reload: %d %v", code, body)
	}
	if calls != 3 {
		t.Fatalf("reload ran %d times, want 3", calls)
	}
}

// A non-loopback admin listener without a token refuses reloads. The
// listener is on loopback (tests must not listen elsewhere); the server is
// told otherwise.
func TestReloadRefusedOffLoopbackWithoutToken(t *testing.T) {
	s := newServer(listen(t, "127.0.0.1:0"), Options{Reload: func(context.Context) (any, error) { return nil, nil }})
	s.loopback = false
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	defer func() {
		s.Shutdown(context.Background())
		<-errc
	}()
	code, body := do(t, "POST", "http://"+s.Addr()+"/reload", "")
	if code != 403 || !strings.Contains(body["error"].(string), "--admin-token") {
		t.Fatalf("%d %v", code, body)
	}
}
