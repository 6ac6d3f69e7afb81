// Package scrape reads a Prometheus text exposition into flat samples, for
// tests that check counters move by exact amounts.
package scrape

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Samples maps a series, written name{label="value",...} with labels in
// name order, to its value. Histograms appear as their _count and _sum.
type Samples map[string]float64

// Get returns the value of the series, 0 when absent (a counter that has
// not moved yet).
func (s Samples) Get(series string) float64 { return s[series] }

// Parse reads the text format.
func Parse(r io.Reader) (Samples, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("scrape: parse: %w", err)
	}
	out := Samples{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			labels := series(m.GetLabel())
			switch {
			case m.Counter != nil:
				out[name+labels] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[name+labels] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[name+"_count"+labels] = float64(m.Histogram.GetSampleCount())
				out[name+"_sum"+labels] = m.Histogram.GetSampleSum()
			case m.Untyped != nil:
				out[name+labels] = m.Untyped.GetValue()
			}
		}
	}
	return out, nil
}

func series(labels []*dto.LabelPair) string {
	if len(labels) == 0 {
		return ""
	}
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = l.GetName() + `="` + l.GetValue() + `"`
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

// Fetch GETs url and parses the answer.
func Fetch(c *http.Client, url string) (Samples, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape: %s: %s", url, resp.Status)
	}
	return Parse(resp.Body)
}
