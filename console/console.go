// Package console serves the router's browser console: one page, its
// stylesheet and script, and the browser-side WAMP client switchyard.js,
// all embedded in the binary.
//
// The page has no privileged access. It is a WAMP client like any other,
// served on the WebSocket listener's plain-HTTP path, so the realm's
// authentication and authorization apply to it. It makes no external
// requests: it works offline, and the router sends a strict
// Content-Security-Policy with it (no inline script or style, scripts and
// styles from the router only, WebSocket connections allowed).
package console

import (
	"embed"
	"net/http"
	"strconv"
)

//go:embed assets
var assets embed.FS

// ContentSecurityPolicy is sent with every console response. connect-src
// allows ws: and wss: so the page can reach a router on another address
// than the one that served it; everything else stays on this origin.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Paths the console answers. "/" is exact: other paths are left to the
// mux (404 unless another feature registered them).
const (
	PathPage   = "/"
	PathClient = "/switchyard.js"
)

type asset struct {
	file        string
	contentType string
	// cors lets pages of other origins import the file (switchyard.js is
	// meant to be used by pages the router does not serve).
	cors bool
}

var routes = map[string]asset{
	"GET /{$}":          {file: "assets/index.html", contentType: "text/html; charset=utf-8"},
	"GET /console.css":  {file: "assets/console.css", contentType: "text/css; charset=utf-8"},
	"GET /console.js":   {file: "assets/console.js", contentType: "text/javascript; charset=utf-8"},
	"GET " + PathClient: {file: "assets/switchyard.js", contentType: "text/javascript; charset=utf-8", cors: true},
}

// Register adds the console's routes to mux: the page at "/" (exact), its
// stylesheet and script, and the WAMP client at /switchyard.js.
func Register(mux *http.ServeMux) {
	for pattern, a := range routes {
		body, err := assets.ReadFile(a.file)
		if err != nil {
			panic("console: embedded asset missing: " + a.file) // a build defect, not input
		}
		mux.Handle(pattern, serveAsset(body, a))
	}
}

// Handler is a mux with only the console's routes.
func Handler() http.Handler {
	mux := http.NewServeMux()
	Register(mux)
	return mux
}

func serveAsset(body []byte, a asset) http.Handler {
	length := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Content-Length", length)
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if a.cors {
			h.Set("Access-Control-Allow-Origin", "*")
		}
		if r.Method == http.MethodHead {
			return
		}
		w.Write(body)
	})
}
