// Package leakcheck fails a test binary whose goroutines outlive its tests.
// Every package's TestMain calls Main, so a goroutine without an owner shows
// up as a failing test run instead of a slow leak in production.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs the tests, then waits up to five seconds for every goroutine
// started by this module's code to end. It exits with a failure, printing
// the stacks, if any remain.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main for a TestMain with setup and teardown of its own: it runs
// the tests, checks for leaked goroutines and returns the exit code.
func Run(m *testing.M) int {
	code := m.Run()
	if code == 0 {
		if leaked := wait(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "leakcheck: goroutines outlived the tests:\n\n%s\n", leaked)
			code = 1
		}
	}
	return code
}

// wait returns the stacks of the module's goroutines still running after d.
func wait(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		leaked := ours()
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ours lists the goroutines, other than the caller's, whose stack runs
// through this module's code.
func ours() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var leaked []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 { // the current goroutine
			continue
		}
		if strings.Contains(g, "github.com/switchyard/switchyard/") && !strings.Contains(g, "leakcheck.") {
			leaked = append(leaked, g)
		}
	}
	return leaked
}
