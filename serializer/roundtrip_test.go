package serializer

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchyard/switchyard/spec"
)

// richPayload exercises every kind of the value model.
func richPayload() (spec.List, spec.Dict) {
	args := spec.List{
		[]byte{0x00, 0xff, 0x10, 0xe3, 0x90, 0x53},
		[]byte{},
		int64(spec.MaxID), int64(-1), int64(-1 << 40), int64(math.MinInt64), int64(math.MaxInt64),
		uint64(math.MaxUint64),
		1.5, -0.25, 3.0, 1e300, 5e-324,
		"", "plain", "ünïcødé ✓ 日本語 🎉", "quote\" backslash\\ nl\n tab\t nul-inside a\x00b \u2028",
		true, false, nil,
		spec.List{spec.List{}, spec.Dict{}, spec.List{int64(1), spec.List{int64(2), spec.List{int64(3)}}}},
	}
	kwargs := spec.Dict{
		"nested": spec.Dict{"bin": []byte("\x01\x02"), "list": spec.List{int64(7), "x"}, "deep": spec.Dict{"a": spec.Dict{"b": int64(-300)}}},
		"int":    int64(65536),
		"float":  2.5e-7,
		"":       "empty key",
		"ключ":   "значение",
	}
	return args, kwargs
}

// sampleMessages returns one message of every type, with payloads.
func sampleMessages() []spec.Message {
	args, kwargs := richPayload()
	roles := spec.Dict{"publisher": spec.Dict{"features": spec.Dict{"publisher_exclusion": true}}, "subscriber": spec.Dict{}}
	big := spec.MaxID
	return []spec.Message{
		&spec.Hello{Realm: "realm1", Details: spec.Dict{"roles": roles, "authmethods": spec.List{"ticket", "anonymous"}, "authid": "joe"}},
		&spec.Welcome{Session: big, Details: spec.Dict{"roles": spec.Dict{"broker": spec.Dict{}}, "authrole": "user"}},
		&spec.Abort{Details: spec.Dict{"message": "bye"}, Reason: spec.ErrNoSuchRealm},
		&spec.Abort{Details: spec.Dict{}, Reason: spec.ErrProtocolViolation, Arguments: spec.List{"why"}, ArgumentsKw: spec.Dict{"k": int64(1)}},
		&spec.Challenge{AuthMethod: "wampcra", Extra: spec.Dict{"challenge": "{}", "iterations": int64(1000)}},
		&spec.Authenticate{Signature: "sig==", Extra: spec.Dict{}},
		&spec.Goodbye{Details: spec.Dict{}, Reason: spec.CloseGoodbyeAndOut},
		&spec.Error{RequestType: spec.TypeCall, Request: 1, Details: spec.Dict{}, Error: "com.app.error", Arguments: args, ArgumentsKw: kwargs},
		&spec.Publish{Request: 2, Options: spec.Dict{"acknowledge": true, "exclude": spec.List{int64(5), int64(big)}}, Topic: "com.app.topic", Arguments: args, ArgumentsKw: kwargs},
		&spec.Published{Request: 2, Publication: big},
		&spec.Subscribe{Request: 3, Options: spec.Dict{"match": "prefix"}, Topic: "com.app."},
		&spec.Subscribed{Request: 3, Subscription: 99},
		&spec.Unsubscribe{Request: 4, Subscription: 99},
		&spec.Unsubscribed{Request: 4},
		&spec.Unsubscribed{Details: spec.Dict{"subscription": int64(99), "reason": "gone"}},
		&spec.Event{Subscription: 99, Publication: big, Details: spec.Dict{"publisher": int64(12345), "topic": "com.app.x"}, Arguments: args, ArgumentsKw: kwargs},
		&spec.Event{Subscription: 1, Publication: 2, Details: spec.Dict{}, ArgumentsKw: spec.Dict{"only": "kwargs"}},
		&spec.Call{Request: 5, Options: spec.Dict{"timeout": int64(1000), "receive_progress": true}, Procedure: "com.app.proc", Arguments: args, ArgumentsKw: kwargs},
		&spec.Cancel{Request: 5, Options: spec.Dict{"mode": "kill"}},
		&spec.Result{Request: 5, Details: spec.Dict{"progress": true}, Arguments: args},
		&spec.Register{Request: 6, Options: spec.Dict{"invoke": "roundrobin"}, Procedure: "com.app.proc"},
		&spec.Registered{Request: 6, Registration: 77},
		&spec.Unregister{Request: 7, Registration: 77},
		&spec.Unregistered{Request: 7},
		&spec.Unregistered{Details: spec.Dict{"registration": int64(77), "reason": "revoked"}},
		&spec.Invocation{Request: 8, Registration: 77, Details: spec.Dict{"caller": int64(42)}, Arguments: args, ArgumentsKw: kwargs},
		&spec.Interrupt{Request: 8, Options: spec.Dict{"mode": "killnowait"}},
		&spec.Yield{Request: 8, Options: spec.Dict{}, Arguments: spec.List{[]byte("passthru")}},
	}
}

func TestRoundTripEveryMessage(t *testing.T) {
	for _, s := range serializers {
		for _, m := range sampleMessages() {
			b := mustEncode(t, s, m)
			got := mustDecode(t, s, b)
			if !equalMessage(m, got) {
				t.Errorf("%s %v: round trip\n got %#v\nwant %#v", s.Name(), m.Type(), got, m)
			}
			if err := spec.Validate(got); err != nil {
				t.Errorf("%s %v: Validate: %v", s.Name(), m.Type(), err)
			}
			// Encoding is deterministic: same message, same bytes.
			if again := mustEncode(t, s, got); !bytes.Equal(again, b) {
				t.Errorf("%s %v: re-encoding differs:\n%x\n%x", s.Name(), m.Type(), b, again)
			}
		}
	}
}

// A message published in one format reaches subscribers in every other,
// binary payloads and 2^53 IDs intact.
func TestCrossSerializerRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		for _, from := range serializers {
			decoded := mustDecode(t, from, mustEncode(t, from, m))
			for _, to := range serializers {
				got := mustDecode(t, to, mustEncode(t, to, decoded))
				if !equalMessage(m, got) {
					t.Errorf("%s→%s %v:\n got %#v\nwant %#v", from.Name(), to.Name(), m.Type(), got, m)
				}
			}
		}
	}
	// And the binary survives byte for byte through JSON's base64.
	ev := &spec.Event{Subscription: 1, Publication: 1 << 53, Details: spec.Dict{}, Arguments: spec.List{[]byte{0, 1, 2, 0xfe, 0xff}}}
	got := mustDecode(t, MessagePack, mustEncode(t, MessagePack, mustDecode(t, JSON, mustEncode(t, JSON, ev)))).(*spec.Event)
	if b, ok := got.Arguments[0].([]byte); !ok || !bytes.Equal(b, []byte{0, 1, 2, 0xfe, 0xff}) {
		t.Fatalf("binary after json→msgpack: %#v", got.Arguments[0])
	}
	if got.Publication != 1<<53 {
		t.Fatalf("publication %d", got.Publication)
	}
}

func TestEncodeAppendsAndLeavesDstOnError(t *testing.T) {
	m := &spec.Published{Request: 1, Publication: 2}
	bad := &spec.Event{Subscription: 1, Publication: 2, Details: spec.Dict{}, Arguments: spec.List{struct{}{}}}
	for _, s := range serializers {
		prefix := []byte("prefix")
		out := mustEncode(t, s, m)
		got, err := s.Encode(append([]byte(nil), prefix...), m)
		if err != nil || !bytes.Equal(got, append(append([]byte(nil), prefix...), out...)) {
			t.Errorf("%s: Encode does not append: %q, %v", s.Name(), got, err)
		}
		got, err = s.Encode(prefix, bad)
		if !errors.Is(err, ErrUnsupportedValue) || !bytes.Equal(got, prefix) {
			t.Errorf("%s: Encode(bad) = %q, %v", s.Name(), got, err)
		}
	}
}

type strangeMessage struct{}

func (strangeMessage) Type() spec.MessageType { return 999 }

func TestEncodeErrors(t *testing.T) {
	cyclic := spec.Dict{}
	cyclic["self"] = cyclic
	deep := spec.List{}
	for range maxDepth + 5 {
		deep = spec.List{deep}
	}
	cases := map[string]spec.Message{
		"unknown message": strangeMessage{},
		"nil message":     nil,
		"cyclic dict":     &spec.Publish{Request: 1, Options: spec.Dict{}, Topic: "t", ArgumentsKw: cyclic},
		"too deep":        &spec.Publish{Request: 1, Options: spec.Dict{}, Topic: "t", Arguments: deep},
		"unsupported":     &spec.Publish{Request: 1, Options: spec.Dict{}, Topic: "t", Arguments: spec.List{map[int]int{}}},
	}
	for _, s := range serializers {
		for name, m := range cases {
			if _, err := s.Encode(nil, m); !errors.Is(err, ErrUnsupportedValue) {
				t.Errorf("%s %s: err = %v", s.Name(), name, err)
			}
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		m := &spec.Publish{Request: 1, Options: spec.Dict{}, Topic: "t", Arguments: spec.List{f}}
		if _, err := JSON.Encode(nil, m); !errors.Is(err, ErrUnsupportedValue) {
			t.Errorf("json %v: err = %v", f, err)
		}
		for _, s := range []Serializer{MessagePack, CBOR} {
			got := mustDecode(t, s, mustEncode(t, s, m))
			if !equalMessage(m, got) {
				t.Errorf("%s: %v lost", s.Name(), f)
			}
		}
	}
}

// Go code building Details may use int, spec.ID, spec.URI, float32...;
// they encode as the value model's kinds.
func TestEncodeConvenienceTypes(t *testing.T) {
	m := &spec.Event{Subscription: 1, Publication: 2, Details: spec.Dict{
		"i": 7, "i8": int8(-8), "i16": int16(-16), "i32": int32(-32), "u": uint(9), "u8": uint8(8), "u16": uint16(16), "u32": uint32(32),
		"id": spec.ID(1 << 53), "uri": spec.URI("com.x"), "f32": float32(0.5), "mt": spec.TypeCall,
	}}
	want := spec.Dict{
		"i": int64(7), "i8": int64(-8), "i16": int64(-16), "i32": int64(-32), "u": int64(9), "u8": int64(8), "u16": int64(16), "u32": int64(32),
		"id": int64(1 << 53), "uri": "com.x", "f32": 0.5, "mt": int64(48),
	}
	for _, s := range serializers {
		got := mustDecode(t, s, mustEncode(t, s, m)).(*spec.Event)
		if !equalValue(got.Details, want) {
			t.Errorf("%s: %#v", s.Name(), got.Details)
		}
	}
}

func TestDecodeDoesNotRetainInput(t *testing.T) {
	for _, s := range serializers {
		for _, m := range sampleMessages() {
			b := mustEncode(t, s, m)
			got := mustDecode(t, s, b)
			for i := range b {
				b[i] = 0xAA
			}
			if !equalMessage(m, got) {
				t.Errorf("%s %v: message changed when the input buffer was overwritten", s.Name(), m.Type())
			}
		}
	}
}

// Every malformed input is a *spec.ProtocolError.
func TestDecodeErrorsAreProtocolErrors(t *testing.T) {
	inputs := map[Serializer][]string{
		JSON: {
			``, ` `, `[`, `]`, `{}`, `"x"`, `1`, `[]`, `[1,]`, `[,1]`, `[01]`, `[1 2]`, `[1] x`, `[1]]`,
			`[-]`, `[1.]`, `[1e]`, `[.5]`, `[+1]`, `[1e400]`, `[18446744073709551616]`, `[-9223372036854775809]`,
			`[tru]`, `[nul]`, `[True]`, `["\x01"]`, `["abc`, `["\q"]`, `["\u12"]`, `["\u00zz"]`,
			`[{"a":1,"a":2}]`, `[{1:2}]`, `[{"a" 1}]`, `[{"a":1,}]`, `["\u0000!!!"]`, `["\u0000QQ="]`,
			`[99999, 1]`, `[16, 0, {}, "t"]`, `[16, 1, [], "t"]`,
			strings.Repeat("[", 200) + strings.Repeat("]", 200),
		},
		MessagePack: {
			"", "\x91", "\x90", "\x01", "\x92\x10", "\xc1", "\x91\xc1",
			"\x93\x01\xa1x\x80\x00",                          // trailing byte
			"\x93\x01\xa1x\x81\x01\x02",                      // int key
			"\x93\x01\xa1x\x81\xc4\x01k\x02",                 // bin key
			"\x93\x01\xa1x\x82\xa1k\x01\xa1k\x02",            // duplicate key
			"\x93\x01\xa2\xff\xfe\x80",                       // invalid UTF-8 str
			"\x93\x01\xa1x\x81\xa1k\xd4\x01\x00",             // fixext
			"\x93\x01\xa1x\x81\xa1k\xd4\x00\x01",             // type 0, but not undefined
			"\x93\x01\xa1x\x81\xa1k\xd5\x00\x00\x00",         // fixext 2 of type 0
			"\x93\x01\xa1x\x81\xa1k\xd4\x00",                 // truncated undefined
			"\x93\x01\xa1x\x81\xa1k\xd6\xff\x00\x00\x00\x00", // timestamp ext
			"\xdd\xff\xff\xff\xff",                           // array32 claiming 4G elements
			"\x93\x01\xa1x\xdf\xff\xff\xff\xff",              // map32 claiming 4G pairs
			"\x93\x01\xc6\xff\xff\xff\xff\x00",               // bin32 claiming 4 GiB
			"\x93\x01\xdb\xff\xff\xff\xff\x00",               // str32 claiming 4 GiB
			"\x93\x01\xa1x\xcb\x00",                          // truncated double
			strings.Repeat("\x91", 200) + "\x01",
		},
		CBOR: {
			"", "\x81", "\x80", "\x01", "\xff", "\x82\x01",
			"\x83\x01\x61x\xa0\x00",                                              // trailing byte
			"\x83\x01\x61x\xa1\x01\x02",                                          // int key
			"\x83\x01\x61x\xa1\x41k\x02",                                         // byte-string key
			"\x83\x01\x61x\xa2\x61k\x01\x61k\x02",                                // duplicate key
			"\x83\x01\x62\xff\xfe\xa0",                                           // invalid UTF-8 text
			"\x83\x01\x61x\xa1\x61k\xd8\x63\x01",                                 // unknown tag 99
			"\x83\x01\x61x\xa1\x61k\xf0",                                         // simple value 16
			"\x83\x01\x61x\xa1\x61k\x3b\xff\xff\xff\xff\xff\xff\xff\xff",         // -2^64
			"\x83\x01\x61x\xa1\x61k\xc2\x49\x01\x00\x00\x00\x00\x00\x00\x00\x00", // bignum 2^64
			"\x9b\xff\xff\xff\xff\xff\xff\xff\xff",                               // array claiming 2^64 elements
			"\x83\x01\x5a\xff\xff\xff\xff",                                       // byte string claiming 4 GiB
			"\x9f\x01",                                                           // unterminated indefinite array
			strings.Repeat("\x81", 200) + "\x01",
		},
	}
	for s, list := range inputs {
		for _, in := range list {
			m, err := s.Decode([]byte(in))
			if err == nil {
				t.Errorf("%s: Decode(%x) = %#v, want error", s.Name(), in, m)
				continue
			}
			if !isProtocolError(err) {
				t.Errorf("%s: Decode(%x): %v is not a *spec.ProtocolError", s.Name(), in, err)
			}
		}
	}
}

// wrapArg decodes `[16,1,{},"t",[<v>]]` (built in s's format) and returns
// the single argument.
func decodeArg(t *testing.T, s Serializer, frame []byte) (any, error) {
	t.Helper()
	m, err := s.Decode(frame)
	if err != nil {
		return nil, err
	}
	args := m.(*spec.Publish).Arguments
	if len(args) != 1 {
		t.Fatalf("%s: args %#v", s.Name(), args)
	}
	return args[0], nil
}

func TestJSONValues(t *testing.T) {
	cases := []struct {
		in   string
		want any
	}{
		{`0`, int64(0)},
		{`-0`, int64(0)},
		{`9007199254740992`, int64(1 << 53)},
		{`9007199254740993`, int64(1<<53 + 1)}, // not representable as float64
		{`9223372036854775807`, int64(math.MaxInt64)},
		{`9223372036854775808`, uint64(1 << 63)},
		{`18446744073709551615`, uint64(math.MaxUint64)},
		{`-9223372036854775808`, int64(math.MinInt64)},
		{`1.0`, 1.0},
		{`-0.0`, math.Copysign(0, -1)},
		{`1e2`, 100.0},
		{`1E+2`, 100.0},
		{`2.5e-3`, 0.0025},
		{`1e-400`, 0.0},
		{`true`, true},
		{`false`, false},
		{`null`, nil},
		{`""`, ""},
		{`"a\"b\\c\/d\b\f\n\r\t"`, "a\"b\\c/d\b\f\n\r\t"},
		{`"\u00e9\u65E5"`, "é日"},
		{`"\ud83c\udf89"`, "🎉"},
		{`"\ud83c"`, "\uFFFD"},
		{`"\udf89x"`, "\uFFFDx"},
		{`"\ud83c\u0041"`, "\uFFFDA"},
		{"\"\xff\"", "\uFFFD"},
		{"\"a\xc3\"", "a\uFFFD"},
		{`"a\u0000b"`, "a\x00b"},
		{`"\u0000"`, []byte{}},
		{`"\u0000EOP/kFMHXFJvX8BtT+N82w=="`, mustHex("10e3ff9053075c526f5fc06d4fe37cdb")},
		{`"\u0000EOP/kFMHXFJvX8BtT+N82w"`, mustHex("10e3ff9053075c526f5fc06d4fe37cdb")},
		{`"\u0000\/w=="`, []byte{0xff}},
		{`{"\u0000k":1}`, map[string]any{"\x00k": int64(1)}},
		{` [ 1 , { "a" : [ ] } ] `, []any{int64(1), map[string]any{"a": []any{}}}},
	}
	for _, c := range cases {
		got, err := decodeArg(t, JSON, []byte(`[16,1,{},"t",[`+c.in+`]]`))
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if !equalValue(got, c.want) || math.Signbit(asFloat(got)) != math.Signbit(asFloat(c.want)) {
			t.Errorf("%s: got %#v, want %#v", c.in, got, c.want)
		}
		if _, isInt := c.want.(int64); isInt {
			if _, ok := got.(int64); !ok {
				t.Errorf("%s: got %T, want int64", c.in, got)
			}
		}
	}
}

func asFloat(v any) float64 {
	f, _ := v.(float64)
	return f
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestJSONEncoding(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{int64(-42), `-42`},
		{uint64(math.MaxUint64), `18446744073709551615`},
		{3.0, `3.0`},
		{0.0, `0.0`},
		{math.Copysign(0, -1), `-0.0`},
		{1.5, `1.5`},
		{1e20, `100000000000000000000.0`},
		{1e21, `1e+21`},
		{1e-7, `1e-7`},
		{0.000001, `0.000001`},
		{5e-324, `5e-324`},
		{"\x00\x1f\"\\/\u2028\u2029<&>", `"\u0000\u001f\"\\/\u2028\u2029<&>"`},
		{"bad\xffutf8\xc3", `"bad\ufffdutf8\ufffd"`},
		{"日本🎉", `"日本🎉"`},
		{mustHex("10e3ff9053075c526f5fc06d4fe37cdb"), `"\u0000EOP/kFMHXFJvX8BtT+N82w=="`},
		{[]byte(nil), `"\u0000"`},
		{map[string]any{"b": int64(1), "a": int64(2), "": nil}, `{"":null,"a":2,"b":1}`},
	}
	for _, c := range cases {
		got, err := appendJSON(nil, c.in, 0)
		if err != nil || string(got) != c.want {
			t.Errorf("%#v: got %s, %v; want %s", c.in, got, err, c.want)
		}
		if !json.Valid(got) || !utf8.Valid(got) {
			t.Errorf("%#v: invalid JSON %q", c.in, got)
		}
		// Floats read back as floats, exactly.
		if f, ok := c.in.(float64); ok {
			back, err := decodeJSONValue(got)
			if err != nil || math.Float64bits(back.(float64)) != math.Float64bits(f) {
				t.Errorf("%v: read back %#v, %v", f, back, err)
			}
		}
	}
}

func TestMsgpackValues(t *testing.T) {
	// [16, 1, {}, "t", [<item>]] with the item in raw msgpack.
	frame := func(item string) []byte { return []byte("\x95\x10\x01\x80\xa1t\x91" + item) }
	cases := []struct {
		item string
		want any
	}{
		{"\x7f", int64(127)},
		{"\xe0", int64(-32)},
		{"\xcc\xff", int64(255)},
		{"\xce\xff\xff\xff\xff", int64(math.MaxUint32)},
		{"\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", int64(math.MaxInt64)},
		{"\xcf\xff\xff\xff\xff\xff\xff\xff\xff", uint64(math.MaxUint64)},
		{"\xd3\x80\x00\x00\x00\x00\x00\x00\x00", int64(math.MinInt64)},
		{"\xca\x3f\xc0\x00\x00", 1.5},
		{"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", 1.5},
		{"\xa3abc", "abc"},
		{"\xd9\x03abc", "abc"},
		{"\xc4\x03abc", []byte("abc")},
		{"\xc4\x00", []byte{}},
		{"\xc0", nil},
		{"\xd4\x00\x00", nil}, // msgpackr's undefined
		{"\xc3", true},
		{"\x81\xa1k\x92\x01\xc2", map[string]any{"k": []any{int64(1), false}}},
	}
	for _, c := range cases {
		got, err := decodeArg(t, MessagePack, frame(c.item))
		if err != nil || !equalValue(got, c.want) {
			t.Errorf("%x: got %#v, %v; want %#v", c.item, got, err, c.want)
		}
		if _, isStr := c.want.(string); isStr {
			if _, ok := got.(string); !ok {
				t.Errorf("%x: str decoded as %T", c.item, got)
			}
		}
	}
	// Encoding side: str vs bin, shortest ints.
	enc := func(v any) string {
		b, err := encodeValue(MessagePack, v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for v, want := range map[any]string{
		"abc": "\xa3abc", int64(5): "\x05", int64(-1): "\xff", int64(200): "\xcc\xc8",
		int64(1 << 53): "\xcf\x00\x20\x00\x00\x00\x00\x00\x00", 1.5: "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00",
		true: "\xc3", "bad\xff": "\xa6bad\xef\xbf\xbd",
	} {
		if got := enc(v); got != want {
			t.Errorf("encode %#v = %x, want %x", v, got, want)
		}
	}
	if got := enc([]byte("abc")); got != "\xc4\x03abc" {
		t.Errorf("encode bytes = %x", got)
	}
	if got := enc([]byte(nil)); got != "\xc4\x00" {
		t.Errorf("encode nil bytes = %x", got)
	}
}

func TestCBORValues(t *testing.T) {
	// [16, 1, {}, "t", [<item>]] with the item in raw CBOR.
	frame := func(item string) []byte { return []byte("\x85\x10\x01\xa0\x61t\x81" + item) }
	cases := []struct {
		item string
		want any
	}{
		{"\x17", int64(23)},
		{"\x18\x18", int64(24)},
		{"\x20", int64(-1)},
		{"\x1b\x7f\xff\xff\xff\xff\xff\xff\xff", int64(math.MaxInt64)},
		{"\x1b\xff\xff\xff\xff\xff\xff\xff\xff", uint64(math.MaxUint64)},
		{"\x3b\x7f\xff\xff\xff\xff\xff\xff\xff", int64(math.MinInt64)},
		{"\xf9\x3e\x00", 1.5},         // half
		{"\xfa\x3f\xc0\x00\x00", 1.5}, // single
		{"\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00", 1.5},
		{"\x63abc", "abc"},
		{"\x43abc", []byte("abc")},
		{"\x7f\x61a\x62bc\xff", "abc"},         // indefinite text
		{"\x5f\x41a\x42bc\xff", []byte("abc")}, // indefinite bytes
		{"\x9f\x01\x02\xff", []any{int64(1), int64(2)}},
		{"\xbf\x61k\x01\xff", map[string]any{"k": int64(1)}},
		{"\xf6", nil},
		{"\xf7", nil}, // undefined
		{"\xf5", true},
		{"\xd9\xd9\xf7\x01", int64(1)}, // self-describe tag
		{"\xc2\x41\x05", int64(5)},     // bignum that fits
		{"\xc2\x48\xff\xff\xff\xff\xff\xff\xff\xff", uint64(math.MaxUint64)},
		{"\xc3\x41\x05", int64(-6)},
		{"\xc1\x1a\x00\x00\x00\x00", "1970-01-01T00:00:00Z"}, // epoch time tag
	}
	for _, c := range cases {
		got, err := decodeArg(t, CBOR, frame(c.item))
		if err != nil || !equalValue(got, c.want) {
			t.Errorf("%x: got %#v, %v; want %#v", c.item, got, err, c.want)
		}
	}
	// Indefinite-length top level and options dict.
	if _, err := CBOR.Decode([]byte("\x9f\x10\x01\xbf\xff\x61t\xff")); err != nil {
		t.Errorf("indefinite message: %v", err)
	}
	enc := func(v any) string {
		b, err := encodeValue(CBOR, v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for v, want := range map[any]string{
		int64(0): "\x00", int64(23): "\x17", int64(24): "\x18\x18", int64(255): "\x18\xff", int64(256): "\x19\x01\x00",
		int64(65536): "\x1a\x00\x01\x00\x00", int64(1 << 32): "\x1b\x00\x00\x00\x01\x00\x00\x00\x00",
		int64(-1): "\x20", int64(-25): "\x38\x18", int64(math.MinInt64): "\x3b\x7f\xff\xff\xff\xff\xff\xff\xff",
		uint64(math.MaxUint64): "\x1b\xff\xff\xff\xff\xff\xff\xff\xff",
		"abc":                  "\x63abc", 1.5: "\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00", false: "\xf4", "x\xff": "\x64x\xef\xbf\xbd",
	} {
		if got := enc(v); got != want {
			t.Errorf("encode %#v = %x, want %x", v, got, want)
		}
	}
	if got := enc([]byte("abc")); got != "\x43abc" {
		t.Errorf("encode bytes = %x", got)
	}
	if got := enc(nil); got != "\xf6" {
		t.Errorf("encode nil = %x", got)
	}
}

// Serializers are stateless (pools aside) and safe for concurrent use.
func TestConcurrentUse(t *testing.T) {
	msgs := sampleMessages()
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				s := serializers[(g+i)%len(serializers)]
				m := msgs[i%len(msgs)]
				b, err := s.Encode(nil, m)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := s.Decode(b)
				if err != nil || !equalMessage(m, got) {
					t.Errorf("%s: %v", s.Name(), err)
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}
