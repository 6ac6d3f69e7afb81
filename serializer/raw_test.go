package serializer

import (
	"bytes"
	"math"
	"strconv"
	"testing"

	"github.com/switchyard/switchyard/spec"
)

// crossingPayload has what a payload can hold: nested lists and dicts,
// integers beyond 2^53 (and beyond int64 as uint64), floats, unicode text
// and binary.
func crossingPayload() (spec.List, spec.Dict) {
	args := spec.List{
		int64(1), int64(-1) << 60, uint64(math.MaxUint64), int64(1)<<53 + 1,
		1.5, -0.25, 3.0, "héllo, 世界 🚀", []byte{0, 1, 2, 0xff},
		spec.List{spec.List{}, spec.Dict{"deep": spec.List{true, false, nil}}},
	}
	kwargs := spec.Dict{
		"bin":    []byte("\x00payload"),
		"nested": spec.Dict{"a": spec.List{int64(2), "b"}, "ü": 2.5e-3},
		"big":    uint64(1) << 63,
		"empty":  spec.Dict{},
	}
	return args, kwargs
}

// hop is the router's side of one message: it decodes the frame as the
// router does and encodes the message it forwards in the next peer's
// format. It reports whether the payload stayed raw.
func hop(t *testing.T, from Serializer, frame []byte, forward func(spec.Message) spec.Message, to Serializer) ([]byte, bool) {
	t.Helper()
	m, err := DecodeRaw(from, frame)
	if err != nil {
		t.Fatalf("%s DecodeRaw: %v", from.Name(), err)
	}
	_, raw := spec.RawOf(m)
	out, err := to.Encode(nil, forward(m))
	if err != nil {
		t.Fatalf("%s → %s Encode: %v", from.Name(), to.Name(), err)
	}
	return out, raw
}

// TestRawPayloadCrossesEveryFormat sends a payload from a caller through a
// callee and back to the caller, CALL → INVOCATION and YIELD → RESULT, in
// every permutation of the three formats, through the router's decode
// (raw when it can) and encode (spliced or transcoded), and checks that
// every peer sees exactly the values sent. Every format must keep the
// payload raw at the router.
func TestRawPayloadCrossesEveryFormat(t *testing.T) {
	args, kwargs := crossingPayload()
	for _, caller := range serializers {
		for _, callee := range serializers {
			for _, back := range serializers {
				name := caller.Name() + "→" + callee.Name() + "→" + back.Name()
				t.Run(name, func(t *testing.T) {
					call := mustEncode(t, caller, &spec.Call{Request: 7, Options: spec.Dict{}, Procedure: "com.example.echo", Arguments: args, ArgumentsKw: kwargs})
					invFrame, raw := hop(t, caller, call, func(m spec.Message) spec.Message {
						c := m.(*spec.Call)
						return &spec.Invocation{Request: 9, Registration: 3, Details: spec.Dict{}, Arguments: c.Arguments, ArgumentsKw: c.ArgumentsKw, Raw: c.Raw}
					}, callee)
					if !raw {
						t.Errorf("CALL in %s did not keep its payload raw", caller.Name())
					}
					inv := mustDecode(t, callee, invFrame).(*spec.Invocation)
					if inv.Request != 9 || !equalValue(inv.Arguments, args) || !equalValue(inv.ArgumentsKw, kwargs) {
						t.Fatalf("callee got %#v", inv)
					}
					yield := mustEncode(t, callee, &spec.Yield{Request: 9, Options: spec.Dict{}, Arguments: inv.Arguments, ArgumentsKw: inv.ArgumentsKw})
					resFrame, raw := hop(t, callee, yield, func(m spec.Message) spec.Message {
						y := m.(*spec.Yield)
						return &spec.Result{Request: 7, Details: spec.Dict{}, Arguments: y.Arguments, ArgumentsKw: y.ArgumentsKw, Raw: y.Raw}
					}, back)
					if !raw {
						t.Errorf("YIELD in %s did not keep its payload raw", callee.Name())
					}
					res := mustDecode(t, back, resFrame).(*spec.Result)
					if res.Request != 7 || !equalValue(res.Arguments, args) || !equalValue(res.ArgumentsKw, kwargs) {
						t.Fatalf("caller got %#v", res)
					}
				})
			}
		}
	}
}

// TestRawErrorPayload: a callee's ERROR keeps its payload raw too.
func TestRawErrorPayload(t *testing.T) {
	for _, s := range serializers {
		b := mustEncode(t, s, &spec.Error{RequestType: spec.TypeInvocation, Request: 4, Details: spec.Dict{}, Error: "app.error", Arguments: spec.List{"why"}, ArgumentsKw: spec.Dict{"code": int64(3)}})
		m, err := DecodeRaw(s, b)
		if err != nil {
			t.Fatal(err)
		}
		e := m.(*spec.Error)
		if e.Raw.N != 2 || e.Arguments != nil || e.Error != "app.error" {
			t.Fatalf("%s: %#v", s.Name(), e)
		}
		if err := spec.Materialize(e); err != nil || !equalValue(e.Arguments, spec.List{"why"}) || e.ArgumentsKw["code"] != int64(3) {
			t.Fatalf("%s: Materialize: %v %#v", s.Name(), err, e)
		}
	}
}

// TestRawSpliceCopiesBytes: an encoder of the payload's own format writes
// the payload's bytes unchanged (here in an order the eager encoder, which
// sorts keys, would not write), and DecodeRaw does not retain its input.
func TestRawSpliceCopiesBytes(t *testing.T) {
	in := []byte(`[48, 1, {}, "p", [1, "x"], {"b": 1, "a": 2}]`)
	m, err := DecodeRaw(JSON, in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 'X'
	}
	out := mustEncode(t, JSON, m)
	if want := `[48,1,{},"p",[1, "x"], {"b": 1, "a": 2}]`; string(out) != want {
		t.Fatalf("spliced %s, want %s", out, want)
	}
}

// TestRawFallsBackToDecode: input the scanners do not vouch for decodes
// eagerly, with Decode's verdict.
func TestRawFallsBackToDecode(t *testing.T) {
	for _, in := range []string{
		`[48,1,{},"p",[1e400]]`, `[48,1,{},"p",[{"a":1,"a":2}]]`, `[48,1,{},"p",[18446744073709551616]]`,
		`[48,1,{},"p",["\u0000A"]]`, `[48,1,{},"p",[-9223372036854775809]]`, `[48,1,{},"p",["\ud800"]]`, `[48,1,{},"p","bare"]`, `[48,1,{},"p",[1],{},3]`,
		`[48,1,{},"p",[1]] x`,
	} {
		got, gerr := DecodeRaw(JSON, []byte(in))
		want, werr := JSON.Decode([]byte(in))
		if (gerr == nil) != (werr == nil) || gerr == nil && !equalMessage(got, want) {
			t.Errorf("%s: DecodeRaw %#v, %v; Decode %#v, %v", in, got, gerr, want, werr)
		}
		if _, raw := spec.RawOf(got); raw {
			t.Errorf("%s: kept raw", in)
		}
	}
}

// checkRaw is the differential property of DecodeRaw: it accepts exactly
// what Decode accepts, and whatever it decodes encodes (spliced or
// transcoded) in every format to the same message as the eager decode.
func checkRaw(t *testing.T, s Serializer, data []byte) {
	got, gerr := DecodeRaw(s, data)
	want, werr := s.Decode(data)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("DecodeRaw(%q) error %v, Decode error %v", data, gerr, werr)
	}
	if gerr != nil {
		return
	}
	for _, to := range serializers {
		if to == JSON && !jsonSafe(spec.ToList(want)) {
			continue // JSON reads a text starting with U+0000 as binary
		}
		b1, err1 := to.Encode(nil, got)
		b2, err2 := to.Encode(nil, want)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("to %s: encode of raw %v, of eager %v", to.Name(), err1, err2)
		}
		if err1 != nil {
			continue
		}
		m1, err := to.Decode(b1)
		if err != nil {
			t.Fatalf("to %s: %x does not decode: %v", to.Name(), b1, err)
		}
		m2 := mustDecode(t, to, b2)
		if !equalMessage(m1, m2) {
			t.Fatalf("to %s: raw gives %#v, eager %#v", to.Name(), m1, m2)
		}
		if to == s && !bytes.Equal(b1, b2) {
			if _, raw := spec.RawOf(got); !raw {
				t.Fatalf("to %s: no raw payload yet different bytes", to.Name())
			}
		}
	}
}

func seedRaw(f *testing.F, s Serializer) {
	seedDecoder(f, s)
	args, kwargs := crossingPayload()
	for _, m := range []spec.Message{
		&spec.Call{Request: 1, Options: spec.Dict{}, Procedure: "p", Arguments: args, ArgumentsKw: kwargs},
		&spec.Publish{Request: 1, Options: spec.Dict{"acknowledge": true}, Topic: "t", Arguments: args, ArgumentsKw: kwargs},
		&spec.Yield{Request: 1, Options: spec.Dict{}, Arguments: args},
		&spec.Error{RequestType: spec.TypeInvocation, Request: 1, Details: spec.Dict{}, Error: "e", Arguments: spec.List{}, ArgumentsKw: kwargs},
	} {
		if b, err := s.Encode(nil, m); err == nil {
			f.Add(b)
		}
	}
}

func FuzzDecodeRawJSON(f *testing.F) {
	seedRaw(f, JSON)
	for _, s := range []string{`[48,1,{},"p",[1.5,"\u00e9\n",{"k":[]}],{"a":null}]`, `[8,68,1,{},"e",["\u0000AA=="]]`, `[70, 1 ,{} , [ ] , { } ]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkRaw(t, JSON, data) })
}

func FuzzDecodeRawMsgpack(f *testing.F) {
	seedRaw(f, MessagePack)
	f.Fuzz(func(t *testing.T, data []byte) { checkRaw(t, MessagePack, data) })
}

func FuzzDecodeRawCBOR(f *testing.F) {
	seedRaw(f, CBOR)
	for _, b := range cborRawEdges {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkRaw(t, CBOR, data) })
}

// cborRawEdges are CBOR CALLs whose payload the scanner must leave to the
// eager decoder, or may keep although the eager encoder would not write it.
var cborRawEdges = [][]byte{
	{0x85, 0x18, 0x30, 0x01, 0xa0, 0x61, 'p', 0x81, 0xc2, 0x41, 0x01},                                     // a tag (bignum 1)
	{0x85, 0x18, 0x30, 0x01, 0xa0, 0x61, 'p', 0x9f, 0x01, 0xff},                                           // an indefinite array
	{0x85, 0x18, 0x30, 0x01, 0xa0, 0x61, 'p', 0x81, 0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // -2^64
	{0x85, 0x18, 0x30, 0x01, 0xa0, 0x61, 'p', 0x81, 0xf8, 0x20},                                           // simple value 32
	{0x85, 0x18, 0x30, 0x01, 0xa0, 0x61, 'p', 0x81, 0x61, 0xff},                                           // invalid UTF-8
	{0x86, 0x18, 0x30, 0x01, 0xa0, 0x61, 'p', 0x80, 0xa2, 0x61, 'k', 0x01, 0x61, 'k', 0x02},               // a duplicate key
	{0x86, 0x18, 0x30, 0x01, 0xa0, 0x61, 'p', 0x80, 0xa1, 0x01, 0x01},                                     // an integer key
	{0x85, 0x18, 0x30, 0x01, 0xa0, 0x61, 'p', 0x82, 0xf9, 0x3e, 0x00, 0x18, 0x05},                         // a half float, a long-form 5
	{0x85, 0x18, 0x30, 0x01, 0xa0, 0x61, 'p', 0x81, 0xf7},                                                 // undefined
	{0x85, 0x18, 0x30, 0x01, 0xa0, 0x61, 'p', 0x81, 0x01, 0x00},                                           // a trailing byte
}

// TestCBORRawEdges: CBOR input the scanner does not vouch for decodes
// eagerly with Decode's verdict, and what it keeps raw reads back as the
// eager values.
func TestCBORRawEdges(t *testing.T) {
	keep := map[int]bool{7: true, 8: true}
	for i, b := range cborRawEdges {
		checkRaw(t, CBOR, b)
		m, err := DecodeRaw(CBOR, b)
		if err != nil {
			continue
		}
		if _, raw := spec.RawOf(m); raw != keep[i] {
			t.Errorf("edge %d: kept raw %v, want %v", i, raw, keep[i])
		}
	}
	// Nesting at the eager decoder's limit, and beyond it.
	for _, depth := range []int{maxDepth - 2, maxDepth - 1, maxDepth, maxDepth + 1} {
		b := []byte{0x85, 0x18, 0x30, 0x01, 0xa0, 0x61, 'p'}
		for range depth {
			b = append(b, 0x81)
		}
		b = append(b, 0x80)
		checkRaw(t, CBOR, b)
	}
}

// TestRawScannerEdges: a large dict stays raw and its duplicate keys are
// still caught; msgpackr's undefined in Options (wampy.js) keeps the
// payload raw, in the payload it falls back to the eager decoder.
func TestRawScannerEdges(t *testing.T) {
	big := spec.Dict{}
	for i := range 100 {
		big["k"+strconv.Itoa(i)] = int64(i)
	}
	for _, s := range serializers {
		b := mustEncode(t, s, &spec.Call{Request: 1, Options: spec.Dict{}, Procedure: "p", Arguments: spec.List{big}, ArgumentsKw: big})
		m, err := DecodeRaw(s, b)
		if _, raw := spec.RawOf(m); err != nil || !raw {
			t.Errorf("%s: a 100-key dict did not stay raw (%v)", s.Name(), err)
		}
	}
	// 20 keys, the last a duplicate of the first.
	dup := []byte(`[48,1,{},"p",[{`)
	for i := range 20 {
		dup = append(dup, `"k`+strconv.Itoa(i%19)+`":1,`...)
	}
	dup = append(dup[:len(dup)-1], "}]]"...)
	if _, err := DecodeRaw(JSON, dup); err == nil {
		t.Error("JSON: duplicate key in a large dict accepted")
	}
	undefOpts := []byte("\x95\x30\x01\x81\xa7timeout\xd4\x00\x00\xa1p\x91\x01")
	m, err := DecodeRaw(MessagePack, undefOpts)
	if _, raw := spec.RawOf(m); err != nil || !raw || len(m.(*spec.Call).Options) != 0 {
		t.Errorf("undefined in Options: %#v, %v", m, err)
	}
	undefArgs := []byte("\x95\x30\x01\x80\xa1p\x91\xd4\x00\x00")
	m, err = DecodeRaw(MessagePack, undefArgs)
	if _, raw := spec.RawOf(m); err != nil || raw || len(m.(*spec.Call).Arguments) != 1 {
		t.Errorf("undefined in the payload: %#v, %v", m, err)
	}
}

// checkCheckRaw: a payload CheckRaw vouches for decodes, and spliced into
// a message of its format it makes a frame the eager decoder accepts, with
// the same values: splicing it can never hand a peer a broken frame.
func checkCheckRaw(t *testing.T, s Serializer, n int, payload []byte) {
	r := spec.Raw{Format: s.Name(), N: n, Bytes: payload}
	if !CheckRaw(r) {
		return
	}
	args, kwargs, err := decodeRaw(r)
	if err != nil {
		t.Fatalf("CheckRaw vouched for %q, which does not decode: %v", payload, err)
	}
	frame, err := s.Encode(nil, &spec.Event{Subscription: 1, Publication: 2, Details: spec.Dict{}, Raw: r})
	if err != nil {
		t.Fatalf("splice %q: %v", payload, err)
	}
	got, err := s.Decode(frame)
	if err != nil {
		t.Fatalf("spliced %q makes a frame that does not decode: %v", payload, err)
	}
	want := &spec.Event{Subscription: 1, Publication: 2, Details: spec.Dict{}, Arguments: args, ArgumentsKw: kwargs}
	if !equalMessage(got, want) {
		t.Fatalf("spliced %q decodes to %#v, want %#v", payload, got, want)
	}
}

func FuzzCheckRaw(f *testing.F) {
	args, kwargs := crossingPayload()
	for _, s := range []Serializer{MessagePack, JSON} {
		for _, m := range []spec.Message{
			&spec.Publish{Request: 1, Options: spec.Dict{}, Topic: "t", Arguments: args, ArgumentsKw: kwargs},
			&spec.Yield{Request: 1, Options: spec.Dict{}, Arguments: args},
		} {
			b, err := s.Encode(nil, m)
			if err != nil {
				f.Fatal(err)
			}
			d, err := DecodeRaw(s, b)
			if err != nil {
				f.Fatal(err)
			}
			if r, ok := spec.RawOf(d); ok {
				f.Add(r.Format == "json", byte(r.N), r.Bytes)
			}
		}
	}
	f.Add(true, byte(2), []byte(`[1.50 ] , {"k": [true]}`))
	f.Add(false, byte(1), []byte{0x91, 0xca, 0x3f, 0xc0, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, isJSON bool, n byte, payload []byte) {
		s := Serializer(MessagePack)
		if isJSON {
			s = JSON
		}
		checkCheckRaw(t, s, int(n), payload)
	})
}

func FuzzCheckRawCBOR(f *testing.F) {
	args, kwargs := crossingPayload()
	b := mustEncodeF(f, CBOR, &spec.Publish{Request: 1, Options: spec.Dict{}, Topic: "t", Arguments: args, ArgumentsKw: kwargs})
	if d, err := DecodeRaw(CBOR, b); err == nil {
		if r, ok := spec.RawOf(d); ok {
			f.Add(byte(r.N), r.Bytes)
		}
	}
	f.Add(byte(1), []byte{0x82, 0xf9, 0x3e, 0x00, 0xf7})
	f.Fuzz(func(t *testing.T, n byte, payload []byte) { checkCheckRaw(t, CBOR, int(n), payload) })
}

func mustEncodeF(f *testing.F, s Serializer, m spec.Message) []byte {
	b, err := s.Encode(nil, m)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// TestCheckRaw: what the scanners vouch for, and what they leave to the
// eager decoder.
func TestCheckRaw(t *testing.T) {
	for _, c := range []struct {
		r    spec.Raw
		want bool
	}{
		{spec.Raw{Format: "msgpack", N: 1, Bytes: []byte{0x92, 0xca, 0x3f, 0xc0, 0x00, 0x00, 0xc4, 0x01, 0xff}}, true},
		{spec.Raw{Format: "msgpack", N: 2, Bytes: []byte{0x90, 0x81, 0xa1, 'k', 0xc0}}, true},
		{spec.Raw{Format: "msgpack", N: 2, Bytes: []byte{0x90, 0x90}}, false},             // kwargs not a dict
		{spec.Raw{Format: "msgpack", N: 1, Bytes: []byte{0x80}}, false},                   // args not a list
		{spec.Raw{Format: "msgpack", N: 1, Bytes: []byte{0x91, 0xd4, 0x01, 0x00}}, false}, // an extension
		{spec.Raw{Format: "msgpack", N: 1, Bytes: []byte{0x90, 0x90}}, false},             // trailing bytes
		{spec.Raw{Format: "json", N: 2, Bytes: []byte(`["a", 1.50],{"k": {}}`)}, true},
		{spec.Raw{Format: "json", N: 1, Bytes: []byte(`[1e5]`)}, false}, // an exponent: decoded eagerly
		{spec.Raw{Format: "json", N: 2, Bytes: []byte(`[] {}`)}, false}, // no comma
		{spec.Raw{Format: "json", N: 1, Bytes: []byte(`[1] `)}, false},  // trailing space
		{spec.Raw{Format: "cbor", N: 2, Bytes: []byte{0x82, 0x01, 0x61, 'x', 0xa1, 0x61, 'k', 0xf6}}, true},
		{spec.Raw{Format: "cbor", N: 1, Bytes: []byte{0x81, 0xc1, 0x01}}, false}, // a tag: decoded eagerly
		{spec.Raw{Format: "cbor", N: 1, Bytes: []byte{0xa0}}, false},             // args not a list
		{spec.Raw{Format: "cbor", N: 1, Bytes: []byte{0x80, 0x80}}, false},       // trailing bytes
		{spec.Raw{Format: "msgpack", N: 0, Bytes: []byte{}}, false},
	} {
		if got := CheckRaw(c.r); got != c.want {
			t.Errorf("CheckRaw(%s %q) = %v, want %v", c.r.Format, c.r.Bytes, got, c.want)
		}
	}
}
