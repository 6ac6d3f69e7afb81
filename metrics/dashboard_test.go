package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Every switchyard_ series the Grafana dashboard queries is one this
// package exports, and every family exported is on the dashboard.
func TestDashboardUsesExportedFamilies(t *testing.T) {
	b, err := os.ReadFile("../docs/grafana/switchyard.json")
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{"switchyard_build_info": true, "switchyard_config_reloads_total": true}
	ch := make(chan *prometheus.Desc, 64)
	newRouterCollector(nil, nil).Describe(ch)
	close(ch)
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		m := fq.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		exported[m[1]] = true
	}
	used := map[string]bool{}
	for _, name := range regexp.MustCompile(`switchyard_[a-z_]+`).FindAllString(string(b), -1) {
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if base := strings.TrimSuffix(name, suffix); base != name && exported[base] {
				name = base
			}
		}
		used[name] = true
		if !exported[name] {
			t.Errorf("the dashboard queries %s, which is not exported", name)
		}
	}
	for name := range exported {
		if !used[name] {
			t.Errorf("%s is exported but not on the dashboard", name)
		}
	}
}
