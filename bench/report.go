package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is one invocation: a scenario run against one or more targets
// (the baseline relay first, then the router, when comparing).
type Report struct {
	Scenario string    `json:"scenario"`
	Started  time.Time `json:"started"`
	Machine  Machine   `json:"machine"`
	Runs     []*Result `json:"runs"`
	// Ratio compares the router with the baseline, when both ran.
	Ratio *Ratio `json:"ratio,omitempty"`
	// Versus compares the router with a target run alternately with it.
	Versus *Versus `json:"versus,omitempty"`
	// Checks are the targets evaluated by --check.
	Checks []CheckResult `json:"checks,omitempty"`
}

// Machine describes where the figures were taken: on a shared machine
// they only mean something beside this.
type Machine struct {
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	Kernel    string `json:"kernel,omitempty"`
	GoVersion string `json:"go_version"`
	// LoadAverage is the 1-minute load average before the run: other work
	// on the machine shows here.
	LoadAverage float64 `json:"load_average_1m"`
}

// Ratio compares the router's primary figure with the baseline relay's.
type Ratio struct {
	// Metric is what is compared: "calls/s", "events/s", "sessions/s",
	// "bytes/session".
	Metric   string  `json:"metric"`
	Router   float64 `json:"router"`
	Baseline float64 `json:"baseline"`
	// Value is Router / Baseline. For rates, the fraction of the machine's
	// relay rate the router achieves (higher is better); for memory, how
	// many times the relay's footprint the router needs (lower is better).
	Value float64 `json:"router_over_baseline"`
	// CPUPerOp is the router's CPU per operation over the relay's, when
	// both pids were known.
	CPUPerOp float64 `json:"cpu_per_op_router_over_baseline,omitempty"`
}

// Run runs sc against each target in turn and assembles the report. With
// two targets labelled "baseline" and "router" the report carries their
// ratio. It returns the report so far with the first error.
func Run(ctx context.Context, sc Scenario, targets ...Target) (*Report, error) {
	rep := &Report{Scenario: sc.Name(), Started: time.Now(), Machine: machine()}
	for _, t := range targets {
		res, err := sc.Run(ctx, t)
		if res != nil {
			rep.Runs = append(rep.Runs, res)
		}
		if err != nil {
			label := t.Label
			if label == "" {
				label = "router"
			}
			return rep, fmt.Errorf("%s against %s (%s): %w", sc.Name(), label, t.URL, err)
		}
	}
	rep.Ratio = ratio(rep.Run("router"), rep.Run("baseline"))
	return rep, nil
}

// Run returns the run against the labelled target, or nil.
func (rep *Report) Run(label string) *Result {
	for _, r := range rep.Runs {
		if r.Target == label {
			return r
		}
	}
	return nil
}

func ratio(router, baseline *Result) *Ratio {
	if router == nil || baseline == nil {
		return nil
	}
	r := &Ratio{Metric: router.Op + "/s", Router: router.Rate, Baseline: baseline.Rate}
	if router.Idle != nil && baseline.Idle != nil && router.Idle.BytesPerSession > 0 {
		r = &Ratio{Metric: "bytes/session", Router: router.Idle.BytesPerSession, Baseline: baseline.Idle.BytesPerSession}
	}
	if r.Baseline > 0 {
		r.Value = r.Router / r.Baseline
	}
	if router.Process != nil && baseline.Process != nil && baseline.Process.CPUPerOpMicros > 0 {
		r.CPUPerOp = router.Process.CPUPerOpMicros / baseline.Process.CPUPerOpMicros
	}
	return r
}

func machine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			m.LoadAverage, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	return m
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encode report: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("bench: write report: %w", err)
	}
	return nil
}

// metric is one row of the table.
type metric struct {
	label string
	value float64
	text  string // when set, shown instead of value
	kind  byte   // 'n' count, 'r' rate, 'u' microseconds, 'b' bytes, 's' seconds, 'f' fraction
}

func (m metric) format() string {
	if m.text != "" {
		return m.text
	}
	switch m.kind {
	case 'n', 'r':
		return groupDigits(int64(m.value + 0.5))
	case 'u':
		return strconv.FormatFloat(m.value, 'f', 1, 64)
	case 'b':
		return formatBytes(m.value)
	case 's':
		return strconv.FormatFloat(m.value, 'f', 2, 64)
	case 'f':
		return strconv.FormatFloat(m.value, 'f', 2, 64)
	}
	return strconv.FormatFloat(m.value, 'g', 4, 64)
}

// metrics lists r's figures in the order the table shows them.
func (r *Result) metrics() []metric {
	var ms []metric
	add := func(label string, v float64, kind byte) { ms = append(ms, metric{label: label, value: v, kind: kind}) }
	text := func(label, t string) { ms = append(ms, metric{label: label, text: t}) }
	op := strings.TrimSuffix(r.Op, "s")
	switch {
	case r.RPC != nil:
		add("calls answered", float64(r.RPC.Calls), 'n')
		add("calls/s", r.Rate, 'r')
		add("calls failed (ERROR)", float64(r.RPC.Failed), 'n')
		add("calls unanswered", float64(r.RPC.Unanswered), 'n')
	case r.Fanout != nil && r.Slow == nil:
		add("publications", float64(r.Fanout.Published), 'n')
		add("publisher acks/s", r.Fanout.AckRate, 'r')
		add("events delivered", float64(r.Fanout.Delivered), 'n')
		add("events/s", r.Rate, 'r')
		add("events lost", float64(r.Fanout.Lost), 'n')
		add("events out of order", float64(r.Fanout.OutOfOrder), 'n')
		add("subscribers disconnected", float64(r.Fanout.Disconnected), 'n')
		add("publisher stalls", float64(r.Fanout.Stalls), 'n')
	case r.Slow != nil:
		text("stalled subscriber disconnected", yesNo(r.Slow.Disconnected))
		if r.Slow.DetectedAfter > 0 {
			add("on_leave seen after (s)", r.Slow.DetectedAfter, 's')
			add("published before on_leave", float64(r.Slow.PublishedBeforeDetection), 'n')
		}
		if r.Fanout != nil {
			add("publications", float64(r.Fanout.Published), 'n')
			add("events to other subscribers", float64(r.Fanout.Delivered), 'n')
			add("events/s", r.Rate, 'r')
			add("events lost by others", float64(r.Fanout.Lost), 'n')
			add("others disconnected", float64(r.Fanout.Disconnected), 'n')
		}
		if r.Process != nil {
			add("target RSS growth (peak)", float64(r.Slow.RSSGrowth), 'b')
		}
	case r.Idle != nil:
		add("sessions held", float64(r.Idle.Sessions), 'n')
		add("sessions opened/s", r.Idle.ConnectRate, 'r')
		if r.Process != nil {
			add("target RSS before", float64(r.Process.RSSBefore), 'b')
			add("target RSS with sessions", float64(r.Process.RSSAfter), 'b')
			add("target memory per session", r.Idle.BytesPerSession, 'b')
		}
		if len(r.Idle.Curve) > 1 {
			for _, pt := range r.Idle.Curve {
				n := groupDigits(pt.Target)
				add("opened/s, up to "+n, pt.ConnectRate, 'r')
				if pt.RSS > 0 {
					add("memory per session at "+n, pt.BytesPerSession, 'b')
				}
			}
		}
	default:
		add(r.Op, float64(r.Ops), 'n')
		add(r.Op+"/s", r.Rate, 'r')
	}
	if l := r.Latency; l != nil {
		add("latency p50 (µs)", l.P50, 'u')
		add("latency p99 (µs)", l.P99, 'u')
		add("latency p99.9 (µs)", l.P999, 'u')
		add("latency max (µs)", l.Max, 'u')
	}
	if p := r.Process; p != nil && r.Idle == nil {
		add("target CPU per "+op+" (µs)", p.CPUPerOpMicros, 'u')
		add("  of which in the kernel (µs)", p.KernelPerOpMicros, 'u')
		add("target cores busy", p.Cores, 'f')
	} else if p != nil {
		add("target CPU per session (µs)", p.CPUPerOpMicros, 'u')
	}
	add("generator CPU per "+op+" (µs)", r.Generator.CPUPerOpMicros, 'u')
	add("generator cores busy", r.Generator.Cores, 'f')
	add("elapsed (s)", r.Elapsed, 's')
	keys := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		add("error: "+k, float64(r.Errors[k]), 'n')
	}
	return ms
}

// WriteTable writes the report as a table: one column per target, and the
// router/baseline ratio where it means something.
func (rep *Report) WriteTable(w io.Writer) error {
	var buf bytes.Buffer
	if len(rep.Runs) == 0 {
		fmt.Fprintf(&buf, "%s: no result\n", rep.Scenario)
		_, err := w.Write(buf.Bytes())
		return err
	}
	first := rep.Runs[0]
	fmt.Fprintf(&buf, "%s over %s/%s  %s\n", rep.Scenario, first.Transport, first.Serializer, formatParams(first.Params))
	fmt.Fprintf(&buf, "machine: %d CPUs (%s), load %.2f before the run; generator and target share it\n",
		rep.Machine.CPUs, rep.Machine.CPUModel, rep.Machine.LoadAverage)
	listed := map[string]bool{}
	for _, r := range rep.Runs {
		if listed[r.Target] {
			continue // the later rounds of an alternated comparison
		}
		listed[r.Target] = true
		pid := ""
		if r.Process != nil {
			pid = fmt.Sprintf(" (pid %d)", r.Process.PID)
			if len(r.Process.PIDs) > 1 {
				pid = fmt.Sprintf(" (pids %v, CPU and memory summed)", r.Process.PIDs)
			}
		}
		fmt.Fprintf(&buf, "%s: %s%s\n", r.Target, r.URL, pid)
	}
	buf.WriteByte('\n')

	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "\t"
	for _, r := range rep.Runs {
		header += r.column() + "\t"
	}
	router, baseline := rep.Run("router"), rep.Run("baseline")
	compare := router != nil && baseline != nil
	if compare {
		header += "router/baseline\t"
	}
	fmt.Fprintln(tw, header)
	columns := make([]map[string]metric, len(rep.Runs))
	var order []string
	seen := map[string]bool{}
	for i, r := range rep.Runs {
		columns[i] = map[string]metric{}
		for _, m := range r.metrics() {
			columns[i][m.label] = m
			if !seen[m.label] {
				seen[m.label] = true
				order = append(order, m.label)
			}
		}
	}
	width := 0
	for _, label := range order {
		width = max(width, len([]rune(label)))
	}
	for _, label := range order {
		// Right-aligned columns, but labels read better flush left.
		line := label + strings.Repeat(" ", width-len([]rune(label))) + "\t"
		for i := range rep.Runs {
			if m, ok := columns[i][label]; ok {
				line += m.format() + "\t"
			} else {
				line += "-\t"
			}
		}
		if compare {
			line += ratioCell(label, rep.Ratio) + "\t"
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rep.Runs {
		if r.Slow != nil {
			fmt.Fprintf(&buf, "stalled subscriber (%s): %s\n", r.Target, r.Slow.HowClosed)
		}
		if r.Round > 1 {
			continue // the same notes as round 1
		}
		for _, n := range r.Notes {
			fmt.Fprintf(&buf, "note (%s): %s\n", r.Target, n)
		}
	}
	if v := rep.Versus; v != nil {
		fmt.Fprintf(&buf, "\nrouter/versus, medians of %d alternated rounds: %s %.0f / %.0f = %.2f",
			v.Rounds, v.Metric, v.RouterRate, v.VersusRate, v.RateRatio)
		if v.CPUPerOpRatio > 0 {
			fmt.Fprintf(&buf, "; target CPU per operation %.1f / %.1f µs = %.2f (in the kernel: %.1f / %.1f µs)",
				v.RouterCPUPerOp, v.VersusCPUPerOp, v.CPUPerOpRatio, v.RouterKernelPerOp, v.VersusKernelPerOp)
		}
		buf.WriteByte('\n')
	}
	if rep.Ratio != nil {
		fmt.Fprintf(&buf, "\nrouter/baseline %s: %.2f", rep.Ratio.Metric, rep.Ratio.Value)
		if rep.Ratio.CPUPerOp > 0 {
			fmt.Fprintf(&buf, "; CPU per operation: %.2f× the relay's", rep.Ratio.CPUPerOp)
		}
		buf.WriteByte('\n')
	}
	if len(rep.Checks) > 0 {
		buf.WriteByte('\n')
		for _, c := range rep.Checks {
			fmt.Fprintf(&buf, "%-5s %s: %s\n", c.Status, c.Target, c.Detail)
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// column heads the run's column: its target, and its round in an
// alternated comparison.
func (r *Result) column() string {
	if r.Round > 0 {
		return r.Target + " " + strconv.Itoa(r.Round)
	}
	return r.Target
}

// ratioCell shows the ratio on the row of the compared figure.
func ratioCell(label string, r *Ratio) string {
	if r == nil {
		return ""
	}
	switch {
	case label == r.Metric, r.Metric == "bytes/session" && label == "target memory per session":
		return strconv.FormatFloat(r.Value, 'f', 2, 64)
	case strings.HasPrefix(label, "target CPU per") && r.CPUPerOp > 0:
		return strconv.FormatFloat(r.CPUPerOp, 'f', 2, 64)
	}
	return ""
}

func formatParams(p map[string]any) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, p[k])
	}
	return strings.Join(parts, " ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// groupDigits formats n with thousands separators: 1,234,567.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func formatBytes(v float64) string {
	switch {
	case v >= 1<<30:
		return strconv.FormatFloat(v/(1<<30), 'f', 2, 64) + " GiB"
	case v >= 1<<20:
		return strconv.FormatFloat(v/(1<<20), 'f', 1, 64) + " MiB"
	case v >= 1<<10:
		return strconv.FormatFloat(v/(1<<10), 'f', 2, 64) + " KiB"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " B"
}
