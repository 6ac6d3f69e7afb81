package browser

import (
	"context"
	"strconv"
	"strings"
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
		p.screenshotAs("-" + strconv.FormatInt(size[0], 10))
	}
	p.do("restore the viewport", chromedp.EmulateViewport(1280, 800))

	// Disconnect says GOODBYE: the page returns to "disconnected".
	p.click("disconnect")
	p.waitFor(`document.body.dataset.state === "disconnected" && !document.body.dataset.sessionId`, "the page to disconnect")
}

// TestSubscribeReceivesGoEvents: the page subscribes (exact, prefix and
// wildcard) and shows the events a Go client publishes; it publishes with
// args and kwargs, acknowledged, to a Go subscriber.
func TestSubscribeReceivesGoEvents(t *testing.T) {
	r := startRouter(t)
	p := newPage(t, r)
	p.open("?realm=realm1&connect=1")
	p.waitConnected()
	for i, sub := range [][2]string{{"com.example.news", "exact"}, {"com.example.sport.", "prefix"}, {"com.example..score", "wildcard"}} {
		p.fill("sub-topic", sub[0], "sub-match", sub[1])
		p.click("subscribe")
		p.waitText("#sub-result", "subscribed to "+sub[0]+" ("+sub[1]+")")
		p.waitFor(`document.querySelectorAll("#subscriptions li").length === `+strconv.Itoa(i+1), "the subscription list")
	}

	c := goClient(t, r, client.Config{})
	ctx := ctxT(t, 10*time.Second)
	ack := spec.Dict{"acknowledge": true}
	if err := c.Publish(ctx, "com.example.news", spec.List{"hello from Go", int64(42)}, spec.Dict{"k": "v"}, ack); err != nil {
		t.Fatal(err)
	}
	p.waitText("#events", `com.example.news args=["hello from Go",42] kwargs={"k":"v"}`)
	if err := c.Publish(ctx, "com.example.sport.tennis", spec.List{"ace"}, nil, ack); err != nil {
		t.Fatal(err)
	}
	p.waitText("#events", `com.example.sport.tennis args=["ace"]`)
	if err := c.Publish(ctx, "com.example.match7.score", spec.List{int64(3), int64(1)}, nil, ack); err != nil {
		t.Fatal(err)
	}
	p.waitText("#events", `com.example.match7.score args=[3,1]`)

	// The page publishes to a Go subscriber.
	got := make(chan *client.Event, 1)
	if _, err := c.Subscribe(ctx, "com.example.fromweb", func(e *client.Event) { got <- e }, nil); err != nil {
		t.Fatal(err)
	}
	p.fill("pub-topic", "com.example.fromweb", "pub-args", `["hi", {"n": 1}]`, "pub-kwargs", `{"from": "browser"}`, "pub-acknowledge", "true")
	p.click("publish")
	p.waitText("#pub-result", "published to com.example.fromweb, publication ")
	select {
	case e := <-got:
		if len(e.Arguments) != 2 || e.Arguments[0] != "hi" || e.ArgumentsKw["from"] != "browser" {
			t.Errorf("Go subscriber got %v %v", e.Arguments, e.ArgumentsKw)
		}
	case <-ctx.Done():
		t.Fatal("the Go subscriber got no event from the page")
	}

	// exclude_me off: the page receives its own publication.
	p.fill("pub-topic", "com.example.news", "pub-args", `["to myself"]`, "pub-kwargs", "{}", "pub-exclude-me", "false")
	p.click("publish")
	p.waitText("#events", `com.example.news args=["to myself"]`)

	// Bad JSON is refused on the page, before anything is sent.
	p.fill("pub-args", `[1, 2`)
	p.click("publish")
	p.waitText("#pub-result", "publish failed: pub-args: not JSON")
}

// TestRegisterForGoCaller: the page registers procedures (echo and a
// fixed answer) that a Go client calls, and shows the invocations.
func TestRegisterForGoCaller(t *testing.T) {
	r := startRouter(t)
	p := newPage(t, r)
	p.open("?realm=realm1&connect=1")
	p.waitConnected()
	p.fill("reg-procedure", "com.example.echo", "reg-mode", "echo")
	p.click("register")
	p.waitText("#reg-result", "registered com.example.echo, registration ")
	p.fill("reg-procedure", "com.example.answer", "reg-mode", "fixed", "reg-answer", `{"answer": 42}`)
	p.click("register")
	p.waitText("#reg-result", "registered com.example.answer, registration ")

	c := goClient(t, r, client.Config{})
	ctx := ctxT(t, 10*time.Second)
	res, err := c.Call(ctx, "com.example.echo", spec.List{"ping", int64(7)}, spec.Dict{"x": true}, nil)
	if err != nil {
		t.Fatalf("calling the page's echo: %v", err)
	}
	if len(res.Arguments) != 2 || res.Arguments[0] != "ping" || res.ArgumentsKw["x"] != true {
		t.Errorf("echo answered %v %v", res.Arguments, res.ArgumentsKw)
	}
	p.waitText("#invocations", `com.example.echo args=["ping",7] kwargs={"x":true}`)
	res, err = c.Call(ctx, "com.example.answer", spec.List{"ignored"}, nil, nil)
	if err != nil {
		t.Fatalf("calling the page's fixed answer: %v", err)
	}
	if d, _ := res.Arguments[0].(spec.Dict); len(res.Arguments) != 1 || d["answer"] == nil {
		t.Errorf("fixed answer: %v", res.Arguments)
	}
	// The realm view lists the page's registrations.
	p.waitText("#meta-registrations", "com.example.answer")

	// Unregistering from the page: the Go caller gets no_such_procedure.
	p.do("unregister", chromedp.Click(chromedp.CSS(`#registrations li:first-child button`)))
	p.waitText("#reg-result", "unregistered com.example.echo")
	if _, err := c.Call(ctx, "com.example.echo", nil, nil, nil); err == nil || !strings.Contains(err.Error(), "wamp.error.no_such_procedure") {
		t.Errorf("call after unregister: %v", err)
	}
}

// TestCallProgressTimeoutCancel: the page calls Go procedures and shows
// progressive results, the router's timeout and a cancel.
func TestCallProgressTimeoutCancel(t *testing.T) {
	r := startRouter(t)
	c := goClient(t, r, client.Config{})
	ctx := ctxT(t, 30*time.Second)
	if _, err := c.Register(ctx, "com.example.count", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		n, _ := spec.AsInt(inv.Arguments[0])
		for i := int64(1); i <= n; i++ {
			if inv.Progress != nil {
				if err := inv.Progress(spec.List{i}, nil); err != nil {
					return nil, err
				}
			}
		}
		return &client.Result{Arguments: spec.List{"done"}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	interrupted := make(chan struct{}, 1)
	if _, err := c.Register(ctx, "com.example.slow", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		select {
		case <-ctx.Done():
			select { // the timeout interrupts it too: keep the first only
			case interrupted <- struct{}{}:
			default:
			}
			// As WAMP asks of a callee interrupted with mode "kill".
			return nil, &client.Error{URI: "wamp.error.canceled", Arguments: spec.List{"interrupted"}}
		case <-time.After(20 * time.Second):
			return &client.Result{Arguments: spec.List{"late"}}, nil
		}
	}, nil); err != nil {
		t.Fatal(err)
	}

	p := newPage(t, r)
	p.open("?realm=realm1&connect=1")
	p.waitConnected()
	p.fill("call-procedure", "com.example.count", "call-args", "[3]", "call-progress", "true")
	p.click("call")
	p.waitText("#call-result", `result args=["done"]`)
	for i := 1; i <= 3; i++ {
		p.waitText("#call-progress-list", "progress args=["+strconv.Itoa(i)+"]")
	}

	p.fill("call-procedure", "com.example.slow", "call-args", "[]", "call-progress", "false", "call-timeout", "300")
	p.click("call")
	p.waitText("#call-result", "call failed: wamp.error.timeout")
	select {
	case <-interrupted: // the router interrupted the callee at the timeout
	case <-time.After(10 * time.Second):
		t.Error("the callee was never interrupted at the timeout")
	}

	p.fill("call-timeout", "0")
	p.click("call")
	p.waitText("#call-result", "calling com.example.slow")
	p.click("cancel")
	p.waitText("#call-result", "call failed: wamp.error.canceled")
	select {
	case <-interrupted:
	case <-time.After(10 * time.Second):
		t.Error("the callee was never interrupted by the page's cancel")
	}

	p.fill("call-procedure", "com.example.missing")
	p.click("call")
	p.waitText("#call-result", "call failed: wamp.error.no_such_procedure")
}

// TestConsoleWithAllowedOrigins: restricting browser origins
// (--ws-allowed-origins) never locks out the console the router serves
// itself: its own host is always allowed.
func TestConsoleWithAllowedOrigins(t *testing.T) {
	r := startRouter(t, "--ws-allowed-origins", "app.example.com")
	p := newPage(t, r)
	p.open("?realm=realm1&connect=1")
	p.waitConnected()
}
