package bridge

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the bridge's Prometheus collectors. They are not registered
// anywhere by the bridge: the process's metrics endpoint takes them from
// Collectors or Register.
type metrics struct {
	requests   *prometheus.CounterVec // endpoint, code
	deliveries *prometheus.CounterVec // hook (topic), outcome: delivered|retried
	giveUps    *prometheus.CounterVec // hook, reason
}

func newMetrics() *metrics {
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "switchyard", Subsystem: "http_bridge", Name: "requests_total",
			Help: "HTTP bridge requests answered, by endpoint (publish, call, webhook, other) and HTTP status code.",
		}, []string{"endpoint", "code"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "switchyard", Subsystem: "http_bridge", Name: "webhook_deliveries_total",
			Help: "Outgoing webhook attempts, by hook (its topic) and outcome (delivered, retried).",
		}, []string{"hook", "outcome"}),
		giveUps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "switchyard", Subsystem: "http_bridge", Name: "webhook_give_ups_total",
			Help: "Events an outgoing webhook gave up on, by hook (its topic) and reason (queue_full, attempts_exhausted, rejected, shutdown).",
		}, []string{"hook", "reason"}),
	}
}

// Collectors returns the bridge's Prometheus collectors.
func (b *Bridge) Collectors() []prometheus.Collector {
	return []prometheus.Collector{b.metrics.requests, b.metrics.deliveries, b.metrics.giveUps}
}

// RegisterMetrics registers the bridge's collectors with reg.
func (b *Bridge) RegisterMetrics(reg prometheus.Registerer) error {
	for _, c := range b.Collectors() {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
