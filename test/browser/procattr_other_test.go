//go:build !linux

package browser

import "os/exec"

func dieWithTest(*exec.Cmd) {}
