package browser

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/switchyard/switchyard/client"
)

// nativeWebSocket is run in the page: Chromium's own WebSocket (which
// offers permessage-deflate) joins realm1, subscribes, publishes a large,
// very compressible payload to itself and waits for both the EVENT and
// PUBLISHED, then says GOODBYE.
const nativeWebSocket = `new Promise((resolve, reject) => {
	const ws = new WebSocket(%q, ["wamp.2.json"]);
	const big = "switchyard ".repeat(20000);
	const out = {};
	const timer = setTimeout(() => reject(new Error("timed out; got " + JSON.stringify(out))), 10000);
	ws.onerror = () => reject(new Error("WebSocket error"));
	ws.onopen = () => {
		out.protocol = ws.protocol;
		out.extensions = ws.extensions;
		ws.send(JSON.stringify([1, "realm1", {roles: {publisher: {}, subscriber: {}}}]));
	};
	ws.onmessage = (ev) => {
		const m = JSON.parse(ev.data);
		switch (m[0]) {
		case 2: ws.send(JSON.stringify([32, 1, {}, "com.example.deflate"])); break;
		case 33: ws.send(JSON.stringify([16, 2, {exclude_me: false, acknowledge: true}, "com.example.deflate", [big]])); break;
		case 36: out.eventIntact = m[4][0] === big; break;
		case 17: out.published = true; break;
		case 6: out.goodbye = m[2]; ws.close(1000); break;
		default: reject(new Error("unexpected " + ev.data.slice(0, 200)));
		}
		if (out.published && "eventIntact" in out && !out.goodbyeSent) {
			out.goodbyeSent = true;
			ws.send(JSON.stringify([6, {}, "wamp.close.close_realm"]));
		}
	};
	ws.onclose = (ev) => { clearTimeout(timer); out.closeCode = ev.code; out.wasClean = ev.wasClean; resolve(out); };
})`

type nativeResult struct {
	Protocol    string `json:"protocol"`
	Extensions  string `json:"extensions"`
	EventIntact bool   `json:"eventIntact"`
	Published   bool   `json:"published"`
	Goodbye     string `json:"goodbye"`
	CloseCode   int    `json:"closeCode"`
	WasClean    bool   `json:"wasClean"`
}

func header(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// TestNativeWebSocketDeflate: Chromium's native WebSocket offers
// permessage-deflate; the router either negotiates it (and then the
// browser uses exactly what the router answered) or declines it (no
// extension in the answer, none in use), and in both cases a large
// message flows both ways, intact, and the session ends cleanly. A Go
// subscriber gets the browser's publication intact too.
func TestNativeWebSocketDeflate(t *testing.T) {
	r := startRouter(t)
	p := newPage(t, r)
	p.open("") // for the origin; the console does not connect by itself
	if _, err := chromedp.Call(p.ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	requests := chromedp.Events(p.ctx, network.WebSocketWillSendHandshakeRequest)
	responses := chromedp.Events(p.ctx, network.WebSocketHandshakeResponseReceived)

	c := goClient(t, r, client.Config{})
	got := make(chan int, 1)
	if _, err := c.Subscribe(ctxT(t, 5*time.Second), "com.example.deflate", func(e *client.Event) {
		s, _ := e.Arguments[0].(string)
		got <- len(s)
	}, nil); err != nil {
		t.Fatal(err)
	}

	res, err := chromedp.Run(p.ctx, chromedp.Evaluate[nativeResult](fmt.Sprintf(nativeWebSocket, r.wsURL()), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("native WebSocket session: %v", err)
	}
	t.Logf("native WebSocket: %+v", res)

	var offered, answered string
	for ev, err := range requests {
		if err != nil {
			t.Fatal(err)
		}
		offered = header(ev.Request.Headers, "Sec-WebSocket-Extensions")
		break
	}
	for ev, err := range responses {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Response.Status != 101 {
			t.Fatalf("handshake answered %d %s", ev.Response.Status, ev.Response.StatusText)
		}
		answered = header(ev.Response.Headers, "Sec-WebSocket-Extensions")
		break
	}
	t.Logf("Chromium offered %q; the router answered %q", offered, answered)
	if !strings.Contains(offered, "permessage-deflate") {
		t.Errorf("Chromium did not offer permessage-deflate (%q): this test proves nothing", offered)
	}
	switch {
	case answered == "" && res.Extensions != "":
		t.Errorf("the router declined compression, but the browser uses %q", res.Extensions)
	case answered != "" && !strings.HasPrefix(answered, "permessage-deflate"):
		t.Errorf("the router answered an extension it was not offered: %q", answered)
	case answered != "" && res.Extensions != answered:
		t.Errorf("the router answered %q but the browser uses %q", answered, res.Extensions)
	}
	if res.Protocol != "wamp.2.json" {
		t.Errorf("subprotocol %q", res.Protocol)
	}
	if !res.EventIntact || !res.Published {
		t.Errorf("messages did not flow intact: %+v", res)
	}
	if res.Goodbye != "wamp.close.goodbye_and_out" || res.CloseCode != 1000 || !res.WasClean {
		t.Errorf("the session did not end cleanly: %+v", res)
	}
	select {
	case n := <-got:
		if n != len("switchyard ")*20000 {
			t.Errorf("the Go subscriber got %d bytes, want %d", n, len("switchyard ")*20000)
		}
	case <-time.After(10 * time.Second):
		t.Error("the Go subscriber got nothing from the browser")
	}
}
