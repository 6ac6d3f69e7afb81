package bench

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Versus compares the router with a second target run alternately with it
// (Alternate): the other router of a side-by-side measurement, or another
// listener of the same router. Figures are medians over the rounds.
type Versus struct {
	Rounds int `json:"rounds"`
	// Metric names what Rate counts: "sessions/s", "calls/s", "events/s".
	Metric string `json:"metric"`
	// RouterRate and VersusRate are the median rates; RateRatio is
	// RouterRate / VersusRate.
	RouterRate float64 `json:"router_rate"`
	VersusRate float64 `json:"versus_rate"`
	RateRatio  float64 `json:"rate_router_over_versus"`
	// RouterCPUPerOp and VersusCPUPerOp are the median process CPU per
	// operation (µs), when both pids were given; CPUPerOpRatio is
	// RouterCPUPerOp / VersusCPUPerOp.
	RouterCPUPerOp float64 `json:"router_cpu_per_op_us,omitempty"`
	VersusCPUPerOp float64 `json:"versus_cpu_per_op_us,omitempty"`
	CPUPerOpRatio  float64 `json:"cpu_per_op_router_over_versus,omitempty"`
	// RouterKernelPerOp and VersusKernelPerOp are the medians of the
	// kernel's share of those figures (µs).
	RouterKernelPerOp float64 `json:"router_kernel_per_op_us,omitempty"`
	VersusKernelPerOp float64 `json:"versus_kernel_per_op_us,omitempty"`
}

// Alternate runs sc against router and versus in turn, rounds times each
// (router, versus, router, versus, ...), and compares their medians. On a
// shared machine the speed drifts by more than the differences worth
// measuring; alternating puts the drift on both targets alike, and the
// median leaves out a round that a burst of other work spoiled. Results
// are labelled "router" and "versus" and numbered by round. It returns the
// report so far with the first error.
func Alternate(ctx context.Context, sc Scenario, router, versus Target, rounds int) (*Report, error) {
	if rounds < 1 {
		return nil, fmt.Errorf("bench: %d rounds: at least one is needed", rounds)
	}
	router.Label, versus.Label = "router", "versus"
	rep := &Report{Scenario: sc.Name(), Started: time.Now(), Machine: machine()}
	for round := 1; round <= rounds; round++ {
		for _, t := range []Target{router, versus} {
			res, err := sc.Run(ctx, t)
			if res != nil {
				res.Round = round
				rep.Runs = append(rep.Runs, res)
			}
			if err != nil {
				return rep, fmt.Errorf("%s against %s (%s), round %d: %w", sc.Name(), t.Label, t.URL, round, err)
			}
		}
	}
	rep.Versus = compareRuns(rep.runsOf("router"), rep.runsOf("versus"))
	return rep, nil
}

// runsOf returns every run against the labelled target, in order.
func (rep *Report) runsOf(label string) []*Result {
	var rs []*Result
	for _, r := range rep.Runs {
		if r.Target == label {
			rs = append(rs, r)
		}
	}
	return rs
}

// compareRuns summarizes two equally long lists of runs.
func compareRuns(router, versus []*Result) *Versus {
	if len(router) == 0 || len(router) != len(versus) {
		return nil
	}
	v := &Versus{Rounds: len(router), Metric: router[0].Op + "/s"}
	rate := func(r *Result) (float64, bool) { return r.Rate, true }
	cpu := func(r *Result) (float64, bool) {
		if r.Process == nil {
			return 0, false
		}
		return r.Process.CPUPerOpMicros, true
	}
	v.RouterRate, _ = median(router, rate)
	v.VersusRate, _ = median(versus, rate)
	if v.VersusRate > 0 {
		v.RateRatio = v.RouterRate / v.VersusRate
	}
	rc, okR := median(router, cpu)
	vc, okV := median(versus, cpu)
	if okR && okV && vc > 0 {
		v.RouterCPUPerOp, v.VersusCPUPerOp, v.CPUPerOpRatio = rc, vc, rc/vc
		kernel := func(r *Result) (float64, bool) { return r.Process.KernelPerOpMicros, true }
		v.RouterKernelPerOp, _ = median(router, kernel)
		v.VersusKernelPerOp, _ = median(versus, kernel)
	}
	return v
}

// median returns the median of f over runs; false if f has no value for
// one of them. An even count takes the mean of the middle two.
func median(runs []*Result, f func(*Result) (float64, bool)) (float64, bool) {
	xs := make([]float64, 0, len(runs))
	for _, r := range runs {
		x, ok := f(r)
		if !ok {
			return 0, false
		}
		xs = append(xs, x)
	}
	if len(xs) == 0 {
		return 0, false
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2], true
	}
	return (xs[n/2-1] + xs[n/2]) / 2, true
}
