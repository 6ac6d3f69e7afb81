// Package leakcheck fails a test binary that leaves goroutines behind: every
// transport goroutine has an owner that must have ended it.
package leakcheck

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// Main runs the tests, then waits up to settle for the goroutine count to
// fall back to what it was before them; if it does not, it prints every
// goroutine's stack and exits non-zero. Call it from TestMain.
func Main(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	// The fuzzing engine keeps goroutines of its own (signal handling,
	// worker communication); the check is for ordinary test runs.
	if code == 0 && !fuzzing() {
		if err := Check(before, 5*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// Check waits up to settle for runtime.NumGoroutine() to drop to at most
// want, and describes the leak if it does not.
func Check(want int, settle time.Duration) error {
	deadline := time.Now().Add(settle)
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return nil
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("leakcheck: %d goroutines still running after the tests (%d before):\n%s", n, want, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}
