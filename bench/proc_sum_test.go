package bench

import (
	"os"
	"testing"
	"time"
)

// A cluster's figures sum over its nodes: measuring the same process twice
// over reports twice its CPU time and memory.
func TestMeasureSumsSeveralPIDs(t *testing.T) {
	self := os.Getpid()
	one := startMeasure([]int{self}, false)
	two := startMeasure([]int{self, self}, false)
	// Burn 0.2s of CPU (not of wall time: the machine is shared), so there
	// is some to count.
	start, deadline := selfCPU(), time.Now().Add(10*time.Second)
	for selfCPU()-start < 200*time.Millisecond && time.Now().Before(deadline) {
	}
	var r1, r2 Result
	one.finish(&r1, 1)
	two.finish(&r2, 1)
	if r1.Process == nil || r2.Process == nil {
		t.Fatalf("no process figures: %v / %v", r1.Notes, r2.Notes)
	}
	if r1.Process.CPUSeconds < 0.05 {
		t.Fatalf("measured %.3fs of CPU after burning 0.2s", r1.Process.CPUSeconds)
	}
	// Readings a few clock ticks apart: allow two ticks per reading.
	if d := r2.Process.CPUSeconds - 2*r1.Process.CPUSeconds; d < -0.04 || d > 0.04 {
		t.Fatalf("two pids: %.3fs of CPU, want twice one pid's %.3fs", r2.Process.CPUSeconds, r1.Process.CPUSeconds)
	}
	if r2.Process.RSSAfter < r1.Process.RSSAfter*3/2 {
		t.Fatalf("two pids: RSS %d, want about twice %d", r2.Process.RSSAfter, r1.Process.RSSAfter)
	}
	if len(r2.Process.PIDs) != 2 || r2.Process.PID != self || len(r1.Process.PIDs) != 0 {
		t.Fatalf("pids reported: %v / %v", r2.Process.PIDs, r1.Process.PIDs)
	}
}
