package browser

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

// cborVectors runs switchyard.js's CBOR codec in the page on RFC 8949
// Appendix A vectors (encoding and decoding), on indefinite lengths, tags,
// half floats, 64-bit integers, and on malformed input, which must throw
// rather than allocate or misread. It returns the failures.
const cborVectors = `(async () => {
	const { cbor } = await import("/switchyard.js");
	const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
	const unhex = (h) => new Uint8Array((h.match(/../g) || []).map((x) => parseInt(x, 16)));
	const show = (v) => JSON.stringify(v, (k, x) => typeof x === "bigint" ? x.toString() + "n" : x instanceof Uint8Array ? "h'" + hex(x) + "'" : x);
	const fails = [];
	const both = [[0, "00"], [23, "17"], [24, "1818"], [100, "1864"], [1000, "1903e8"], [1000000, "1a000f4240"],
		[1000000000000, "1b000000e8d4a51000"], [9007199254740991, "1b001fffffffffffff"], [-1, "20"], [-1000, "3903e7"],
		[1.1, "fb3ff199999999999a"], [-4.1, "fbc010666666666666"], ["", "60"], ["IETF", "6449455446"], ["\u00fc", "62c3bc"],
		[[], "80"], [[1, [2, 3], [4, 5]], "8301820203820405"], [{}, "a0"], [{a: 1, b: [2, 3]}, "a26161016162820203"],
		[true, "f5"], [false, "f4"], [null, "f6"], [new Uint8Array([1, 2, 3, 4]), "4401020304"],
		[18446744073709551615n, "1bffffffffffffffff"], [-18446744073709551616n, "3bffffffffffffffff"]];
	for (const [v, h] of both) {
		const e = hex(cbor.encodeValue(v));
		if (e !== h) fails.push("encode " + show(v) + " = " + e + ", want " + h);
		const d = cbor.decodeValue(unhex(h));
		if (show(d) !== show(v)) fails.push("decode " + h + " = " + show(d) + ", want " + show(v));
	}
	const decodeOnly = [["f93e00", 1.5], ["f97bff", 65504], ["f90001", 5.960464477539063e-8], ["fa47c35000", 100000],
		["9f018202039f0405ffff", [1, [2, 3], [4, 5]]], ["bf61610161629f0203ffff", {a: 1, b: [2, 3]}],
		["5f42010243030405ff", new Uint8Array([1, 2, 3, 4, 5])], ["7f657374726561646d696e67ff", "streaming"],
		["c074323031332d30332d32315432303a30343a30305a", "2013-03-21T20:04:00Z"], ["f7", null],
		["a1016161", {"1": "a"}]];
	for (const [h, v] of decodeOnly) {
		const d = cbor.decodeValue(unhex(h));
		if (show(d) !== show(v)) fails.push("decode " + h + " = " + show(d) + ", want " + show(v));
	}
	const bad = ["", "18", "1900", "0000", "1c", "5bffffffffffffffff00", "9bffffffffffffffff", "bbffffffffffffffff",
		"ff", "7f61", "62c328", "5f6161ff", "9f", "df", "1f", "3f", "fc", "c1", "81".repeat(600) + "00"];
	for (const h of bad) {
		try { const v = cbor.decodeValue(unhex(h)); fails.push("no error for " + h.slice(0, 40) + ": " + show(v)); } catch (e) { /* good */ }
	}
	for (const h of ["81f5", "a0", "8163616263"]) { // not WAMP messages
		try { cbor.decode(unhex(h).buffer); fails.push("cbor.decode accepted " + h); } catch (e) { /* good */ }
	}
	// Random and mutated input: decoding returns or throws a "cbor:" error,
	// never anything else, and what decodes re-encodes to the same value.
	let seed = 12345;
	const rand = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
	const seeds = both.map(([, h]) => unhex(h)).concat(decodeOnly.map(([h]) => unhex(h)));
	for (let i = 0; i < 20000; i++) {
		let b;
		if (i % 2) {
			b = new Uint8Array(1 + rand(48));
			for (let j = 0; j < b.length; j++) b[j] = rand(256);
		} else {
			const s = seeds[rand(seeds.length)];
			b = s.slice(0, Math.max(1, s.length - rand(3)));
			b[rand(b.length)] = rand(256);
		}
		let v;
		try { v = cbor.decodeValue(b); } catch (e) {
			if (!String(e.message).startsWith("cbor:")) fails.push("input " + hex(b) + " threw " + e);
			continue;
		}
		try {
			const again = cbor.decodeValue(cbor.encodeValue(v));
			if (show(again) !== show(v)) fails.push("round trip of " + hex(b) + ": " + show(v) + " became " + show(again));
		} catch (e) { fails.push("re-encoding the decoding of " + hex(b) + " threw " + e); }
		if (fails.length > 20) break;
	}
	return fails;
})()`

// TestCBORCodec: the browser-side CBOR codec, in Chromium, on the RFC's
// vectors and on malformed input.
func TestCBORCodec(t *testing.T) {
	r := startRouter(t)
	p := newPage(t, r)
	p.open("")
	fails, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](cborVectors, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fails {
		t.Error(f)
	}
}

// cborSession joins with CBOR and exchanges values that JSON cannot carry
// exactly with a Go peer on MessagePack: the router converts between them.
const cborSession = `(async () => {
	const { connect, Result } = await import("/switchyard.js");
	const s = await connect({ url: %q, realm: "realm1", serializer: "cbor" });
	const out = {};
	const ev = new Promise((resolve) => s.subscribe("com.example.cbor", (args, kwargs) => resolve({ args, kwargs })));
	let echoed;
	const echo = new Promise((resolve) => { echoed = resolve; });
	await s.register("com.example.cbor.echo", (args, kwargs) => { echoed(); return new Result(args, kwargs); });
	await s.call("com.example.go.publish");
	const got = await ev;
	out.bin = got.args[0] instanceof Uint8Array ? Array.from(got.args[0]) : "not binary: " + typeof got.args[0];
	out.max = typeof got.args[1] === "number" ? got.args[1] : "type " + typeof got.args[1];
	out.neg = got.args[2];
	out.half = got.args[3];
	out.text = got.kwargs.text;
	const r = await s.call("com.example.go.check", [new Uint8Array([0, 255, 128]), 2 ** 53 - 1, -(2 ** 53 - 1), 0.25, "\u00e9\u4e2d\ud83d\ude00"], { nested: { list: [1, null, true] } });
	out.check = r.args[0];
	// The Go side calls the echo after answering com.example.go.publish: the
	// page stays until it has been called (and then for the result to go out).
	await echo;
	await new Promise((resolve) => setTimeout(resolve, 50));
	await s.close();
	return out;
})()`

// TestCBORSession: a page on wamp.2.cbor talks to a Go client on msgpack:
// binary, integers at ±(2^53-1), floats and non-ASCII text survive both
// ways, and a Go call of the page's echo returns them intact.
func TestCBORSession(t *testing.T) {
	r := startRouter(t)
	c := goClient(t, r, client.Config{Serializer: "msgpack"})
	ctx := ctxT(t, 30*time.Second)
	const maxSafe = int64(1<<53 - 1)
	text := "é中😀"
	echoed := make(chan error, 1)
	if _, err := c.Register(ctx, "com.example.go.publish", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		go func() {
			pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c.Publish(pctx, "com.example.cbor", spec.List{[]byte{1, 2, 3, 0, 255}, maxSafe, -maxSafe, 1.5}, spec.Dict{"text": text}, spec.Dict{"acknowledge": true})
			args := spec.List{[]byte{7, 0, 7}, maxSafe, 0.5}
			res, err := c.Call(pctx, "com.example.cbor.echo", args, spec.Dict{"k": text}, nil)
			switch {
			case err != nil:
				echoed <- err
			case !bytes.Equal(asBytes(res.Arguments[0]), []byte{7, 0, 7}) || !isInt(res.Arguments[1], maxSafe) || res.Arguments[2] != 0.5 || res.ArgumentsKw["k"] != text:
				echoed <- fmt.Errorf("echo returned %#v %#v", res.Arguments, res.ArgumentsKw)
			default:
				echoed <- nil
			}
		}()
		return &client.Result{}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, "com.example.go.check", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		a := inv.Arguments
		var problems []string
		if len(a) != 5 {
			return &client.Result{Arguments: spec.List{fmt.Sprintf("%d args", len(a))}}, nil
		}
		if !bytes.Equal(asBytes(a[0]), []byte{0, 255, 128}) {
			problems = append(problems, fmt.Sprintf("binary %#v", a[0]))
		}
		if !isInt(a[1], maxSafe) || !isInt(a[2], -maxSafe) {
			problems = append(problems, fmt.Sprintf("integers %#v %#v", a[1], a[2]))
		}
		if f, ok := a[3].(float64); !ok || f != 0.25 {
			problems = append(problems, fmt.Sprintf("float %#v", a[3]))
		}
		if a[4] != text {
			problems = append(problems, fmt.Sprintf("text %#v", a[4]))
		}
		nested, _ := inv.ArgumentsKw["nested"].(spec.Dict)
		if l, _ := nested["list"].(spec.List); len(l) != 3 || l[1] != nil || l[2] != true {
			problems = append(problems, fmt.Sprintf("kwargs %#v", inv.ArgumentsKw))
		}
		if problems == nil {
			return &client.Result{Arguments: spec.List{"ok"}}, nil
		}
		return &client.Result{Arguments: spec.List{strings.Join(problems, "; ")}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}

	p := newPage(t, r)
	p.open("")
	type result struct {
		Bin   []int   `json:"bin"`
		Max   float64 `json:"max"`
		Neg   float64 `json:"neg"`
		Half  float64 `json:"half"`
		Text  string  `json:"text"`
		Check string  `json:"check"`
	}
	res, err := chromedp.Run(p.ctx, chromedp.Evaluate[result](fmt.Sprintf(cborSession, r.wsURL()), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("CBOR session: %v", err)
	}
	t.Logf("CBOR session: %+v", res)
	if fmt.Sprint(res.Bin) != "[1 2 3 0 255]" || res.Max != float64(maxSafe) || res.Neg != -float64(maxSafe) || res.Half != 1.5 || res.Text != text {
		t.Errorf("the page received %+v", res)
	}
	if res.Check != "ok" {
		t.Errorf("the Go callee saw: %s", res.Check)
	}
	select {
	case err := <-echoed:
		if err != nil {
			t.Errorf("Go calling the page's CBOR echo: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the Go call of the page's echo never finished")
	}

	// The console itself on CBOR: deep link, then a round trip.
	p.open("?realm=realm1&serializer=cbor&connect=1")
	p.waitConnected()
	p.waitText("#log", "WELCOME")
	if v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.getElementById("serializer").value`)); err != nil || v != "cbor" {
		t.Errorf("the deep link chose serializer %q (%v), want cbor", v, err)
	}
	p.fill("reg-procedure", "com.example.cbor.page", "reg-mode", "echo")
	p.click("register")
	p.waitText("#reg-result", "registered com.example.cbor.page")
	res2, err := c.Call(ctx, "com.example.cbor.page", spec.List{maxSafe, "x"}, nil, nil)
	if err != nil || !isInt(res2.Arguments[0], maxSafe) {
		t.Errorf("Go → console on CBOR: %v %v", res2, err)
	}
}

func asBytes(v any) []byte {
	b, _ := v.([]byte)
	return b
}

// isInt reports whether v is the integer want, whatever Go integer type
// the decoder chose.
func isInt(v any, want int64) bool {
	n, ok := spec.AsInt(v)
	if ok {
		return n == want
	}
	f, isF := v.(float64)
	return isF && f == float64(want) && math.Abs(f) < 1<<53
}
