package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ),
// which Linux fixes at 100 on every architecture it exports to user space.
const clockTick = 10 * time.Millisecond

// procSample is one reading of a process's CPU time and resident memory.
type procSample struct {
	cpu    time.Duration // user + system, all threads, dead ones included
	kernel time.Duration // system alone
	rss    int64         // bytes
}

// readProc reads /proc/PID/stat and /proc/PID/status.
func readProc(pid int) (procSample, error) {
	var s procSample
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return s, fmt.Errorf("bench: read CPU time of pid %d: %w", pid, err)
	}
	// The command name (field 2) may contain spaces and parentheses: the
	// fields we want are counted from the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("bench: /proc/%d/stat: unexpected format", pid)
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return s, fmt.Errorf("bench: /proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return s, fmt.Errorf("bench: /proc/%d/stat: %w", pid, err)
	}
	s.cpu = time.Duration(utime+stime) * clockTick
	s.kernel = time.Duration(stime) * clockTick
	s.rss, err = readRSS(pid)
	return s, err
}

// readRSS returns VmRSS from /proc/PID/status, in bytes.
func readRSS(pid int) (int64, error) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("bench: read memory of pid %d: %w", pid, err)
	}
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) < 1 {
			break
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: /proc/%d/status VmRSS: %w", pid, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("bench: /proc/%d/status has no VmRSS", pid)
}

// readProcs sums readProc over several processes (a cluster's nodes).
func readProcs(pids []int) (procSample, error) {
	var sum procSample
	for _, pid := range pids {
		s, err := readProc(pid)
		if err != nil {
			return sum, err
		}
		sum.cpu += s.cpu
		sum.kernel += s.kernel
		sum.rss += s.rss
	}
	return sum, nil
}

// readRSSs sums readRSS over several processes.
func readRSSs(pids []int) (int64, error) {
	var sum int64
	for _, pid := range pids {
		rss, err := readRSS(pid)
		if err != nil {
			return 0, err
		}
		sum += rss
	}
	return sum, nil
}

// selfCPU is this process's CPU time (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ProcessStats describes a process over a scenario's measured phase.
type ProcessStats struct {
	PID int `json:"pid,omitempty"`
	// PIDs are all the processes summed, when there are several (the
	// nodes of a cluster); PID is the first.
	PIDs []int `json:"pids,omitempty"`
	// CPU is user + system time over the phase; CPUPerOp divides it by the
	// scenario's operations (calls, delivered events, sessions).
	CPUSeconds     float64 `json:"cpu_s"`
	CPUPerOpMicros float64 `json:"cpu_per_op_us"`
	// Kernel is the system share of CPU (stime): the system calls and the
	// network stack work they run. It bounds what any program can save by
	// its own code: a server that spends K µs per operation in the kernel
	// cannot get below K however little it does itself. Target process
	// only.
	KernelSeconds     float64 `json:"kernel_s,omitempty"`
	KernelPerOpMicros float64 `json:"kernel_per_op_us,omitempty"`
	// Cores is the average number of cores busy (CPU time / wall time).
	Cores float64 `json:"cores"`
	// Resident memory (VmRSS) at the start and end of the phase, and the
	// highest value sampled during it (bytes; 0 when not sampled).
	RSSBefore int64 `json:"rss_before_bytes,omitempty"`
	RSSAfter  int64 `json:"rss_after_bytes,omitempty"`
	RSSPeak   int64 `json:"rss_peak_bytes,omitempty"`
}

// measure brackets a scenario's measured phase: wall time, the target
// process's CPU and memory (when its pid is known) and this process's CPU.
type measure struct {
	pids   []int // summed; none: the target is not measured
	start  time.Time
	target procSample
	self   time.Duration
	err    error // reading the target failed at the start

	// The RSS sampler, when running.
	stop    context.CancelFunc
	wg      sync.WaitGroup
	peakRSS int64 // written by the sampler, read after wg.Wait
}

// startMeasure takes the "before" readings. With sampleRSS and pids, a
// goroutine samples the target's RSS (summed over pids) every 50 ms until
// finish, to report its peak.
func startMeasure(pids []int, sampleRSS bool) *measure {
	m := &measure{pids: pids, start: time.Now(), self: selfCPU()}
	if len(pids) > 0 {
		m.target, m.err = readProcs(pids)
		m.peakRSS = m.target.rss
		if sampleRSS && m.err == nil {
			ctx, cancel := context.WithCancel(context.Background())
			m.stop = cancel
			m.wg.Add(1)
			go m.sample(ctx)
		}
	}
	return m
}

func (m *measure) sample(ctx context.Context) {
	defer m.wg.Done()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if rss, err := readRSSs(m.pids); err == nil && rss > m.peakRSS {
				m.peakRSS = rss
			}
		}
	}
}

// finish takes the "after" readings and fills res.Process and
// res.Generator, dividing CPU time by ops.
func (m *measure) finish(res *Result, ops int64) {
	if m.stop != nil {
		m.stop()
		m.wg.Wait()
	}
	wall := time.Since(m.start)
	perOp := func(cpu time.Duration) float64 {
		if ops <= 0 {
			return 0
		}
		return float64(cpu) / float64(time.Microsecond) / float64(ops)
	}
	self := selfCPU() - m.self
	res.Generator = ProcessStats{
		PID:            os.Getpid(),
		CPUSeconds:     self.Seconds(),
		CPUPerOpMicros: perOp(self),
		Cores:          self.Seconds() / wall.Seconds(),
	}
	if len(m.pids) == 0 {
		return
	}
	if m.err != nil {
		res.note("cannot read process %v: %v", m.pids, m.err)
		return
	}
	after, err := readProcs(m.pids)
	if err != nil {
		res.note("cannot read process %v: %v", m.pids, err)
		return
	}
	cpu, kernel := after.cpu-m.target.cpu, after.kernel-m.target.kernel
	var all []int
	if len(m.pids) > 1 {
		all = m.pids
	}
	res.Process = &ProcessStats{
		PID:               m.pids[0],
		PIDs:              all,
		CPUSeconds:        cpu.Seconds(),
		CPUPerOpMicros:    perOp(cpu),
		KernelSeconds:     kernel.Seconds(),
		KernelPerOpMicros: perOp(kernel),
		Cores:             cpu.Seconds() / wall.Seconds(),
		RSSBefore:         m.target.rss,
		RSSAfter:          after.rss,
		RSSPeak:           max(m.peakRSS, after.rss),
	}
}

// raiseFileLimit makes sure this process may open need file descriptors,
// raising the soft limit up to the hard one. Go raises it at start already;
// this turns a failure halfway through a 10,000-session run into a clear
// error up front.
func raiseFileLimit(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("bench: read the file descriptor limit: %w", err)
	}
	if lim.Cur >= uint64(need) {
		return nil
	}
	if lim.Max < uint64(need) {
		// Raising the hard limit works for root (CAP_SYS_RESOURCE), up to
		// fs.nr_open.
		raised := lim
		raised.Max, raised.Cur = uint64(need), uint64(need)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			return fmt.Errorf("bench: %d sessions need about %d file descriptors, the hard limit is %d (raise it: ulimit -Hn): %w", need, need, lim.Max, err)
		}
		return nil
	}
	lim.Cur = uint64(need)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("bench: raise the file descriptor limit to %d: %w", need, err)
	}
	return nil
}

// hardFileLimit is this process's hard limit on open files (0 if it cannot
// be read).
func hardFileLimit() int64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return int64(min(lim.Max, 1<<40))
}

// addCPU adds cpu, spent on ops operations over wall, to the figures: the
// generator's worker processes.
func (p *ProcessStats) addCPU(cpu time.Duration, ops int64, wall time.Duration) {
	p.CPUSeconds += cpu.Seconds()
	if ops > 0 {
		p.CPUPerOpMicros = p.CPUSeconds * 1e6 / float64(ops)
	}
	if wall > 0 {
		p.Cores = p.CPUSeconds / wall.Seconds()
	}
}
