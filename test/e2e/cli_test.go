package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

// cliResult is what one CLI run printed and how it exited.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the switchyard binary to completion (bounded), with env added
// to the test's environment.
func runCLI(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, routerBinary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("switchyard %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("switchyard %v did not finish in time; stderr:\n%s", args, res.stderr)
	}
	return res
}

// mustCLI runs the CLI and fails the test unless it exits 0.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	r := runCLI(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("switchyard %v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// cliProc is a long-running CLI command (subscribe, register).
type cliProc struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	exited chan struct{}
}

// startCLI starts a long-running command and waits until its stderr says
// ready (for example "registered").
func startCLI(t *testing.T, ready string, args ...string) *cliProc {
	t.Helper()
	p := &cliProc{cmd: exec.Command(routerBinary, args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("switchyard %v stderr:\n%s", args, p.stderr.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.stderr.String(), ready) {
		select {
		case <-p.exited:
			t.Fatalf("switchyard %v exited before %q:\n%s", args, ready, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("switchyard %v never said %q:\n%s", args, ready, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// lines waits (bounded) for n complete lines of the command's stdout.
func (p *cliProc) lines(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out := p.stdout.String()
		if strings.Count(out, "\n") >= n {
			return strings.SplitN(out, "\n", n+1)[:n]
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d lines in time: %q", n, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *cliProc) waitExit(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(15 * time.Second):
		t.Fatal("the command did not exit")
	}
	return -1
}

func TestCLICall(t *testing.T) {
	p := startRouter(t)
	callee := connect(t, p, "rawsocket", "msgpack")
	ctx := ctxT(t, 30*time.Second)
	if _, err := callee.Register(ctx, "com.e2e.add", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		var sum int64
		for _, a := range inv.Arguments {
			n, ok := spec.AsInt(a)
			if !ok {
				return nil, &client.Error{URI: "com.e2e.not_a_number", Arguments: spec.List{a}}
			}
			sum += n
		}
		return &client.Result{Arguments: spec.List{sum}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := callee.Register(ctx, "com.e2e.echo", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Arguments: inv.Arguments, ArgumentsKw: inv.ArgumentsKw}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := callee.Register(ctx, "com.e2e.count", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		for i := int64(1); i <= 3; i++ {
			if err := inv.Progress(spec.List{i}, nil); err != nil {
				return nil, err
			}
		}
		return &client.Result{Arguments: spec.List{"done"}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}

	// Every transport and serializer; flags after the positional arguments.
	for _, via := range []struct{ listener, ser string }{{"ws", "json"}, {"rawsocket", "msgpack"}, {"unix", "cbor"}, {"listen-rs", "json"}} {
		if out := mustCLI(t, "call", "com.e2e.add", "3", "4", "--url", p.urls[via.listener], "--serializer", via.ser); out != "[7]\n" {
			t.Fatalf("%s/%s: %q", via.listener, via.ser, out)
		}
	}
	// TLS: refused without trust, accepted with --insecure.
	if r := runCLI(t, nil, "call", "com.e2e.add", "1", "--url", p.urls["wss"]); r.code != 1 || !strings.Contains(r.stderr, "certificate") {
		t.Fatalf("wss without trust: exit %d %s", r.code, r.stderr)
	}
	if out := mustCLI(t, "call", "--insecure", "--url", p.urls["rawsocket-tls"], "com.e2e.add", "1", "2"); out != "[3]\n" {
		t.Fatalf("rss --insecure: %q", out)
	}
	// Arguments: JSON when they parse, else strings; kwargs.
	out := mustCLI(t, "call", "com.e2e.echo", "hello", `"7"`, "7", "[1,2]", `{"a":null}`, "9007199254740993", "--url", p.urls["ws"])
	if out != `["hello","7",7,[1,2],{"a":null},9007199254740993]`+"\n" {
		t.Fatalf("echo: %q", out)
	}
	out = mustCLI(t, "call", "com.e2e.echo", "x", "--kwargs", `{"k":[true]}`, "--url", p.urls["rawsocket"], "--serializer", "cbor")
	if out != `{"args":["x"],"kwargs":{"k":[true]}}`+"\n" {
		t.Fatalf("kwargs: %q", out)
	}
	// Negative numbers are arguments, not flags.
	if out := mustCLI(t, "call", "com.e2e.add", "-3", "10", "--url", p.urls["ws"]); out != "[7]\n" {
		t.Fatalf("negative argument: %q", out)
	}
	// Progressive results, one JSON line each.
	if out := mustCLI(t, "call", "com.e2e.count", "--url", p.urls["ws"]); out != "[1]\n[2]\n[3]\n[\"done\"]\n" {
		t.Fatalf("progressive: %q", out)
	}
	// An ERROR: its URI and args on stderr, exit 1, nothing on stdout.
	r := runCLI(t, nil, "call", "com.e2e.add", "one", "--url", p.urls["ws"])
	if r.code != 1 || r.stdout != "" || strings.TrimSpace(r.stderr) != `com.e2e.not_a_number ["one"]` {
		t.Fatalf("error: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, nil, "call", "com.e2e.missing", "--url", p.urls["ws"])
	if r.code != 1 || !strings.HasPrefix(r.stderr, "wamp.error.no_such_procedure") {
		t.Fatalf("no such procedure: exit %d stderr %q", r.code, r.stderr)
	}
	// A router that is not there: a clear error, exit 1.
	r = runCLI(t, nil, "call", "com.e2e.add", "--url", "ws://"+freePorts(t, 1)[0]+"/", "--timeout", "2s")
	if r.code != 1 || !strings.Contains(r.stderr, "connecting to") {
		t.Fatalf("no router: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestCLIPublishSubscribe(t *testing.T) {
	p := startRouter(t)
	sub := startCLI(t, "subscribed", "subscribe", "com.e2e.news", "--url", p.urls["rawsocket"], "--serializer", "msgpack", "--count", "3")
	mustCLI(t, "publish", "com.e2e.news", "hello", "42", "--url", p.urls["ws"], "--acknowledge")
	mustCLI(t, "publish", "com.e2e.news", "--kwargs", `{"level":"high"}`, "--url", p.urls["unix"], "--serializer", "cbor")
	// A Go publisher that discloses itself: the event names it.
	pub := connect(t, p, "ws", "json")
	if err := pub.Publish(ctxT(t, 5*time.Second), "com.e2e.news", spec.List{true}, nil, spec.Dict{"disclose_me": true, "acknowledge": true}); err != nil {
		t.Fatal(err)
	}
	got := sub.lines(t, 3)
	if got[0] != `{"args":["hello",42]}` || got[1] != `{"args":[],"kwargs":{"level":"high"}}` {
		t.Fatalf("events: %q", got)
	}
	var third map[string]any
	if err := json.Unmarshal([]byte(got[2]), &third); err != nil || third["publisher"] != float64(pub.ID()) {
		t.Fatalf("disclosed event %q, want publisher %d", got[2], pub.ID())
	}
	if code := sub.waitExit(t); code != 0 {
		t.Fatalf("subscribe --count 3 exited %d", code)
	}

	// Pattern subscriptions print the topic.
	pat := startCLI(t, "subscribed", "subscribe", "com.e2e..status", "--match", "wildcard", "--count", "1", "--url", p.urls["ws"])
	mustCLI(t, "publish", "com.e2e.pump7.status", "ok", "--url", p.urls["ws"])
	if got := pat.lines(t, 1); got[0] != `{"args":["ok"],"topic":"com.e2e.pump7.status"}` {
		t.Fatalf("wildcard event %q", got[0])
	}

	// A refused publication, acknowledged: the error and exit 1.
	r := runCLI(t, nil, "publish", "wamp.e2e.mine", "--acknowledge", "--url", p.urls["ws"])
	if r.code != 1 || !strings.HasPrefix(r.stderr, "wamp.error.") {
		t.Fatalf("publish under wamp.: exit %d stderr %q", r.code, r.stderr)
	}
	// SIGINT ends a subscriber cleanly.
	idle := startCLI(t, "subscribed", "subscribe", "com.e2e.quiet", "--url", p.urls["ws"])
	idle.cmd.Process.Signal(os.Interrupt)
	if code := idle.waitExit(t); code != 0 {
		t.Fatalf("subscribe after SIGINT exited %d", code)
	}
}

func TestCLIRegister(t *testing.T) {
	p := startRouter(t)
	// The command echoes its stdin: the invocation as JSON.
	startCLI(t, "registered", "register", "com.e2e.cat", "--url", p.urls["rawsocket"], "--serializer", "cbor", "--", "sh", "-c", "cat")
	out := mustCLI(t, "call", "com.e2e.cat", "1", "two", "--kwargs", `{"k":3}`, "--url", p.urls["ws"])
	if out != `[{"args":[1,"two"],"kwargs":{"k":3}}]`+"\n" {
		t.Fatalf("cat: %q", out)
	}
	// Plain text output is a string; a failing command is an ERROR.
	startCLI(t, "registered", "register", "--url", p.urls["ws"], "com.e2e.hello", "--", "echo", "hello world")
	if out := mustCLI(t, "call", "com.e2e.hello", "--url", p.urls["ws"]); out != `["hello world"]`+"\n" {
		t.Fatalf("text: %q", out)
	}
	startCLI(t, "registered", "register", "com.e2e.fail", "--url", p.urls["ws"], "--", "sh", "-c", "echo it broke >&2; exit 3")
	r := runCLI(t, nil, "call", "com.e2e.fail", "--url", p.urls["ws"])
	if r.code != 1 || strings.TrimSpace(r.stderr) != `wamp.error.runtime_error {"args":["it broke"],"kwargs":{"exit_code":3}}` {
		t.Fatalf("failing command: exit %d stderr %q", r.code, r.stderr)
	}

	// Bounded concurrency: with 2 slots, 4 calls of a 0.4 s command take
	// at least two rounds, and all answer.
	startCLI(t, "registered", "register", "com.e2e.slow", "--concurrency", "2", "--url", p.urls["ws"], "--", "sh", "-c", "sleep 0.4; echo done")
	caller := connect(t, p, "rawsocket", "msgpack")
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := caller.Call(ctxT(t, 20*time.Second), "com.e2e.slow", nil, nil, nil)
			if err == nil && res.Arguments[0] != "done" {
				err = errors.New("wrong result")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Fatalf("4 calls of 0.4 s with 2 slots took %v: more than 2 ran at once", d)
	}

	// Refused registration: error and exit 1.
	r = runCLI(t, nil, "register", "wamp.e2e.mine", "--url", p.urls["ws"], "--", "true")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "wamp.error.") {
		t.Fatalf("register under wamp.: exit %d stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, nil, "register", "com.e2e.nocmd", "--url", p.urls["ws"]); r.code != 1 || !strings.Contains(r.stderr, "which command") {
		t.Fatalf("register without a command: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestCLISessions(t *testing.T) {
	p := startRouter(t, "--ticket", "alice:s3cret:ops")
	alice, err := client.Connect(ctxT(t, 5*time.Second), p.urls["rawsocket"], client.Config{Serializer: "msgpack", AuthMethods: []string{"ticket"}, AuthID: "alice", Authenticate: client.Ticket("s3cret")})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close(ctxT(t, 5*time.Second))
	out := mustCLI(t, "sessions", "--json", "--url", p.urls["ws"])
	var sessions []map[string]any
	if err := json.Unmarshal([]byte(out), &sessions); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	found := false
	for _, s := range sessions {
		if s["session"] == float64(alice.ID()) {
			found = true
			tr, _ := s["transport"].(map[string]any)
			if s["authid"] != "alice" || s["authrole"] != "ops" || s["authmethod"] != "ticket" || tr["type"] != "rawsocket" {
				t.Fatalf("alice's session: %v", s)
			}
		}
	}
	if !found || len(sessions) < 2 { // alice and the command itself (and maybe one leaving)
		t.Fatalf("sessions %v, want alice's and the command's", sessions)
	}
	table := mustCLI(t, "sessions", "--url", p.urls["unix"], "--serializer", "cbor")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	aliceRow := false
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		aliceRow = aliceRow || (len(f) == 6 && f[0] == strconv.FormatInt(int64(alice.ID()), 10) && f[1] == "alice" && f[2] == "ops" && f[4] == "rawsocket/wamp.2.msgpack")
	}
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "SESSION") || !aliceRow {
		t.Fatalf("table:\n%s", table)
	}
}

func TestCLICheck(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("realms:\n  - name: r1\n    roles:\n      - name: user\n        permissions:\n          - uri: a.b\n            match: regex\n"), 0o600)
	r := runCLI(t, nil, "check", "--config", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "bad.yaml:7: realms[0].roles[0].permissions[0].match") {
		t.Fatalf("check bad: exit %d stderr %q", r.code, r.stderr)
	}
	// serve says exactly the same.
	s := runCLI(t, nil, "serve", "--config", bad, "--ws", "127.0.0.1:0", "--rawsocket", "")
	if s.code != 1 || s.stderr != r.stderr {
		t.Fatalf("serve and check differ:\nserve: %q\ncheck: %q", s.stderr, r.stderr)
	}
	// A listener whose certificate is missing fails the check too.
	tlsBad := filepath.Join(dir, "tls.yaml")
	os.WriteFile(tlsBad, []byte("listeners:\n  - name: l\n    transport: ws\n    address: 127.0.0.1:0\n    tls: {cert: "+dir+"/none.crt, key: "+dir+"/none.key}\nrealms:\n  - name: r1\n    anonymous: {role: anon}\n    roles:\n      - name: anon\n"), 0o600)
	if r := runCLI(t, nil, "check", "--config", tlsBad); r.code != 1 || !strings.Contains(r.stderr, "config listener l") {
		t.Fatalf("check missing cert: exit %d stderr %q", r.code, r.stderr)
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("realms:\n  - name: r1\n    anonymous: {role: anon}\n    roles:\n      - name: anon\n"), 0o600)
	if out := mustCLI(t, "check", "--config", good); !strings.Contains(out, "OK") {
		t.Fatalf("check good: %q", out)
	}
	if r := runCLI(t, nil, "check"); r.code == 0 {
		t.Fatal("check without --config passed")
	}
}

func TestCLIInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc")
	addrs := freePorts(t, 2)
	out := mustCLI(t, "init", dir, "--ws", addrs[0], "--rawsocket", addrs[1])
	if !strings.Contains(out, "switchyard.yaml") {
		t.Fatalf("init: %q", out)
	}
	config := filepath.Join(dir, "switchyard.yaml")
	text, _ := os.ReadFile(config)
	if !strings.Contains(string(text), "# ") || !strings.Contains(string(text), addrs[0]) {
		t.Fatalf("the starter config is not commented or lacks the address:\n%s", text)
	}
	if fi, err := os.Stat(filepath.Join(dir, "operator.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("operator.key: %v %v", fi, err)
	}
	mustCLI(t, "check", "--config", config)
	if r := runCLI(t, nil, "init", dir); r.code != 1 || !strings.Contains(r.stderr, "exists") {
		t.Fatalf("init over an existing config: exit %d stderr %q", r.code, r.stderr)
	}

	startRouterWith(t, addrs, "serve", "--config", config)
	// The operator logs in with the key init wrote; anonymous works too.
	out = mustCLI(t, "sessions", "--json", "--url", "rs://"+addrs[1], "--authid", "operator", "--private-key", "@"+filepath.Join(dir, "operator.key"))
	if !strings.Contains(out, `"authid":"operator"`) || !strings.Contains(out, `"authmethod":"cryptosign"`) {
		t.Fatalf("operator session: %s", out)
	}
	startCLI(t, "registered", "register", "com.e2e.up", "--url", "ws://"+addrs[0]+"/", "--", "echo", "1")
	if out := mustCLI(t, "call", "com.e2e.up", "--url", "ws://"+addrs[0]+"/"); out != "[1]\n" {
		t.Fatalf("anonymous call: %q", out)
	}
}

func TestCLIWithAuthentication(t *testing.T) {
	dir := t.TempDir()
	addrs := freePorts(t, 2)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	cfg := filepath.Join(dir, "auth.yaml")
	os.WriteFile(cfg, []byte(`
listeners:
  - {name: ws, transport: ws, address: `+addrs[0]+`}
  - {name: rs, transport: rawsocket, address: `+addrs[1]+`}
realms:
  - name: secure
    roles:
      - name: ops
        permissions:
          - {uri: "", match: prefix, allow: [call, register, publish, subscribe]}
    principals:
      - {authid: alice, role: ops, ticket: t1cket}
      - {authid: bob, role: ops, wampcra: {secret: b0b-secret, salt: pepper, iterations: 100, keylen: 32}}
      - {authid: carol, role: ops, wampcra: plain-secret}
      - {authid: dev1, role: ops, cryptosign: [`+hex.EncodeToString(pub)+`]}
`), 0o600)
	p := startRouterWith(t, addrs, "serve", "--config", cfg, "--auth-rate-limit=false")
	ws, rs := "ws://"+addrs[0]+"/", "rs://"+addrs[1]
	startCLI(t, "registered", "register", "com.e2e.whoami", "--url", rs, "--realm", "secure", "--authid", "alice", "--ticket", "t1cket", "--", "echo", "ok")

	seed := hex.EncodeToString(priv.Seed())
	for name, args := range map[string][]string{
		"ticket":            {"--authid", "alice", "--ticket", "t1cket"},
		"wampcra salted":    {"--authid", "bob", "--secret", "b0b-secret"},
		"wampcra plain":     {"--authid", "carol", "--secret", "plain-secret", "--serializer", "msgpack"},
		"cryptosign":        {"--private-key", seed, "--serializer", "cbor"},
		"cryptosign authid": {"--authid", "dev1", "--private-key", seed},
	} {
		full := append([]string{"call", "com.e2e.whoami", "--url", ws, "--realm", "secure"}, args...)
		if out := mustCLI(t, full...); out != `["ok"]`+"\n" {
			t.Fatalf("%s: %q", name, out)
		}
	}
	// Environment variables, with serve's SWITCHYARD_REALM and
	// SWITCHYARD_TICKET set to something else: they mean nothing here.
	env := []string{"SWITCHYARD_CLIENT_URL=" + rs, "SWITCHYARD_CLIENT_REALM=secure", "SWITCHYARD_CLIENT_AUTHID=alice", "SWITCHYARD_CLIENT_TICKET=t1cket",
		"SWITCHYARD_REALM=elsewhere", "SWITCHYARD_TICKET=mallory:x"}
	if r := runCLI(t, env, "call", "com.e2e.whoami"); r.code != 0 || r.stdout != `["ok"]`+"\n" {
		t.Fatalf("from the environment: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	keyFile := filepath.Join(dir, "dev1.key")
	os.WriteFile(keyFile, []byte(seed+"\n"), 0o600)
	if r := runCLI(t, []string{"SWITCHYARD_CLIENT_PRIVATE_KEY=@" + keyFile}, "sessions", "--url", ws, "--realm", "secure"); r.code != 0 || !strings.Contains(r.stdout, "dev1") {
		t.Fatalf("private key from a file in the environment: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Wrong credentials and no credentials: the router's ABORT, exit 1.
	for name, args := range map[string][]string{
		"wrong ticket": {"--authid", "alice", "--ticket", "nope"},
		"wrong secret": {"--authid", "bob", "--secret", "nope"},
		"unknown key":  {"--private-key", strings.Repeat("ab", 32)},
	} {
		r := runCLI(t, nil, append([]string{"call", "com.e2e.whoami", "--url", ws, "--realm", "secure"}, args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "wamp.error.authentication_failed") {
			t.Fatalf("%s: exit %d stderr %q", name, r.code, r.stderr)
		}
	}
	if r := runCLI(t, nil, "call", "com.e2e.whoami", "--url", ws, "--realm", "secure"); r.code != 1 || !strings.Contains(r.stderr, "wamp.error.no_auth_method") {
		t.Fatalf("anonymous: exit %d stderr %q", r.code, r.stderr)
	}
	if strings.Contains(p.log.String(), "t1cket") || strings.Contains(p.log.String(), "b0b-secret") {
		t.Fatal("a secret reached the router's log")
	}
}
