package bench

import (
	"os"
	"syscall"
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

// The kernel's share is reported apart: system calls count there, a loop
// that only computes does not.
func TestMeasureSplitsOutTheKernel(t *testing.T) {
	self := os.Getpid()
	burn := func(work func()) *ProcessStats {
		m := startMeasure([]int{self}, false)
		start, deadline := selfCPU(), time.Now().Add(10*time.Second)
		for selfCPU()-start < 300*time.Millisecond && time.Now().Before(deadline) {
			work()
		}
		var r Result
		m.finish(&r, 1)
		if r.Process == nil {
			t.Fatalf("no process figures: %v", r.Notes)
		}
		return r.Process
	}
	// Mapping populated anonymous memory is the kernel zeroing pages:
	// little else runs, even under the race detector.
	syscalls := burn(func() {
		for range 10 {
			mem, err := syscall.Mmap(-1, 0, 1<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE|syscall.MAP_POPULATE)
			if err != nil {
				t.Fatal(err)
			}
			if err := syscall.Munmap(mem); err != nil {
				t.Fatal(err)
			}
		}
	})
	sink := 1
	computing := burn(func() {
		for i := range 10_000_000 {
			sink = sink*31 + i
		}
	})
	t.Logf("system calls: %.3fs of %.3fs in the kernel; computing: %.3fs of %.3fs (sink %d)",
		syscalls.KernelSeconds, syscalls.CPUSeconds, computing.KernelSeconds, computing.CPUSeconds, sink&1)
	if syscalls.KernelSeconds < syscalls.CPUSeconds/2 || syscalls.KernelSeconds > syscalls.CPUSeconds {
		t.Errorf("system calls: %.3fs in the kernel of %.3fs, want most of it", syscalls.KernelSeconds, syscalls.CPUSeconds)
	}
	if d := syscalls.KernelPerOpMicros - syscalls.KernelSeconds*1e6; d < -1 || d > 1 {
		t.Errorf("kernel per op %.1f µs, want %.1f for one op", syscalls.KernelPerOpMicros, syscalls.KernelSeconds*1e6)
	}
	if computing.CPUSeconds < 0.1 || computing.KernelSeconds > computing.CPUSeconds/2 {
		t.Errorf("computing: %.3fs in the kernel of %.3fs, want little of it", computing.KernelSeconds, computing.CPUSeconds)
	}
}
