package router

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the process's CPU time so far. The benchmarks report it
// per operation beside ns/op: on a shared machine wall time swings with
// everyone else's load, CPU time much less.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time since start per op as unit.
func reportCPU(b *testing.B, start time.Duration, ops int, unit string) {
	b.ReportMetric(float64(processCPU()-start)/float64(ops), unit)
}
