package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestHTTPBridgeMetrics: the HTTP bridge's request counters are on the
// admin listener's /metrics, by endpoint and status, moving by exactly the
// requests made.
func TestHTTPBridgeMetrics(t *testing.T) {
	addrs := freePorts(t, 2)
	wsAddr, adminAddr := addrs[0], addrs[1]
	startRouterWith(t, []string{wsAddr, adminAddr}, "serve", "--ws", wsAddr, "--rawsocket", "", "--admin", adminAddr, "--http-api")
	post := func(path, body string) int {
		t.Helper()
		resp, err := httpClient.Post("http://"+wsAddr+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const published = `switchyard_http_bridge_requests_total{code="200",endpoint="publish"}`
	const missing = `switchyard_http_bridge_requests_total{code="404",endpoint="call"}`
	before := scrapeT(t, adminAddr)
	for range 3 {
		if code := post("/api/realm1/publish", `{"topic":"com.example.tick","args":[1]}`); code != http.StatusOK {
			t.Fatalf("publish answered %d", code)
		}
	}
	if code := post("/api/realm1/call", `{"procedure":"com.example.nobody"}`); code != http.StatusNotFound {
		t.Fatalf("call to no procedure answered %d", code)
	}
	after := scrapeT(t, adminAddr)
	if d := after.Get(published) - before.Get(published); d != 3 {
		t.Errorf("%s moved by %v, want 3", published, d)
	}
	if d := after.Get(missing) - before.Get(missing); d != 1 {
		t.Errorf("%s moved by %v, want 1", missing, d)
	}
}
