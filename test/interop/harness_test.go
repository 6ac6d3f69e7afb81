package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables understood by the interop tests.
const (
	// envRequire=1 turns "third-party client not installed" from a skip into a failure.
	envRequire = "SWITCHYARD_REQUIRE_INTEROP"
	// envBinary names a prebuilt router binary to test instead of building ./cmd/switchyard.
	envBinary = "SWITCHYARD_INTEROP_BINARY"
	// envRace=0 builds the router without -race even when the tests run with -race.
	envRace = "SWITCHYARD_INTEROP_RACE"
	// envLogDir names a directory to write the router logs (debug level) into.
	envLogDir = "SWITCHYARD_INTEROP_LOGDIR"
)

const (
	debianPython     = "/usr/bin/python3"
	readyTimeout     = 20 * time.Second // router listening
	clientTimeout    = 30 * time.Second // each client's own hard timeout
	clientKillAfter  = 45 * time.Second // the harness kills a client after this
	shutdownDeadline = 15 * time.Second // SIGTERM to exit, hard limit (then SIGQUIT for a goroutine dump)
	shutdownExpected = 8 * time.Second  // SIGTERM to exit with every client answering GOODBYE at once
)

var (
	moduleRoot string // directory holding go.mod
	testDir    string // test/interop
	routerBin  string // the router under test
	buildErr   error  // why routerBin could not be built
)

// locate finds test/interop and the module root from this file's location (falling back to the
// working directory, which go test sets to the package directory).
func locate() error {
	dir := ""
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir = filepath.Dir(file)
	}
	if dir == "" || !fileExists(filepath.Join(dir, "interop_test.go")) {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		dir = wd
	}
	testDir = dir
	for d := dir; ; d = filepath.Dir(d) {
		if fileExists(filepath.Join(d, "go.mod")) {
			moduleRoot = d
			return nil
		}
		if filepath.Dir(d) == d {
			return fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// buildRouter builds ./cmd/switchyard into dir (with -race when the tests run with -race).
func buildRouter(dir string) (string, error) {
	if bin := os.Getenv(envBinary); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return "", err
		}
		if !fileExists(abs) {
			return "", fmt.Errorf("%s=%s: no such file", envBinary, bin)
		}
		return abs, nil
	}
	goBin := "go"
	if root, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		if b := filepath.Join(strings.TrimSpace(string(root)), "bin", "go"); fileExists(b) {
			goBin = b
		}
	}
	out := filepath.Join(dir, "switchyard")
	args := []string{"build"}
	if raceEnabled && os.Getenv(envRace) != "0" {
		args = append(args, "-race")
	}
	args = append(args, "-o", out, "./cmd/switchyard")
	cmd := exec.Command(goBin, args...)
	cmd.Dir = moduleRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s (in %s): %v\n%s", strings.Join(args, " "), moduleRoot, err, b)
	}
	return out, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// ---------------------------------------------------------------- dependencies

var (
	depsOnce  sync.Once
	jsMissing string // why autobahn-js cannot run ("" when it can)
	pyMissing string // why autobahn-python cannot run
)

func checkDeps() {
	depsOnce.Do(func() {
		jsDir := filepath.Join(testDir, "js")
		if _, err := exec.LookPath("node"); err != nil {
			jsMissing = "node is not on PATH"
		} else if !fileExists(filepath.Join(jsDir, "node_modules", "autobahn", "package.json")) {
			jsMissing = "autobahn-js is not installed in " + filepath.Join(jsDir, "node_modules")
		}
		if !fileExists(debianPython) {
			pyMissing = debianPython + " does not exist"
		} else {
			// (nacl: cryptosign; argon2: scram and its argon2id-13 KDF.)
			cmd := exec.Command(debianPython, "-c", "import autobahn, twisted, txaio, msgpack, cbor2, nacl, argon2")
			cmd.Env = pythonEnv()
			if b, err := cmd.CombinedOutput(); err != nil {
				pyMissing = fmt.Sprintf("%s cannot import autobahn/twisted/msgpack/cbor2/nacl/argon2: %v: %s",
					debianPython, err, strings.TrimSpace(string(b)))
			}
		}
	})
}

func requireDep(t *testing.T, what, missing string) {
	t.Helper()
	if missing == "" {
		return
	}
	msg := fmt.Sprintf("%s unavailable: %s (run scripts/install-test-deps.sh)", what, missing)
	if os.Getenv(envRequire) == "1" {
		t.Fatalf("%s; %s=1 so this is a failure, not a skip", msg, envRequire)
	}
	t.Skip(msg)
}

func requireJS(t *testing.T) {
	t.Helper()
	checkDeps()
	requireDep(t, "autobahn-js", jsMissing)
}

func requirePython(t *testing.T) {
	t.Helper()
	checkDeps()
	requireDep(t, "autobahn-python", pyMissing)
}

func pythonEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PYTHONPATH=") || strings.HasPrefix(kv, "PYTHONHOME=") ||
			strings.HasPrefix(kv, "SY_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PYTHONIOENCODING=utf-8")
}

func nodeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SY_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// ---------------------------------------------------------------- output capture

// lineBuffer collects a process's output, safe for concurrent writers, and signals when a line
// equal to "READY" arrives.
type lineBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	ready   chan struct{}
	isReady bool
	limit   int // keep at most this many bytes (the newest); 0 means no limit
	dropped int
}

func newLineBuffer(limit int) *lineBuffer {
	return &lineBuffer{ready: make(chan struct{}), limit: limit}
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.limit > 0 && b.buf.Len() > b.limit+b.limit/4 {
		drop := b.buf.Len() - b.limit
		b.buf.Next(drop)
		b.dropped += drop
	}
	if !b.isReady {
		b.partial = append(b.partial, p...)
		for {
			i := bytes.IndexByte(b.partial, '\n')
			if i < 0 {
				break
			}
			line := strings.TrimSpace(string(b.partial[:i]))
			b.partial = b.partial[i+1:]
			if line == "READY" {
				b.isReady = true
				close(b.ready)
				b.partial = nil
				break
			}
		}
	}
	return len(p), nil
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped > 0 {
		return fmt.Sprintf("[... %d earlier bytes dropped ...]\n%s", b.dropped, b.buf.String())
	}
	return b.buf.String()
}

// ---------------------------------------------------------------- the router

type routerProc struct {
	cmd      *exec.Cmd
	wsAddr   string
	rsAddr   string
	unixPath string
	out      *lineBuffer
	done     chan struct{}
	waitErr  error
}

// freeAddrs returns n distinct free loopback TCP addresses.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var ls []net.Listener
	var addrs []string
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return addrs
}

// startRouter starts `switchyard serve` (plus extraArgs) on free loopback ports and a Unix
// socket and waits until all three accept connections.
func startRouter(t *testing.T, extraArgs ...string) *routerProc {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("cannot build the router: %v", buildErr)
	}
	addrs := freeAddrs(t, 2)
	// Unix socket paths are limited to ~108 bytes: keep it short, not under t.TempDir().
	sockDir, err := os.MkdirTemp("", "sy-interop-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	r := &routerProc{
		wsAddr:   addrs[0],
		rsAddr:   addrs[1],
		unixPath: filepath.Join(sockDir, "router.sock"),
		out:      newLineBuffer(8 << 20),
		done:     make(chan struct{}),
	}
	r.cmd = exec.Command(routerBin, "serve",
		"--ws", r.wsAddr,
		"--rawsocket", r.rsAddr,
		"--unix", r.unixPath,
		"--realm", "realm1",
		"--log-level", "debug",
	)
	r.cmd.Args = append(r.cmd.Args, extraArgs...)
	r.cmd.Stdout = r.out
	r.cmd.Stderr = r.out
	// SWITCHYARD_ADMIN= turns the admin listener off: the interop tests do
	// not use it, and many routers run at once.
	r.cmd.Env = append(os.Environ(), "GORACE=halt_on_error=0", "SWITCHYARD_ADMIN=")
	r.cmd.WaitDelay = 5 * time.Second
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", routerBin, err)
	}
	t.Logf("router pid %d: ws://%s/ rs://%s unix:%s", r.cmd.Process.Pid, r.wsAddr, r.rsAddr, r.unixPath)
	go func() {
		r.waitErr = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			r.cmd.Process.Kill()
			<-r.done
		}
	})

	deadline := time.Now().Add(readyTimeout)
	for _, target := range [][2]string{{"tcp", r.wsAddr}, {"tcp", r.rsAddr}, {"unix", r.unixPath}} {
		for {
			c, err := net.DialTimeout(target[0], target[1], time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-r.done:
				t.Fatalf("router exited before listening on %s %s: %v\n--- router output ---\n%s",
					target[0], target[1], r.waitErr, r.out)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("router not accepting on %s %s after %v: %v\n--- router output ---\n%s",
					target[0], target[1], readyTimeout, err, r.out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return r
}

// stop sends SIGTERM and checks that the router exits with status 0 in time.
func (r *routerProc) stop(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
		t.Fatalf("router already exited before SIGTERM: %v", r.waitErr)
	default:
	}
	start := time.Now()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-r.done:
	case <-time.After(shutdownDeadline):
		r.cmd.Process.Signal(syscall.SIGQUIT) // Go runtime: dump all goroutines, then exit
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			r.cmd.Process.Kill()
			<-r.done
		}
		t.Fatalf("router did not exit within %v of SIGTERM\n--- router output (tail) ---\n%s",
			shutdownDeadline, tail(r.out.String(), 400))
	}
	if r.waitErr != nil {
		t.Errorf("router exited with %v after SIGTERM (want status 0)\n--- router output (tail) ---\n%s",
			r.waitErr, tail(r.out.String(), 100))
	} else if took := time.Since(start); took > shutdownExpected {
		t.Errorf("router exited 0 but took %v after SIGTERM (want under %v)\n--- router output (tail) ---\n%s",
			took.Round(time.Millisecond), shutdownExpected, tail(r.out.String(), 60))
	} else {
		t.Logf("router exited 0, %v after SIGTERM", took.Round(time.Millisecond))
	}
}

// checkLog fails the test if the router log shows a panic or a data race.
func (r *routerProc) checkLog(t *testing.T) {
	t.Helper()
	log := r.out.String()
	for _, bad := range []string{"WARNING: DATA RACE", "panic:", "fatal error:"} {
		if i := strings.Index(log, bad); i >= 0 {
			end := i + 8000
			if end > len(log) {
				end = len(log)
			}
			t.Errorf("router output contains %q:\n%s", bad, log[i:end])
		}
	}
}

// saveLog writes the router's whole output to $SWITCHYARD_INTEROP_LOGDIR/name, if that is set.
func (r *routerProc) saveLog(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv(envLogDir)
	if dir == "" {
		return
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(r.out.String()), 0o644); err != nil {
		t.Errorf("writing the router log: %v", err)
		return
	}
	t.Logf("router log written to %s", p)
}

var sessionIDRe = regexp.MustCompile(`session (\d{3,})`)

// relevantLog returns the router log lines mentioning any session the client output names, and
// the last lines of the log.
func (r *routerProc) relevantLog(clientOut string) string {
	log := r.out.String()
	var ids []string
	for _, m := range sessionIDRe.FindAllStringSubmatch(clientOut, -1) {
		ids = append(ids, m[1])
	}
	var sb strings.Builder
	if len(ids) > 0 {
		n := 0
		for _, line := range strings.Split(log, "\n") {
			for _, id := range ids {
				if strings.Contains(line, id) {
					if n < 300 {
						sb.WriteString(line)
						sb.WriteByte('\n')
					}
					n++
					break
				}
			}
		}
		if n > 0 {
			hdr := fmt.Sprintf("--- router log lines naming sessions %s (%d) ---\n", strings.Join(ids, ", "), n)
			return hdr + sb.String() + "--- router log (last 40 lines) ---\n" + tail(log, 40)
		}
	}
	return "--- router log (last 120 lines) ---\n" + tail(log, 120)
}

func tail(s string, lines int) string {
	s = strings.TrimRight(s, "\n")
	idx := len(s)
	for i := 0; i < lines; i++ {
		j := strings.LastIndexByte(s[:idx], '\n')
		if j < 0 {
			return s
		}
		idx = j
	}
	return s[idx+1:]
}

// ---------------------------------------------------------------- clients

// peer is one third-party client configuration.
type peer struct {
	lang       string // "js", "py-asyncio", "py-twisted"
	transport  string // "websocket", "rawsocket" (TCP), "unix" (RawSocket over a Unix socket)
	serializer string // "json", "msgpack", "cbor"
}

func (p peer) String() string { return p.lang + "/" + p.transport + "/" + p.serializer }

func (p peer) require(t *testing.T) {
	t.Helper()
	if p.lang == "js" {
		requireJS(t)
	} else {
		requirePython(t)
	}
}

// command builds the client process for role; extra are additional --flag value pairs.
func (p peer) command(ctx context.Context, r *routerProc, role, prefix string, extra ...string) *exec.Cmd {
	timeout := strconv.Itoa(int(clientTimeout / time.Second))
	var cmd *exec.Cmd
	switch p.lang {
	case "js":
		args := []string{"client.js", "--role", role, "--realm", "realm1", "--prefix", prefix, "--timeout", timeout,
			"--serializer", p.serializer}
		switch p.transport {
		case "websocket":
			args = append(args, "--transport", "websocket", "--url", "ws://"+r.wsAddr+"/")
		case "rawsocket":
			host, port, _ := net.SplitHostPort(r.rsAddr)
			args = append(args, "--transport", "rawsocket", "--host", host, "--port", port)
		case "unix":
			args = append(args, "--transport", "rawsocket", "--path", r.unixPath)
		}
		cmd = exec.CommandContext(ctx, "node", append(args, extra...)...)
		cmd.Dir = filepath.Join(testDir, "js")
		cmd.Env = nodeEnv()
	default:
		framework := strings.TrimPrefix(p.lang, "py-")
		args := []string{"-u", "wampclient.py", "--framework", framework, "--role", role, "--realm", "realm1",
			"--prefix", prefix, "--timeout", timeout, "--serializer", p.serializer}
		switch p.transport {
		case "websocket":
			args = append(args, "--transport", "websocket", "--url", "ws://"+r.wsAddr+"/")
		case "rawsocket":
			args = append(args, "--transport", "rawsocket", "--url", "rs://"+r.rsAddr)
		case "unix":
			args = append(args, "--transport", "rawsocket", "--unix", r.unixPath)
		}
		cmd = exec.CommandContext(ctx, debianPython, append(args, extra...)...)
		cmd.Dir = filepath.Join(testDir, "python")
		cmd.Env = pythonEnv()
	}
	cmd.WaitDelay = 3 * time.Second
	return cmd
}

// client is a running client process.
type client struct {
	peer peer
	role string
	cmd  *exec.Cmd
	out  *lineBuffer
	done chan struct{}
	err  error
	dur  time.Duration
}

func startClient(t *testing.T, ctx context.Context, r *routerProc, p peer, role, prefix string, extra ...string) *client {
	t.Helper()
	c := &client{peer: p, role: role, out: newLineBuffer(1 << 20), done: make(chan struct{})}
	c.cmd = p.command(ctx, r, role, prefix, extra...)
	c.cmd.Stdout = c.out
	c.cmd.Stderr = c.out
	start := time.Now()
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting %s %s: %v", p, role, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		c.dur = time.Since(start)
		close(c.done)
	}()
	return c
}

// waitReady waits for the client to print READY; it fails the test if the client exits first.
func (c *client) waitReady(t *testing.T, r *routerProc) {
	t.Helper()
	select {
	case <-c.out.ready:
	case <-c.done:
		t.Fatalf("%s %s exited (%v) before READY\n--- client output ---\n%s%s",
			c.peer, c.role, c.err, c.out, r.relevantLog(c.out.String()))
	case <-time.After(clientKillAfter):
		t.Fatalf("%s %s not READY after %v\n--- client output ---\n%s%s",
			c.peer, c.role, clientKillAfter, c.out, r.relevantLog(c.out.String()))
	}
}

// wait waits for the client to exit and reports a failure (with its output and the router log)
// unless it exited 0. It returns whether it passed.
func (c *client) wait(t *testing.T, r *routerProc) bool {
	t.Helper()
	<-c.done
	out := c.out.String()
	if c.err != nil {
		var exitErr *exec.ExitError
		why := c.err.Error()
		if errors.As(c.err, &exitErr) && exitErr.ExitCode() == -1 {
			why += fmt.Sprintf(" (killed by the harness after %v)", c.dur.Round(time.Millisecond))
		}
		t.Errorf("%s %s failed: %s\n%s\n--- client output ---\n%s%s",
			c.peer, c.role, why, failLine(out), out, r.relevantLog(out))
		return false
	}
	t.Logf("%s %s (%v): %s", c.peer, c.role, c.dur.Round(time.Millisecond), passLine(out))
	return true
}

// logAborted waits for a client the harness has cancelled and logs its output.
func (c *client) logAborted(t *testing.T) {
	t.Helper()
	<-c.done
	t.Logf("%s %s was stopped after other clients failed (%v); its output:\n%s", c.peer, c.role, c.err, c.out)
}

func failLine(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "FAIL: "); i >= 0 {
			return line[i:]
		}
	}
	return "(no FAIL line)"
}

func passLine(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "PASS: "); i >= 0 {
			return line[i:]
		}
	}
	return "(no PASS line)"
}

// runClient runs one client to completion.
func runClient(t *testing.T, r *routerProc, p peer, role, prefix string, extra ...string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientKillAfter)
	defer cancel()
	return startClient(t, ctx, r, p, role, prefix, extra...).wait(t, r)
}

var prefixSeq struct {
	sync.Mutex
	n int
}

// uriPrefix returns a fresh URI prefix (strict URI components only) for one test.
func uriPrefix(parts ...string) string {
	prefixSeq.Lock()
	prefixSeq.n++
	n := prefixSeq.n
	prefixSeq.Unlock()
	clean := regexp.MustCompile(`[^a-z0-9_]+`)
	var comps []string
	for _, p := range parts {
		comps = append(comps, strings.Trim(clean.ReplaceAllString(strings.ToLower(p), "_"), "_"))
	}
	return fmt.Sprintf("itest.%s.n%d_%d", strings.Join(comps, "_"), os.Getpid(), n)
}
