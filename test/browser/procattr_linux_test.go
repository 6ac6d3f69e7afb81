package browser

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes cmd get SIGKILL if the test binary dies first (a
// go test timeout skips cleanups), so no router or client outlives it.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
