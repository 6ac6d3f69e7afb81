// Package browser drives the router's console page in a real headless
// Chromium (Debian's chromium, through the DevTools protocol with
// chromedp), against the real switchyard binary on loopback ports.
//
// Chromium missing is a skip, unless SWITCHYARD_REQUIRE_INTEROP=1 (as
// scripts/test.sh and CI set it): then it is a failure.
package browser

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchyard/switchyard/client"
)

const (
	// envRequire=1 turns "Chromium (or autobahn-python) not installed"
	// from a skip into a failure.
	envRequire = "SWITCHYARD_REQUIRE_INTEROP"
	// envScreenshots names a directory to keep the screenshots in (by
	// default each goes to its test's temp dir, which go test removes).
	envScreenshots = "SWITCHYARD_BROWSER_SCREENSHOTS"
)

var (
	routerBinary string
	moduleRoot   string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchyard-browser")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	routerBinary = filepath.Join(dir, "switchyard")
	_, file, _, _ := runtime.Caller(0)
	moduleRoot = filepath.Join(filepath.Dir(file), "..", "..")
	build := exec.Command("go", "build", "-o", routerBinary, "./cmd/switchyard")
	build.Dir = moduleRoot
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building switchyard:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// require turns a missing third-party program into a skip, or into a
// failure under SWITCHYARD_REQUIRE_INTEROP=1.
func require(t *testing.T, what, missing string) {
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

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	require(t, "Chromium", "no chromium on PATH")
	return ""
}

// syncBuffer collects a process's output for failure reports.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// routerProc is a running switchyard with one WebSocket listener.
type routerProc struct {
	addr string // host:port of the WebSocket listener
	log  *syncBuffer
}

func (r *routerProc) httpURL(path string) string { return "http://" + r.addr + path }
func (r *routerProc) wsURL() string              { return "ws://" + r.addr + "/" }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startRouter runs the router with a WebSocket listener on a free loopback
// port (RawSocket off) and extra flags; it stops at the test's end.
func startRouter(t *testing.T, extra ...string) *routerProc {
	t.Helper()
	p := &routerProc{addr: freeAddr(t), log: &syncBuffer{}}
	args := append([]string{"serve", "--ws", p.addr, "--rawsocket", "", "--log-level", "debug", "--auth-rate-limit=false", "--admin", ""}, extra...)
	cmd := exec.Command(routerBinary, args...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("router exited with %v", err)
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("router did not exit after SIGTERM")
		}
		if t.Failed() {
			t.Logf("router log:\n%s", p.log.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			return p
		}
		select {
		case err := <-exited:
			t.Fatalf("router exited at start (%v); log:\n%s", err, p.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("router never listened on %s; log:\n%s", p.addr, p.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// goClient joins realm on r with the project's Go client.
func goClient(t *testing.T, r *routerProc, cfg client.Config) *client.Client {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	c, err := client.Connect(ctx, r.wsURL(), cfg)
	if err != nil {
		t.Fatalf("Go client: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Close(cctx)
	})
	return c
}

func httpGet(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.String()
}

// ---------------------------------------------------------------- the browser

// page is one tab of a headless Chromium. Every message the page writes
// to the console at level error, every uncaught exception and every
// browser-log error (a blocked resource, a CSP violation) fails the test.
type page struct {
	t   *testing.T
	ctx context.Context
	r   *routerProc

	mu       sync.Mutex
	problems []string
}

// newPage starts Chromium (1280×800). At the test's end it saves a
// screenshot in the test's temp dir, logs its path, and reports console
// errors.
func newPage(t *testing.T, r *routerProc) *page {
	t.Helper()
	exe := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox, // Chromium runs as root here
		chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	tctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	p := &page{t: t, ctx: tctx, r: r}
	// Start the browser now, so that the console stream sees the first page.
	if err := chromedp.Do(tctx); err != nil {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
		t.Fatalf("starting Chromium (%s): %v", exe, err)
	}
	messages := chromedp.Console(tctx)
	watched := make(chan struct{})
	go func() { // owned by the page: ends with tctx
		defer close(watched)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				p.mu.Lock()
				p.problems = append(p.problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		p.screenshot()
		p.mu.Lock()
		problems := p.problems
		p.mu.Unlock()
		for _, pr := range problems {
			t.Errorf("browser console: %s", pr)
		}
		if t.Failed() {
			if log, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.getElementById("log") ? document.getElementById("log").innerText : ""`)); err == nil {
				t.Logf("page message log (newest first):\n%s", log)
			}
		}
		cancelTimeout()
		cancelTab()
		cancelAlloc()
		<-watched
	})
	return p
}

func (p *page) screenshot() { p.screenshotAs("") }

// screenshotAs saves a screenshot named after the test and suffix.
func (p *page) screenshotAs(suffix string) {
	buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot failed: %v", err)
		return
	}
	dir := os.Getenv(envScreenshots)
	if dir == "" {
		dir = p.t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Logf("screenshot: %v", err)
		return
	}
	path := filepath.Join(dir, strings.ReplaceAll(p.t.Name(), "/", "_")+suffix+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		p.t.Logf("screenshot: %v", err)
		return
	}
	p.t.Logf("screenshot: %s", path)
}

func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// open loads the console with the query string q ("?realm=...").
func (p *page) open(q string) {
	p.t.Helper()
	p.do("open the console", chromedp.Navigate(p.r.httpURL("/"+q)), chromedp.WaitReady(chromedp.CSS(`body[data-state]`)))
}

// waitConnected waits until the page has joined, and returns its session ID.
func (p *page) waitConnected() string {
	p.t.Helper()
	p.waitFor(`document.body.dataset.state === "connected" && !!document.body.dataset.sessionId`, "the page to join")
	id, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body.dataset.sessionId`))
	if err != nil {
		p.t.Fatal(err)
	}
	return id
}

// waitFor polls a JavaScript predicate for up to 15 s.
func (p *page) waitFor(predicate, what string) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingTimeout(15*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		p.t.Fatalf("waiting for %s: %v (page state: %s)", what, err, p.text("#status"))
	}
}

// waitText waits until the element's text contains want.
func (p *page) waitText(sel, want string) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf(`(document.querySelector(%q)?.textContent || "").includes(%q)`, sel, want), fmt.Sprintf("%s to show %q (it shows %q)", sel, want, p.text(sel)))
}

func (p *page) text(sel string) string {
	s, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q)?.textContent || ""`, sel)))
	return s
}

// fill sets form fields by id; values of checkboxes are "true"/"false".
func (p *page) fill(fields ...string) {
	p.t.Helper()
	for i := 0; i+1 < len(fields); i += 2 {
		id, v := fields[i], fields[i+1]
		js := fmt.Sprintf(`(() => { const el = document.getElementById(%q);
			if (el.type === "checkbox") el.checked = %q === "true"; else el.value = %q;
			el.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`, id, v, v)
		if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](js)); err != nil {
			p.t.Fatalf("fill #%s: %v", id, err)
		}
	}
}

func (p *page) click(id string) {
	p.t.Helper()
	p.do("click #"+id, chromedp.WaitEnabled(chromedp.ID(id)), chromedp.Click(chromedp.ID(id)))
}
