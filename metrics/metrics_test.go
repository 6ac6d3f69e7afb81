package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/internal/leakcheck"
	"github.com/switchyard/switchyard/internal/scrape"
	"github.com/switchyard/switchyard/metrics"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func newRouter(t *testing.T) (*router.Router, func(serializer.Serializer) *client.Client) {
	t.Helper()
	r, err := router.New(router.Options{Realms: []router.RealmConfig{{Name: "realm1"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 64)
	n := 0
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer scancel()
		r.Shutdown(sctx)
		cancel()
		for ; n > 0; n-- {
			<-done
		}
	})
	join := func(ser serializer.Serializer) *client.Client {
		cl, srv := transport.Pipe(ser, transport.Options{})
		n++
		go func() { r.ServePeer(ctx, srv); done <- struct{}{} }()
		jctx, jcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer jcancel()
		c, err := client.Join(jctx, cl, client.Config{Realm: "realm1"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return r, join
}

func TestScrapeShowsEveryFamilyAndExactMoves(t *testing.T) {
	r, join := newRouter(t)
	meter := &transport.Meter{}
	reg := metrics.New(metrics.Options{Router: r, Version: "v9.9.9", Meters: map[string]*transport.Meter{"rawsocket": meter}})
	srv := httptest.NewServer(reg.Handler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	callee, caller := join(serializer.CBOR), join(serializer.JSON)
	if _, err := callee.Register(ctx, "com.example.echo", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Arguments: inv.Arguments}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	before, err := scrape.Fetch(srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	const calls = 7
	for i := 0; i < calls; i++ {
		if _, err := caller.Call(ctx, "com.example.echo", spec.List{int64(i)}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	meter.Received(100)
	reg.CountReload(metrics.ReloadFailure)
	after, err := scrape.Fetch(srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	moves := map[string]float64{
		`switchyard_messages_received_total{type="CALL"}`:                   calls,
		`switchyard_messages_received_total{type="YIELD"}`:                  calls,
		`switchyard_messages_sent_total{type="INVOCATION"}`:                 calls,
		`switchyard_messages_sent_total{type="RESULT"}`:                     calls,
		`switchyard_call_duration_seconds_count{realm="realm1"}`:            calls,
		`switchyard_bytes_received_total{transport="rawsocket"}`:            100,
		`switchyard_config_reloads_total{outcome="failure"}`:                1,
		`switchyard_config_reloads_total{outcome="success"}`:                0,
		`switchyard_sessions_opened_total{realm="realm1",transport="pipe"}`: 0,
	}
	for series, d := range moves {
		if _, ok := after[series]; !ok {
			t.Errorf("%s is missing", series)
			continue
		}
		if got := after.Get(series) - before.Get(series); got != d {
			t.Errorf("%s moved by %v, want %v", series, got, d)
		}
	}
	levels := map[string]float64{
		`switchyard_sessions{realm="realm1",serializer="cbor",transport="pipe"}`:     1,
		`switchyard_sessions{realm="realm1",serializer="json",transport="pipe"}`:     1,
		`switchyard_sessions_opened_total{realm="realm1",transport="pipe"}`:          2,
		`switchyard_auth_total{method="anonymous",outcome="success",realm="realm1"}`: 2,
		`switchyard_registrations{realm="realm1"}`:                                   1,
		`switchyard_subscriptions{realm="realm1"}`:                                   0,
		`switchyard_calls_in_flight{realm="realm1"}`:                                 0,
		`switchyard_protocol_violations_total`:                                       0,
		`switchyard_slow_consumer_disconnects_total`:                                 0,
	}
	for series, v := range levels {
		if got, ok := after[series]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, v)
		}
	}
	var build, goCollector, process bool
	for series := range after {
		build = build || strings.HasPrefix(series, `switchyard_build_info{goversion="go`) && strings.Contains(series, `version="v9.9.9"`)
		goCollector = goCollector || strings.HasPrefix(series, "go_goroutines")
		process = process || strings.HasPrefix(series, "process_")
	}
	if !build || !goCollector || !process {
		t.Errorf("build_info %v, Go collector %v, process collector %v", build, goCollector, process)
	}
}

func TestOpenMetricsOnRequest(t *testing.T) {
	r, _ := newRouter(t)
	srv := httptest.NewServer(metrics.New(metrics.Options{Router: r}).Handler())
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Fatalf("Content-Type %q, want OpenMetrics", ct)
	}
}

// The families follow Prometheus' naming conventions.
func TestMetricsLint(t *testing.T) {
	r, _ := newRouter(t)
	fams, err := metrics.New(metrics.Options{Router: r}).Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(fams).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "switchyard_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}
