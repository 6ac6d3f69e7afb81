package browser

import (
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

// TestDeepLinkConnects: /?realm=realm1&connect=1 joins anonymously at once;
// the session the page shows is one the router knows, with the role the
// realm gives anonymous sessions, and the realm view lists it. The layout
// fits 1280×800 and a phone's width without sideways scrolling.
func TestDeepLinkConnects(t *testing.T) {
	r := startRouter(t)
	p := newPage(t, r)
	p.open("?realm=realm1&connect=1")
	id := p.waitConnected()
	sid, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		t.Fatalf("data-session-id %q: %v", id, err)
	}
	if got := p.text("#session-authrole"); got != "anonymous" {
		t.Errorf("authrole shown: %q", got)
	}
	c := goClient(t, r, client.Config{})
	res, err := c.Call(ctxT(t, 5*time.Second), "wamp.session.get", spec.List{int64(sid)}, nil, nil)
	if err != nil {
		t.Fatalf("wamp.session.get(%d) of the page's session: %v", sid, err)
	}
	if d, _ := res.Arguments[0].(spec.Dict); d["authrole"] != "anonymous" {
		t.Errorf("router's view of the page's session: %v", res.Arguments)
	}
	// The realm view is built from the meta API and follows meta events:
	// the Go client's session appears in it.
	p.waitText("#meta-sessions", id+" ")
	p.waitText("#meta-sessions", strconv.FormatUint(uint64(c.ID()), 10))

	for _, size := range [][2]int64{{1280, 800}, {390, 844}} {
		p.do("resize", chromedp.EmulateViewport(size[0], size[1]))
		overflow, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
		if err != nil {
			t.Fatal(err)
		}
		if overflow {
			w, _ := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
			t.Errorf("at %dx%d the page is %d px wide: it scrolls sideways", size[0], size[1], w)
		}
	}
	p.do("restore the viewport", chromedp.EmulateViewport(1280, 800))

	// Disconnect says GOODBYE: the page returns to "disconnected".
	p.click("disconnect")
	p.waitFor(`document.body.dataset.state === "disconnected" && !document.body.dataset.sessionId`, "the page to disconnect")
}
