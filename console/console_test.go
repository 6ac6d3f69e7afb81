package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

// TestRoutes: each asset is served with its type and the security headers;
// only switchyard.js may be imported by other origins.
func TestRoutes(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		path, ctype, contains string
		cors                  bool
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/console.js">`, false},
		{"/console.css", "text/css; charset=utf-8", "body[data-state=\"connected\"]", false},
		{"/console.js", "text/javascript; charset=utf-8", `from "/switchyard.js"`, false},
		{"/switchyard.js", "text/javascript; charset=utf-8", "export function connect", true},
	} {
		resp := get(t, h, http.MethodGet, tc.path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", tc.path, resp.StatusCode)
		}
		if got := resp.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
			t.Errorf("GET %s: CSP %q", tc.path, got)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", tc.path)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); (got == "*") != tc.cors {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q, cors %v", tc.path, got, tc.cors)
		}
		if !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		head := get(t, h, http.MethodHead, tc.path)
		if head.StatusCode != http.StatusOK || head.ContentLength != int64(len(body)) {
			t.Errorf("HEAD %s: %d, length %d, want %d", tc.path, head.StatusCode, head.ContentLength, len(body))
		}
		if b, _ := io.ReadAll(head.Body); len(b) != 0 {
			t.Errorf("HEAD %s sent a body", tc.path)
		}
	}
}

// TestOtherPaths: "/" is exact; other paths and methods are refused.
func TestOtherPaths(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/index.html", "/favicon.ico", "/assets/index.html", "/switchyard.js/x", "/api/"} {
		if resp := get(t, h, http.MethodGet, p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	if resp := get(t, h, http.MethodPost, "/"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", resp.StatusCode)
	}
}

// TestPolicyIsStrict: the policy allows no inline code, and the page has
// none that it would block (inline scripts, style attributes or elements,
// event-handler attributes, or references to other hosts).
func TestPolicyIsStrict(t *testing.T) {
	for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "*;", "http:", "https:"} {
		if strings.Contains(ContentSecurityPolicy, bad) {
			t.Errorf("policy allows %s", bad)
		}
	}
	page, err := assets.ReadFile("assets/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(string(page), -1) {
		if !strings.Contains(tag, ` src="/`) {
			t.Errorf("index.html: inline script %s", tag)
		}
	}
	for _, re := range []string{`<script[^>]*>\s*[^<\s]`, `<style`, `\sstyle=`, `\son[a-z]+=`, `(?:src|href)="(?:https?:)?//`} {
		if m := regexp.MustCompile(re).Find(page); m != nil {
			t.Errorf("index.html has %q, which the policy blocks or which leaves the origin", m)
		}
	}
	for _, f := range []string{"assets/console.js", "assets/switchyard.js", "assets/console.css"} {
		b, _ := assets.ReadFile(f)
		for _, bad := range []string{"http://", "https://", "eval(", "new Function", "innerHTML", "console.error"} {
			if strings.Contains(string(b), bad) && !(bad == "http://" && f == "assets/switchyard.js") {
				t.Errorf("%s uses %q", f, bad)
			}
		}
	}
}
