package bench

import (
	"fmt"
	"maps"
	"time"
)

// Result is one scenario run against one target.
type Result struct {
	Scenario string `json:"scenario"`
	Target   string `json:"target"`
	// Round numbers the runs of an alternated comparison (Alternate).
	Round      int            `json:"round,omitempty"`
	URL        string         `json:"url"`
	Transport  string         `json:"transport"`
	Serializer string         `json:"serializer"`
	Params     map[string]any `json:"params"`
	// Elapsed is the measured phase, in seconds.
	Elapsed float64 `json:"elapsed_s"`
	// Op names what Ops counts: "calls", "events", "sessions".
	Op   string  `json:"op"`
	Ops  int64   `json:"ops"`
	Rate float64 `json:"ops_per_s"`
	// Latency: call round trip (rpc), publish to delivery (fanout, slow),
	// connect to closed (connect).
	Latency *Latency `json:"latency,omitempty"`
	// Errors counts failed operations by WAMP error URI, or by what went
	// wrong for failures that are not WAMP errors.
	Errors map[string]int64 `json:"errors,omitempty"`

	RPC    *RPCStats    `json:"rpc,omitempty"`
	Fanout *FanoutStats `json:"fanout,omitempty"`
	Idle   *IdleStats   `json:"idle,omitempty"`
	Slow   *SlowStats   `json:"slow,omitempty"`

	// Process is the target process (when its pid was given); Generator is
	// this process.
	Process   *ProcessStats `json:"process,omitempty"`
	Generator ProcessStats  `json:"generator"`

	Notes []string `json:"notes,omitempty"`
}

// RPCStats are the rpc scenario's own figures.
type RPCStats struct {
	Calls      int64 `json:"calls"`      // answered with RESULT
	Failed     int64 `json:"failed"`     // answered with ERROR
	Unanswered int64 `json:"unanswered"` // no answer before the end
}

// FanoutStats are the fanout (and slow) scenario's figures.
type FanoutStats struct {
	Published int64   `json:"published"`
	Acks      int64   `json:"acks"`
	AckRate   float64 `json:"acks_per_s"`
	// Delivered counts events received by subscribers, Expected the events
	// they should have received (published × subscribers that stayed).
	Delivered int64 `json:"delivered"`
	Expected  int64 `json:"expected"`
	// Lost counts events that subscribers which stayed connected never
	// received, from each publisher's sequence numbers.
	Lost int64 `json:"lost"`
	// OutOfOrder counts events that arrived after a later one of the same
	// publisher.
	OutOfOrder int64 `json:"out_of_order"`
	// Disconnected counts subscribers whose session or connection ended
	// before the scenario ended it.
	Disconnected int `json:"disconnected"`
	// Stalls counts the times a publisher waited more than a second for a
	// publication to reach every subscriber and went on without it.
	Stalls int64 `json:"stalls"`
}

// IdleStats are the idle scenario's figures.
type IdleStats struct {
	Sessions int64 `json:"sessions"`
	// BytesPerSession is the target's RSS growth divided by Sessions.
	BytesPerSession float64 `json:"bytes_per_session,omitempty"`
	ConnectRate     float64 `json:"connect_per_s"`
	// Curve is the memory read on the way up, at 10,000, 50,000 and
	// 100,000 sessions (those below the run's count) and at its count.
	Curve []IdlePoint `json:"curve,omitempty"`
}

// IdlePoint is the target's memory with Sessions idle sessions open.
type IdlePoint struct {
	// Target is the checkpoint: sessions opened so far; Sessions of them
	// were open at the reading.
	Target   int64 `json:"target_sessions"`
	Sessions int64 `json:"sessions"`
	// ConnectRate is the opening rate of the sessions since the previous
	// point.
	ConnectRate float64 `json:"connect_per_s"`
	// RSS is the target's resident memory, in bytes (0 without a pid).
	RSS int64 `json:"rss_bytes,omitempty"`
	// BytesPerSession is RSS growth since the start divided by Sessions.
	BytesPerSession float64 `json:"bytes_per_session,omitempty"`
}

// SlowStats are the slow-consumer scenario's figures.
type SlowStats struct {
	// Disconnected: the stalled subscriber's transport was closed by the
	// router.
	Disconnected bool `json:"stalled_disconnected"`
	// DetectedAfter is how long after the start the router announced the
	// stalled session's departure (wamp.session.on_leave), in seconds; 0
	// when not seen.
	DetectedAfter float64 `json:"detected_after_s,omitempty"`
	// PublishedBeforeDetection counts publications until then.
	PublishedBeforeDetection int64 `json:"published_before_detection,omitempty"`
	// HowClosed says how the stalled connection ended, as read afterwards.
	HowClosed string `json:"how_closed"`
	// RSSGrowth is the target's peak RSS minus its RSS at the start (bytes;
	// needs a pid).
	RSSGrowth int64 `json:"rss_growth_bytes,omitempty"`
}

func newResult(scenario string, t Target, ep endpoint, ser, op string, params map[string]any) *Result {
	label := t.Label
	if label == "" {
		label = "router"
	}
	return &Result{
		Scenario:   scenario,
		Target:     label,
		URL:        t.URL,
		Transport:  ep.Transport(),
		Serializer: ser,
		Params:     params,
		Op:         op,
		Errors:     map[string]int64{},
	}
}

// setRate fills Elapsed, Ops and Rate.
func (r *Result) setRate(ops int64, elapsed time.Duration) {
	r.Ops = ops
	r.Elapsed = elapsed.Seconds()
	if elapsed > 0 {
		r.Rate = float64(ops) / elapsed.Seconds()
	}
}

func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *Result) addErrors(m map[string]int64) {
	for k, v := range m {
		r.Errors[k] += v
	}
}

// ErrorCount is the number of failed operations of every kind.
func (r *Result) ErrorCount() int64 {
	var n int64
	for v := range maps.Values(r.Errors) {
		n += v
	}
	return n
}
