package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

// moduleScript uses /switchyard.js directly, as a user's own page would:
// binary values both ways (WAMP's "\0"+base64 JSON rule), a callee that
// sends progressive results and sees its caller's cancel through
// details.signal, a call canceled with an AbortSignal, unsubscribe and
// unregister, and GOODBYE.
const moduleScript = `(async () => {
	const { connect, Result, WampError } = await import("/switchyard.js");
	const out = { received: [] };
	const s = await connect({ url: %q, realm: "realm1", onmessage: (dir, m) => { if (dir === "in") out.received.push(JSON.stringify(m).slice(0, 120)); } });
	out.id = s.id;
	// Binary from Go arrives as a Uint8Array.
	const gotBinary = new Promise((resolve) => {
		s.subscribe("com.example.bin", (args) => resolve(args[0] instanceof Uint8Array ? Array.from(args[0]) : null))
			.then(() => s.call("com.example.go.ready"));
	});
	out.binaryFromGo = await gotBinary;
	// Binary to Go: echoed back by a Go procedure, still binary.
	const r = await s.call("com.example.go.echo", [new Uint8Array([0, 1, 2, 254, 255])]);
	out.binaryRoundTrip = r.args[0] instanceof Uint8Array ? Array.from(r.args[0]) : null;
	// A callee with progress; Go calls it with receive_progress.
	let canceledSeen = false;
	const reg = await s.register("com.example.js.work", async (args, kwargs, details) => {
		details.progress?.([1]);
		details.progress?.([2]);
		if (args[0] === "hang") {
			await new Promise((resolve) => details.signal.addEventListener("abort", resolve));
			canceledSeen = true;
			throw new WampError("wamp.error.canceled");
		}
		return new Result(["done"], { n: 2 });
	});
	await s.call("com.example.go.drive");
	// A call canceled through an AbortSignal (the Go callee waits forever).
	const ctl = new AbortController();
	const pending = s.call("com.example.go.forever", [], {}, { signal: ctl.signal });
	setTimeout(() => ctl.abort(), 100);
	try { await pending; out.cancel = "not canceled"; } catch (e) { out.cancel = e.uri; }
	await reg.unregister();
	try { await s.call("com.example.js.work"); } catch (e) { out.afterUnregister = e.uri; }
	out.canceledSeen = canceledSeen;
	const closed = await s.close();
	out.closeReason = closed.reason;
	return out;
})()`

type moduleResult struct {
	ID              int64    `json:"id"`
	BinaryFromGo    []int    `json:"binaryFromGo"`
	BinaryRoundTrip []int    `json:"binaryRoundTrip"`
	Cancel          string   `json:"cancel"`
	AfterUnregister string   `json:"afterUnregister"`
	CanceledSeen    bool     `json:"canceledSeen"`
	CloseReason     string   `json:"closeReason"`
	Received        []string `json:"received"`
}

// TestSwitchyardJSModule: the documented module API, against Go peers.
func TestSwitchyardJSModule(t *testing.T) {
	r := startRouter(t)
	c := goClient(t, r, client.Config{})
	ctx := ctxT(t, 60*time.Second)
	reg := func(proc string, h client.Handler) {
		if _, err := c.Register(ctx, proc, h, nil); err != nil {
			t.Fatal(err)
		}
	}
	reg("com.example.go.ready", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		go c.Publish(context.Background(), "com.example.bin", spec.List{[]byte{9, 8, 0, 255}}, nil, spec.Dict{"acknowledge": true})
		return &client.Result{}, nil
	})
	reg("com.example.go.echo", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		b, ok := inv.Arguments[0].([]byte)
		if !ok || !bytes.Equal(b, []byte{0, 1, 2, 254, 255}) {
			return nil, &client.Error{URI: "com.example.error.not_binary", Arguments: spec.List{fmt.Sprintf("%T %v", inv.Arguments[0], inv.Arguments[0])}}
		}
		return &client.Result{Arguments: spec.List{b}}, nil
	})
	driven := make(chan error, 1)
	reg("com.example.go.drive", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		var progress []int64
		res, err := c.Call(ctx, "com.example.js.work", spec.List{"go"}, nil, &client.CallOptions{OnProgress: func(r *client.Result) {
			n, _ := spec.AsInt(r.Arguments[0])
			progress = append(progress, n)
		}})
		switch {
		case err != nil:
			driven <- err
		case len(progress) != 2 || res.Arguments[0] != "done" || res.ArgumentsKw["n"] == nil:
			driven <- fmt.Errorf("progress %v, result %v %v", progress, res.Arguments, res.ArgumentsKw)
		default:
			// Now a call the page's callee cancels on INTERRUPT.
			cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			_, err = c.Call(cctx, "com.example.js.work", spec.List{"hang"}, nil, nil)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				driven <- fmt.Errorf("the hanging call: %v, want the deadline", err)
			} else {
				driven <- nil
			}
		}
		return &client.Result{}, nil
	})
	reg("com.example.go.forever", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		<-ctx.Done()
		return nil, &client.Error{URI: "wamp.error.canceled"}
	})

	p := newPage(t, r)
	p.open("")
	res, err := chromedp.Run(p.ctx, chromedp.Evaluate[moduleResult](fmt.Sprintf(moduleScript, r.wsURL()), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("module script: %v", err)
	}
	t.Logf("module script: %+v", res)
	if fmt.Sprint(res.BinaryFromGo) != "[9 8 0 255]" || fmt.Sprint(res.BinaryRoundTrip) != "[0 1 2 254 255]" {
		t.Errorf("binary values: from Go %v, round trip %v", res.BinaryFromGo, res.BinaryRoundTrip)
	}
	if err := <-driven; err != nil {
		t.Errorf("Go calling the page's callee: %v", err)
	}
	if !res.CanceledSeen {
		t.Error("the page's callee never saw the INTERRUPT through details.signal")
	}
	if res.Cancel != "wamp.error.canceled" || res.AfterUnregister != "wamp.error.no_such_procedure" {
		t.Errorf("cancel %q, call after unregister %q", res.Cancel, res.AfterUnregister)
	}
	if res.CloseReason != "wamp.close.goodbye_and_out" {
		t.Errorf("close: %q", res.CloseReason)
	}
}
