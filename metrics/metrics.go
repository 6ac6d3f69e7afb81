// Package metrics exposes the router's counters and gauges to Prometheus.
//
// Nothing here runs on the message path. The router counts with atomic adds
// into fixed arrays (router.Stats) and keeps the rest as state it has anyway
// (sessions, subscriptions, registrations); a scrape reads all of it through
// one collector and turns it into constant metrics. So the cost of metrics
// is paid by the scraper, once per scrape, never per message.
//
// Every family is prefixed switchyard_; docs/OPERATIONS.md lists them. Other
// features add their own collectors through Registry.Registerer.
package metrics

import (
	"net/http"
	"runtime"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/transport"
)

// Options configures a Registry.
type Options struct {
	// Router is the router whose state is exposed (required).
	Router *router.Router
	// Meters count bytes, by transport label ("websocket", "rawsocket").
	Meters map[string]*transport.Meter
	// Version is reported by switchyard_build_info.
	Version string
}

// Reload outcomes counted by switchyard_config_reloads_total.
const (
	ReloadSuccess = "success"
	ReloadFailure = "failure"
)

// Registry is the Prometheus registry of one router process.
type Registry struct {
	reg     *prometheus.Registry
	reloads *prometheus.CounterVec
}

// New returns a registry with the router's collector, the Go runtime and
// process collectors, switchyard_build_info and
// switchyard_config_reloads_total.
func New(o Options) *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newRouterCollector(o.Router, o.Meters),
	)
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchyard_build_info",
		Help: "Always 1; the labels say which build is running.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(o.Version, runtime.Version()).Set(1)
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchyard_config_reloads_total",
		Help: "Configuration reloads, by outcome (a failed one changed nothing).",
	}, []string{"outcome"})
	// Both series exist from the start, so that rate() and alerts see a
	// first failure as a change from zero.
	reloads.WithLabelValues(ReloadSuccess)
	reloads.WithLabelValues(ReloadFailure)
	reg.MustRegister(build, reloads)
	return &Registry{reg: reg, reloads: reloads}
}

// Registerer is where other features (HTTP bridge, cluster) register
// their collectors, so that /metrics serves them too.
func (r *Registry) Registerer() prometheus.Registerer { return r.reg }

// Gatherer reads the registry (for tests and other exporters).
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// CountReload counts a configuration reload with outcome ReloadSuccess or
// ReloadFailure.
func (r *Registry) CountReload(outcome string) { r.reloads.WithLabelValues(outcome).Inc() }

// Handler serves the registry in the Prometheus text format, or in
// OpenMetrics when the scraper asks for it.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{EnableOpenMetrics: true, Registry: r.reg})
}

// routerCollector reads a router at scrape time.
type routerCollector struct {
	r      *router.Router
	meters []namedMeter
}

type namedMeter struct {
	transport string
	m         *transport.Meter
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("switchyard_"+name, help, labels, nil)
}

var (
	descSessions = desc("sessions",
		"Sessions joined now.", "realm", "transport", "serializer")
	descSessionsOpened = desc("sessions_opened_total",
		"Sessions that joined (WELCOME sent).", "realm", "transport")
	descReceived = desc("messages_received_total",
		"WAMP messages received from clients, by message type.", "type")
	descSent = desc("messages_sent_total",
		"WAMP messages queued to clients, by message type.", "type")
	descBytesReceived = desc("bytes_received_total",
		"Bytes of WAMP frames received (RawSocket headers included, WebSocket framing not).", "transport")
	descBytesSent = desc("bytes_sent_total",
		"Bytes of WAMP frames sent (RawSocket headers included, WebSocket framing not).", "transport")
	descErrors = desc("errors_sent_total",
		"ERROR messages sent to clients, by error URI (past 256 distinct URIs, as \"other\").", "uri")
	descViolations = desc("protocol_violations_total",
		"Sessions ended for a protocol violation.")
	descSlow = desc("slow_consumer_disconnects_total",
		"Sessions disconnected because their outbound queue was full.")
	descOversize = desc("oversize_messages_dropped_total",
		"Messages not delivered because they exceed what the receiver accepts.")
	descHandshakeTimeouts = desc("handshake_timeouts_total",
		"Connections closed for sending no HELLO within the handshake timeout.")
	descInvalidOptions = desc("invalid_options_total",
		"Requests refused for an option value the router cannot honour.")
	descAuth = desc("auth_total",
		"Authentication attempts, by method and outcome.", "realm", "method", "outcome")
	descInFlight = desc("calls_in_flight",
		"Calls routed to a callee and not yet answered.", "realm")
	descCallDuration = desc("call_duration_seconds",
		"Time from a routed CALL in to its final RESULT or ERROR out.", "realm")
	descSubscriptions = desc("subscriptions",
		"Subscriptions (one per topic and match policy, however many subscribers).", "realm")
	descRegistrations = desc("registrations",
		"Registrations (one per procedure and match policy, however many callees).", "realm")
)

func newRouterCollector(r *router.Router, meters map[string]*transport.Meter) *routerCollector {
	c := &routerCollector{r: r}
	for name, m := range meters {
		c.meters = append(c.meters, namedMeter{name, m})
	}
	sort.Slice(c.meters, func(i, j int) bool { return c.meters[i].transport < c.meters[j].transport })
	return c
}

func (c *routerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descSessions, descSessionsOpened, descReceived, descSent, descBytesReceived, descBytesSent,
		descErrors, descViolations, descSlow, descOversize, descHandshakeTimeouts, descInvalidOptions, descAuth,
		descInFlight, descCallDuration, descSubscriptions, descRegistrations,
	} {
		ch <- d
	}
}

func (c *routerCollector) Collect(ch chan<- prometheus.Metric) {
	// Label values come from clients (an ERROR's URI, a realm name). The
	// serializers hand the router valid UTF-8 only, but should a value
	// ever be one Prometheus refuses, it drops that series, not the
	// process: the Must* constructors would panic in the scrape.
	send := func(m prometheus.Metric, err error) {
		if err == nil {
			ch <- m
		}
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		send(prometheus.NewConstMetric(d, prometheus.CounterValue, float64(v), labels...))
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		send(prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	st := c.r.Stats()
	for typ, n := range st.Received.ByType() {
		counter(descReceived, n, typ)
	}
	for typ, n := range st.Sent.ByType() {
		counter(descSent, n, typ)
	}
	for uri, n := range st.ErrorsSent() {
		counter(descErrors, n, uri)
	}
	counter(descViolations, st.ProtocolErrors.Load())
	counter(descSlow, st.SlowConsumers.Load())
	counter(descOversize, st.OversizeDropped.Load())
	counter(descHandshakeTimeouts, st.HandshakeTimeout.Load())
	counter(descInvalidOptions, st.InvalidOptions.Load())
	for _, m := range c.meters {
		counter(descBytesReceived, m.m.BytesReceived(), m.transport)
		counter(descBytesSent, m.m.BytesSent(), m.transport)
	}
	for _, rs := range c.r.Snapshot() {
		realm := string(rs.Name)
		for k, n := range rs.Sessions {
			gauge(descSessions, float64(n), realm, k.Transport, k.Serializer)
		}
		for tr, n := range rs.SessionsOpened {
			counter(descSessionsOpened, n, realm, tr)
		}
		for k, n := range rs.Auth {
			counter(descAuth, n, realm, k.Method, k.Outcome)
		}
		gauge(descInFlight, float64(rs.CallsInFlight), realm)
		gauge(descSubscriptions, float64(rs.Subscriptions), realm)
		gauge(descRegistrations, float64(rs.Registrations), realm)
		buckets := make(map[float64]uint64, len(router.CallDurationBuckets))
		for i, le := range router.CallDurationBuckets {
			buckets[le] = rs.CallDuration.Cumulative[i]
		}
		send(prometheus.NewConstHistogram(descCallDuration, rs.CallDuration.Count, rs.CallDuration.Sum, buckets, realm))
	}
}
