package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/internal/scrape"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

var httpClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func scrapeT(t *testing.T, admin string) scrape.Samples {
	t.Helper()
	s, err := scrape.Fetch(httpClient, "http://"+admin+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsMoveByExactAmounts scrapes the admin listener before and after
// known traffic over RawSocket and WebSocket.
func TestMetricsMoveByExactAmounts(t *testing.T) {
	addrs := freePorts(t, 3)
	wsAddr, rsAddr, adminAddr := addrs[0], addrs[1], addrs[2]
	startRouterWith(t, []string{wsAddr, rsAddr, adminAddr}, "serve", "--ws", wsAddr, "--rawsocket", rsAddr, "--admin", adminAddr)
	if code, _ := getStatus(t, "http://"+adminAddr+"/healthz"); code != 200 {
		t.Fatalf("/healthz %d", code)
	}
	if code, body := getStatus(t, "http://"+adminAddr+"/readyz"); code != 200 {
		t.Fatalf("/readyz %d %s", code, body)
	}
	ctx := ctxT(t, 20*time.Second)
	callee, err := client.Connect(ctx, "rs://"+rsAddr, client.Config{Serializer: "msgpack"})
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close(ctxT(t, 5*time.Second))
	if _, err := callee.Register(ctx, "com.example.add", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Arguments: spec.List{int64(1)}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	before := scrapeT(t, adminAddr)

	caller, err := client.Connect(ctx, "ws://"+wsAddr+"/", client.Config{Serializer: "json"})
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close(ctxT(t, 5*time.Second))
	events := make(chan struct{}, 100)
	if _, err := caller.Subscribe(ctx, "com.example.tick", func(*client.Event) { events <- struct{}{} }, nil); err != nil {
		t.Fatal(err)
	}
	const calls, pubs = 25, 10
	for i := 0; i < calls; i++ {
		if _, err := caller.Call(ctx, "com.example.add", spec.List{int64(i)}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := caller.Call(ctx, "com.example.nothing", nil, nil, nil); err == nil {
		t.Fatal("a call to no procedure succeeded")
	}
	for i := 0; i < pubs; i++ {
		if err := callee.Publish(ctx, "com.example.tick", spec.List{int64(i)}, nil, spec.Dict{"acknowledge": true}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < pubs; i++ {
		select {
		case <-events:
		case <-ctx.Done():
			t.Fatal("events missing")
		}
	}
	after := scrapeT(t, adminAddr)
	moves := map[string]float64{
		`switchyard_messages_received_total{type="CALL"}`:                            calls + 1,
		`switchyard_messages_received_total{type="YIELD"}`:                           calls,
		`switchyard_messages_received_total{type="PUBLISH"}`:                         pubs,
		`switchyard_messages_received_total{type="SUBSCRIBE"}`:                       1,
		`switchyard_messages_received_total{type="HELLO"}`:                           1,
		`switchyard_messages_sent_total{type="INVOCATION"}`:                          calls,
		`switchyard_messages_sent_total{type="RESULT"}`:                              calls,
		`switchyard_messages_sent_total{type="EVENT"}`:                               pubs,
		`switchyard_messages_sent_total{type="PUBLISHED"}`:                           pubs,
		`switchyard_messages_sent_total{type="WELCOME"}`:                             1,
		`switchyard_errors_sent_total{uri="wamp.error.no_such_procedure"}`:           1,
		`switchyard_sessions_opened_total{realm="realm1",transport="websocket"}`:     1,
		`switchyard_sessions_opened_total{realm="realm1",transport="rawsocket"}`:     0,
		`switchyard_auth_total{method="anonymous",outcome="success",realm="realm1"}`: 1,
		`switchyard_call_duration_seconds_count{realm="realm1"}`:                     calls,
		`switchyard_subscriptions{realm="realm1"}`:                                   1,
	}
	for series, d := range moves {
		if got := after.Get(series) - before.Get(series); got != d {
			t.Errorf("%s moved by %v, want %v", series, got, d)
		}
	}
	levels := map[string]float64{
		`switchyard_sessions{realm="realm1",serializer="json",transport="websocket"}`:    1,
		`switchyard_sessions{realm="realm1",serializer="msgpack",transport="rawsocket"}`: 1,
		`switchyard_registrations{realm="realm1"}`:                                       1,
		`switchyard_calls_in_flight{realm="realm1"}`:                                     0,
		`switchyard_protocol_violations_total`:                                           0,
		`switchyard_slow_consumer_disconnects_total`:                                     0,
		`switchyard_config_reloads_total{outcome="success"}`:                             0,
	}
	for series, v := range levels {
		if got, ok := after[series]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, v)
		}
	}
	// Bytes: a RawSocket frame is its payload plus 4 header bytes, so the
	// callee's traffic alone moves the rawsocket counters by more than
	// 4 bytes per message.
	rsIn := after.Get(`switchyard_bytes_received_total{transport="rawsocket"}`) - before.Get(`switchyard_bytes_received_total{transport="rawsocket"}`)
	rsOut := after.Get(`switchyard_bytes_sent_total{transport="rawsocket"}`) - before.Get(`switchyard_bytes_sent_total{transport="rawsocket"}`)
	wsIn := after.Get(`switchyard_bytes_received_total{transport="websocket"}`) - before.Get(`switchyard_bytes_received_total{transport="websocket"}`)
	if rsIn <= 4*(calls+pubs) || rsOut <= 4*(calls+pubs) || wsIn <= 0 {
		t.Errorf("bytes moved: rawsocket in %v out %v, websocket in %v", rsIn, rsOut, wsIn)
	}
	for _, want := range []string{"switchyard_build_info{", "go_goroutines", "process_cpu_seconds_total"} {
		found := false
		for series := range after {
			found = found || strings.HasPrefix(series, want)
		}
		if !found {
			t.Errorf("no %s series", want)
		}
	}
}

// An explicit --admin that cannot bind stops the router; the default one,
// busy, only makes it warn and run without.
func TestAdminAddressBusy(t *testing.T) {
	addrs := freePorts(t, 2)
	holder, err := net.Listen("tcp", addrs[1])
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	out, err := exec.Command(routerBinary, "serve", "--ws", addrs[0], "--rawsocket", "", "--admin", addrs[1]).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--admin") || !strings.Contains(string(out), "address already in use") {
		t.Fatalf("explicit busy --admin: %v\n%s", err, out)
	}

	// The default address: held here unless something else holds it.
	if ln, err := net.Listen("tcp", "127.0.0.1:8082"); err == nil {
		defer ln.Close()
	}
	log := &syncBuffer{}
	cmd := exec.Command(routerBinary, "serve", "--ws", addrs[0], "--rawsocket", "")
	cmd.Env = os.Environ()
	for i, e := range cmd.Env {
		if strings.HasPrefix(e, "SWITCHYARD_ADMIN=") {
			cmd.Env[i] = "SWITCHYARD_IGNORED=1"
		}
	}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waitFor(t, "the router to serve despite the busy admin address", func() bool {
		c, err := net.DialTimeout("tcp", addrs[0], time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		t.Fatalf("router exited with %v; log:\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "default admin address is busy") {
		t.Fatalf("no warning about the busy default admin address:\n%s", log.String())
	}
}

const reloadBase = `
listeners:
  - name: main
    transport: rawsocket
    address: RSADDR
LISTENERS
realms:
  - name: realm1
    anonymous: {role: anon}
    roles:
      - name: anon
        permissions:
          - {uri: "", match: prefix, allow: [call, register, publish, subscribe]}
      - name: user
        permissions:
          - {uri: "", match: prefix, allow: [call, register, publish, subscribe]}
    principals:
PRINCIPALS
`

// writeReloadConfig writes the config: extra listeners (YAML list items)
// after the main one, and ticket principals authid/authid-ticket.
func writeReloadConfig(t *testing.T, path, rsAddr, extra string, principals ...string) {
	t.Helper()
	var ps []string
	for _, p := range principals {
		ps = append(ps, "      - {authid: "+p+", role: user, ticket: "+p+"-ticket}")
	}
	cfg := strings.NewReplacer("RSADDR", rsAddr, "PRINCIPALS", strings.Join(ps, "\n"), "LISTENERS\n", extra).Replace(reloadBase)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func ticketUser(authid string) client.Config {
	return client.Config{AuthMethods: []string{"ticket"}, AuthID: authid, Authenticate: client.Ticket(authid + "-ticket")}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReloadOnSIGHUP: a principal added can join, a principal removed is
// killed with wamp.close.killed, everybody else carries on; a listener
// added to the file opens; a bad file changes nothing and is counted.
func TestReloadOnSIGHUP(t *testing.T) {
	addrs := freePorts(t, 3)
	rsAddr, rs2Addr, adminAddr := addrs[0], addrs[1], addrs[2]
	path := filepath.Join(t.TempDir(), "switchyard.yaml")
	writeReloadConfig(t, path, rsAddr, "", "alice", "bob")
	p := startRouterWith(t, []string{rsAddr, adminAddr}, "serve", "--config", path, "--admin", adminAddr, "--auth-rate-limit=false")
	url := "rs://" + rsAddr
	ctx := ctxT(t, 30*time.Second)
	join := func(cfg client.Config) (*client.Client, error) {
		c, err := client.Connect(ctx, url, cfg)
		if err == nil {
			t.Cleanup(func() { c.Close(ctxT(t, 5*time.Second)) })
		}
		return c, err
	}
	alice, err := join(ticketUser("alice"))
	if err != nil {
		t.Fatal(err)
	}
	bob, err := join(ticketUser("bob"))
	if err != nil {
		t.Fatal(err)
	}
	anon, err := join(client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := join(ticketUser("carol")); abortURI(err) != spec.ErrAuthenticationFailed {
		t.Fatalf("carol before the reload: %v", err)
	}

	// bob out, carol in, a second listener.
	writeReloadConfig(t, path, rsAddr, "  - {name: second, transport: rawsocket, address: \""+rs2Addr+"\"}\n", "alice", "carol")
	out, err := exec.Command(routerBinary, "reload", "--pid", strconv.Itoa(p.cmd.Process.Pid)).CombinedOutput()
	if err != nil {
		t.Fatalf("switchyard reload --pid: %v\n%s", err, out)
	}
	select {
	case <-bob.Done():
		var we *client.Error
		if !errors.As(bob.Err(), &we) || we.URI != spec.CloseKilled {
			t.Fatalf("bob's session ended with %v, want %s", bob.Err(), spec.CloseKilled)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("bob, removed from the file, was not killed; log:\n%s", p.log.String())
	}
	// The log reaches the test through a pipe, maybe after bob's ABORT.
	waitFor(t, "the kill's reason in the log", func() bool {
		return strings.Contains(p.log.String(), "principal bob was removed")
	})
	for name, c := range map[string]*client.Client{"alice": alice, "anonymous": anon} {
		if _, err := c.Call(ctx, "wamp.session.count", nil, nil, nil); err != nil {
			t.Errorf("%s, untouched by the reload: %v", name, err)
		}
	}
	if _, err := join(ticketUser("carol")); err != nil {
		t.Errorf("carol, added by the reload: %v", err)
	}
	if _, err := client.Connect(ctx, "rs://"+rs2Addr, client.Config{}); err != nil {
		t.Errorf("the listener added by the reload: %v", err)
	}
	waitFor(t, "a counted successful reload", func() bool {
		return scrapeT(t, adminAddr).Get(`switchyard_config_reloads_total{outcome="success"}`) == 1
	})

	// A broken file: nothing changes, the error names file and line.
	if err := os.WriteFile(path, []byte("realms:\n  - name: realm1\n    roles:\n      - name: user\n        permissions:\n          - uri: a.b\n            match: regex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "a counted failed reload", func() bool {
		return scrapeT(t, adminAddr).Get(`switchyard_config_reloads_total{outcome="failure"}`) == 1
	})
	if want := filepath.Base(path) + ":7: realms[0].roles[0].permissions[0].match"; !strings.Contains(p.log.String(), want) {
		t.Errorf("the log does not name %q:\n%s", want, p.log.String())
	}
	if _, err := join(ticketUser("carol")); err != nil {
		t.Errorf("carol after the failed reload: %v", err)
	}
	if _, err := alice.Call(ctx, "wamp.session.count", nil, nil, nil); err != nil {
		t.Errorf("alice after the failed reload: %v", err)
	}
	if s := scrapeT(t, adminAddr).Get(`switchyard_config_reloads_total{outcome="success"}`); s != 1 {
		t.Errorf("successful reloads %v, want 1", s)
	}
}

// TestReloadUnderLoad reloads again and again while callers keep calls in
// flight: every call is answered with its RESULT, none is lost or failed.
func TestReloadUnderLoad(t *testing.T) {
	addrs := freePorts(t, 2)
	rsAddr, adminAddr := addrs[0], addrs[1]
	path := filepath.Join(t.TempDir(), "switchyard.yaml")
	writeReloadConfig(t, path, rsAddr, "", "alice")
	startRouterWith(t, []string{rsAddr, adminAddr}, "serve", "--config", path, "--admin", adminAddr, "--admin-token", "tok")
	ctx := ctxT(t, 60*time.Second)
	callee, err := client.Connect(ctx, "rs://"+rsAddr, client.Config{Serializer: "msgpack"})
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close(ctxT(t, 5*time.Second))
	if _, err := callee.Register(ctx, "com.example.slow", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		time.Sleep(2 * time.Millisecond) // keeps calls in flight across each reload
		return &client.Result{Arguments: inv.Arguments}, nil
	}, spec.Dict{}); err != nil {
		t.Fatal(err)
	}
	const callers, perCaller = 4, 8
	var wg sync.WaitGroup
	var answered, failed atomic.Int64
	stop := make(chan struct{})
	for i := 0; i < callers; i++ {
		c, err := client.Connect(ctx, "rs://"+rsAddr, ticketUser("alice"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctxT(t, 5*time.Second))
		for j := 0; j < perCaller; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := int64(0); ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					res, err := c.Call(ctx, "com.example.slow", spec.List{n}, nil, nil)
					if err != nil || len(res.Arguments) != 1 {
						failed.Add(1)
						t.Errorf("call during reloads: %v", err)
						return
					}
					answered.Add(1)
				}
			}()
		}
	}
	for i := 0; i < 10; i++ {
		// Alternate adding and removing a principal nobody uses.
		if i%2 == 0 {
			writeReloadConfig(t, path, rsAddr, "", "alice", "dave"+strconv.Itoa(i))
		} else {
			writeReloadConfig(t, path, rsAddr, "", "alice")
		}
		out, err := exec.Command(routerBinary, "reload", "--admin", adminAddr, "--admin-token", "tok").CombinedOutput()
		if err != nil {
			t.Fatalf("switchyard reload --admin: %v\n%s", err, out)
		}
		var res struct {
			Killed int `json:"killed_sessions"`
		}
		if err := json.Unmarshal(out, &res); err != nil || res.Killed != 0 {
			t.Fatalf("reload answer %s (%v)", out, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || answered.Load() < callers*perCaller {
		t.Fatalf("%d calls answered, %d failed", answered.Load(), failed.Load())
	}
	s := scrapeT(t, adminAddr)
	if got := s.Get(`switchyard_config_reloads_total{outcome="success"}`); got != 10 {
		t.Fatalf("successful reloads %v, want 10", got)
	}
	if got := s.Get(`switchyard_calls_in_flight{realm="realm1"}`); got != 0 {
		t.Fatalf("calls in flight after the load: %v", got)
	}
}

// TestReloadTokenRules drives POST /reload with curl, as an operator would.
func TestReloadTokenRules(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("SWITCHYARD_REQUIRE_INTEROP") == "1" {
			t.Fatal("curl is missing (scripts/install-test-deps.sh installs it)")
		}
		t.Skip("curl is not installed")
	}
	addrs := freePorts(t, 3)
	rsAddr, withToken, noToken := addrs[0], addrs[1], addrs[2]
	path := filepath.Join(t.TempDir(), "switchyard.yaml")
	writeReloadConfig(t, path, rsAddr, "", "alice")
	startRouterWith(t, []string{rsAddr, withToken}, "serve", "--config", path, "--admin", withToken, "--admin-token", "s3cret")
	post := func(addr string, header ...string) string {
		args := []string{"-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"}
		for _, h := range header {
			args = append(args, "-H", h)
		}
		out, err := exec.Command(curl, append(args, "http://"+addr+"/reload")...).Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		return string(out)
	}
	if code := post(withToken); code != "403" {
		t.Errorf("reload without the token: %s, want 403", code)
	}
	if code := post(withToken, "Authorization: Bearer wrong"); code != "403" {
		t.Errorf("reload with a wrong token: %s, want 403", code)
	}
	if code := post(withToken, "Authorization: Bearer s3cret"); code != "200" {
		t.Errorf("reload with the token: %s, want 200", code)
	}
	// Without a token, on loopback: allowed.
	rs2 := freePorts(t, 1)[0]
	path2 := filepath.Join(t.TempDir(), "switchyard.yaml")
	writeReloadConfig(t, path2, rs2, "", "alice")
	startRouterWith(t, []string{rs2, noToken}, "serve", "--config", path2, "--admin", noToken)
	if code := post(noToken); code != "200" {
		t.Errorf("reload on a loopback admin without a token: %s, want 200", code)
	}
	if code, _ := getStatus(t, "http://"+noToken+"/reload"); code != 405 {
		t.Errorf("GET /reload: %d, want 405", code)
	}
}

// TestAllowedOrigins: a browser's Origin is checked against
// --ws-allowed-origins and against a config listener's allowed_origins.
func TestAllowedOrigins(t *testing.T) {
	addrs := freePorts(t, 2)
	flagAddr, cfgAddr := addrs[0], addrs[1]
	startRouterWith(t, []string{flagAddr}, "serve", "--ws", flagAddr, "--rawsocket", "", "--ws-allowed-origins", "app.example.com,*.trusted.org")
	path := filepath.Join(t.TempDir(), "switchyard.yaml")
	cfg := `
listeners:
  - name: browsers
    transport: ws
    address: ` + cfgAddr + `
    allowed_origins: [console.example.net]
realms:
  - name: realm1
    anonymous: {role: anon}
    roles:
      - name: anon
        permissions:
          - {uri: "", match: prefix, allow: [call, subscribe]}
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startRouterWith(t, []string{cfgAddr}, "serve", "--config", path)
	dial := func(addr, origin string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := ws.Dial(ctx, "ws://"+addr+"/", &ws.DialOptions{HTTPHeader: h, Subprotocols: []string{"wamp.2.json"}})
		if err != nil {
			if resp != nil && resp.StatusCode != http.StatusForbidden {
				return errors.New("status " + resp.Status)
			}
			return err
		}
		c.Close(ws.StatusNormalClosure, "")
		return nil
	}
	cases := []struct {
		addr, origin string
		ok           bool
	}{
		{flagAddr, "https://app.example.com", true},
		{flagAddr, "https://eu.trusted.org", true},
		{flagAddr, "https://evil.example.org", false},
		{flagAddr, "", true}, // not a browser: no Origin header
		{cfgAddr, "https://console.example.net", true},
		{cfgAddr, "https://app.example.com", false},
	}
	for _, c := range cases {
		err := dial(c.addr, c.origin)
		if (err == nil) != c.ok {
			t.Errorf("Origin %q on %s: err %v, want accepted=%v", c.origin, c.addr, err, c.ok)
		}
	}
}

// TestReloadRebindsOnlyChangedListeners: a listener whose allowed origins
// changed is re-bound, a removed one stops accepting, an unchanged one is
// not touched, and the sessions on all of them carry on.
func TestReloadRebindsOnlyChangedListeners(t *testing.T) {
	addrs := freePorts(t, 3)
	wsAddr, rsAddr, adminAddr := addrs[0], addrs[1], addrs[2]
	path := filepath.Join(t.TempDir(), "switchyard.yaml")
	write := func(origins string, withRS bool) {
		cfg := "listeners:\n  - {name: web, transport: ws, address: \"" + wsAddr + "\", allowed_origins: [" + origins + "]}\n"
		if withRS {
			cfg += "  - {name: dev, transport: rawsocket, address: \"" + rsAddr + "\"}\n"
		}
		cfg += `realms:
  - name: realm1
    anonymous: {role: anon}
    roles:
      - name: anon
        permissions:
          - {uri: "", match: prefix, allow: [call, register, publish, subscribe]}
`
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.example.com", true)
	p := startRouterWith(t, []string{wsAddr, rsAddr, adminAddr}, "serve", "--config", path, "--admin", adminAddr)
	ctx := ctxT(t, 30*time.Second)
	origin := func(o string) error {
		h := http.Header{"Origin": {o}}
		// No keep-alive: a refused upgrade would leave its connection to
		// the listener as it was before the reload.
		c, _, err := ws.Dial(ctx, "ws://"+wsAddr+"/", &ws.DialOptions{HTTPClient: httpClient, HTTPHeader: h, Subprotocols: []string{"wamp.2.json"}})
		if err == nil {
			c.Close(ws.StatusNormalClosure, "")
		}
		return err
	}
	if origin("https://a.example.com") != nil || origin("https://b.example.com") == nil {
		t.Fatal("origins before the reload")
	}
	webSession, err := client.Connect(ctx, "ws://"+wsAddr+"/", client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer webSession.Close(ctxT(t, 5*time.Second))
	devSession, err := client.Connect(ctx, "rs://"+rsAddr, client.Config{Serializer: "cbor"})
	if err != nil {
		t.Fatal(err)
	}
	defer devSession.Close(ctxT(t, 5*time.Second))
	reload := func() {
		t.Helper()
		out, err := exec.Command(routerBinary, "reload", "--admin", adminAddr).CombinedOutput()
		if err != nil {
			t.Fatalf("reload: %v\n%s", err, out)
		}
	}

	write("b.example.com", true)
	reload()
	if origin("https://b.example.com") != nil || origin("https://a.example.com") == nil {
		t.Errorf("origins after the reload: the web listener was not re-bound; log:\n%s", p.log.String())
	}
	if !strings.Contains(p.log.String(), `closed_listeners=[web]`) || strings.Contains(p.log.String(), `closed_listeners="[web dev]"`) {
		t.Errorf("the reload should re-bind web only; log:\n%s", p.log.String())
	}

	write("b.example.com", false)
	reload()
	if c, err := client.Connect(ctxT(t, 3*time.Second), "rs://"+rsAddr, client.Config{}); err == nil {
		c.Close(ctxT(t, 3*time.Second))
		t.Error("the removed dev listener still accepts")
	}
	for name, c := range map[string]*client.Client{"web": webSession, "dev": devSession} {
		if _, err := c.Call(ctx, "wamp.session.count", nil, nil, nil); err != nil {
			t.Errorf("the %s session, accepted before the reloads: %v", name, err)
		}
	}
}

// TestReadyzDuringShutdown: from SIGTERM on, /readyz answers 503 naming the
// shutdown while sessions are still being said GOODBYE to; /healthz stays
// 200 until the process ends.
func TestReadyzDuringShutdown(t *testing.T) {
	addrs := freePorts(t, 2)
	rsAddr, adminAddr := addrs[0], addrs[1]
	p := startRouterWith(t, []string{rsAddr, adminAddr}, "serve", "--ws", "", "--rawsocket", rsAddr, "--admin", adminAddr)
	// A session that never answers GOODBYE holds the shutdown open for
	// the router's GOODBYE timeout (2 s).
	c := dialRaw(t, rsAddr)
	rsHandshake(t, c, 0xf1)
	rsWrite(t, c, []byte(`[1,"realm1",{"roles":{"subscriber":{}}}]`))
	if _, ok := rsRead(t, c, serializer.JSON).(*spec.Welcome); !ok {
		t.Fatal("no WELCOME")
	}
	if code, _ := getStatus(t, "http://"+adminAddr+"/readyz"); code != 200 {
		t.Fatalf("/readyz before SIGTERM: %d", code)
	}
	p.terminate()
	if g, ok := rsRead(t, c, serializer.JSON).(*spec.Goodbye); !ok || g.Reason != spec.CloseSystemShutdown {
		t.Fatalf("got %v, want GOODBYE %s", g, spec.CloseSystemShutdown)
	}
	code, body := getStatus(t, "http://"+adminAddr+"/readyz")
	if code != 503 || !strings.Contains(body, "shutting down") {
		t.Fatalf("/readyz during shutdown: %d %s", code, body)
	}
	if code, _ := getStatus(t, "http://"+adminAddr+"/healthz"); code != 200 {
		t.Fatalf("/healthz during shutdown: %d", code)
	}
}
