package browser

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const debianPython = "/usr/bin/python3"

// startPythonCallee runs testdata/callee.py (autobahn-python, asyncio) on
// r's realm1 and waits until it has registered its procedures.
func startPythonCallee(t *testing.T, r *routerProc) {
	t.Helper()
	missing := ""
	if _, err := os.Stat(debianPython); err != nil {
		missing = debianPython + " does not exist"
	} else if b, err := exec.Command(debianPython, "-c", "import autobahn, txaio").CombinedOutput(); err != nil {
		missing = fmt.Sprintf("%s cannot import autobahn: %v: %s", debianPython, err, strings.TrimSpace(string(b)))
	}
	require(t, "autobahn-python", missing)
	script, _ := filepath.Abs(filepath.Join("testdata", "callee.py"))
	cmd := exec.Command(debianPython, script, r.wsURL(), "realm1")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	dieWithTest(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() { // ends when the process closes its stdout
		sc := bufio.NewScanner(out)
		said := false
		for sc.Scan() {
			if !said && strings.TrimSpace(sc.Text()) == "READY" {
				said = true
				ready <- true
			}
		}
		if !said {
			ready <- false
		}
	}()
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("autobahn-python callee stderr:\n%s", stderr.String())
		}
	})
	select {
	case ok := <-ready:
		if !ok {
			<-exited // its stderr is complete
			t.Fatalf("the autobahn-python callee exited before READY:\n%s", stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the autobahn-python callee never said READY:\n%s", stderr.String())
	}
}

// TestCallPythonCallee: the page calls procedures that autobahn-python
// registered, with a plain result and with progressive results, and the
// realm view names the Python session's registrations.
func TestCallPythonCallee(t *testing.T) {
	r := startRouter(t)
	p := newPage(t, r)
	startPythonCallee(t, r)
	p.open("?realm=realm1&connect=1")
	p.waitConnected()
	p.waitText("#meta-registrations", "com.example.py.add")

	p.fill("call-procedure", "com.example.py.add", "call-args", "[2, 3]")
	p.click("call")
	p.waitText("#call-result", "result args=[5]")

	p.fill("call-procedure", "com.example.py.countdown", "call-args", "[3]", "call-progress", "true")
	p.click("call")
	p.waitText("#call-result", `result args=["liftoff"]`)
	for _, n := range []string{"3", "2", "1"} {
		p.waitText("#call-progress-list", "progress args=["+n+"]")
	}

	// autobahn-python's own error for a wrong argument count reaches the page.
	p.fill("call-procedure", "com.example.py.add", "call-args", "[1]", "call-progress", "false")
	p.click("call")
	p.waitText("#call-result", "call failed: wamp.error.")
}
