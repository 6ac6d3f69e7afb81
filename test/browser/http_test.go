package browser

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/console"
)

// These tests need no browser: they check what the real binary answers
// over plain HTTP on its WebSocket port.

// TestConsoleHTTP: the page, its assets and switchyard.js come with the
// strict policy; other paths are 404; WebSocket still works on the port.
func TestConsoleHTTP(t *testing.T) {
	r := startRouter(t)
	resp, body := httpGet(t, r.httpURL("/"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<title>Switchyard console</title>") {
		t.Fatalf("GET /: %d %.200q", resp.StatusCode, body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self' ws: wss:", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || csp != console.ContentSecurityPolicy {
		t.Errorf("CSP %q", csp)
	}
	resp, body = httpGet(t, r.httpURL("/switchyard.js"))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") ||
		!strings.Contains(body, "export function connect") || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("GET /switchyard.js: %d %q", resp.StatusCode, resp.Header)
	}
	for _, path := range []string{"/console.js", "/console.css"} {
		if resp, _ := httpGet(t, r.httpURL(path)); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	for _, path := range []string{"/nope", "/index.html", "/favicon.ico", "/switchyard.js/"} {
		if resp, _ := httpGet(t, r.httpURL(path)); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	goClient(t, r, client.Config{}) // WebSocket on the same port
}

// TestConsoleOff: --console=false, or console: false in the config file,
// turns the console off (404) and leaves WebSocket on; an explicit flag
// wins over the file.
func TestConsoleOff(t *testing.T) {
	off := filepath.Join(t.TempDir(), "off.yaml")
	doc := "console: false\nrealms:\n  - name: realm1\n    anonymous: {role: anon}\n    roles:\n      - name: anon\n        permissions: [{uri: '', match: prefix, allow: [call, register, publish, subscribe]}]\n"
	if err := os.WriteFile(off, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		on   bool
	}{
		{"flag", []string{"--console=false"}, false},
		{"env", nil, false},
		{"config", []string{"--config", off}, false},
		{"flag wins over config", []string{"--config", off, "--console=true"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "env" {
				t.Setenv("SWITCHYARD_CONSOLE", "false")
			}
			r := startRouter(t, tc.args...)
			for _, path := range []string{"/", "/switchyard.js"} {
				resp, body := httpGet(t, r.httpURL(path))
				served := resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Security-Policy") != ""
				if served != tc.on {
					t.Errorf("GET %s: %d %.80q; console on: %v", path, resp.StatusCode, body, tc.on)
				}
				if !tc.on && resp.StatusCode != http.StatusNotFound {
					t.Errorf("GET %s with the console off: %d", path, resp.StatusCode)
				}
			}
			goClient(t, r, client.Config{})
		})
	}
}
