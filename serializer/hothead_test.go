package serializer

import (
	"bytes"
	"testing"

	"github.com/switchyard/switchyard/spec"
)

// TestFastEncodeMatchesGeneric: INVOCATION, RESULT and EVENT written straight from
// the struct are the bytes the list form gives, for every payload shape,
// and an unencodable value fails on both paths.
func TestFastEncodeMatchesGeneric(t *testing.T) {
	formats := []struct {
		s       Serializer
		generic func([]byte, spec.Message) ([]byte, error)
	}{{MessagePack, encodeMsgpackList}, {JSON, encodeJSONList}, {CBOR, encodeCBORList}}
	args, kwargs := crossingPayload()
	raw := spec.Raw{Format: "msgpack", N: 2, Bytes: []byte{0x91, 0x01, 0x81, 0xa1, 'k', 0xc3}}
	payloads := []struct {
		name   string
		args   spec.List
		kwargs spec.Dict
		raw    spec.Raw
	}{
		{"none", nil, nil, spec.Raw{}},
		{"empty args", spec.List{}, nil, spec.Raw{}},
		{"args", args, nil, spec.Raw{}},
		{"kwargs only", nil, kwargs, spec.Raw{}},
		{"both", args, kwargs, spec.Raw{}},
		{"raw", nil, nil, raw},
	}
	for _, p := range payloads {
		for _, details := range []spec.Dict{nil, {}, {"progress": true, "procedure": "a.b", "caller": int64(1) << 52}} {
			for _, m := range []spec.Message{
				&spec.Invocation{Request: 1<<53 - 1, Registration: 300, Details: details, Arguments: p.args, ArgumentsKw: p.kwargs, Raw: p.raw},
				&spec.Result{Request: 7, Details: details, Arguments: p.args, ArgumentsKw: p.kwargs, Raw: p.raw},
				&spec.Event{Subscription: 5, Publication: 1 << 40, Details: details, Arguments: p.args, ArgumentsKw: p.kwargs, Raw: p.raw},
			} {
				for _, f := range formats {
					if p.raw.N > 0 && f.s != MessagePack {
						continue // transcoded through the list form
					}
					fast, err := f.s.Encode([]byte("prefix"), m)
					if err != nil {
						t.Fatalf("%s %s %T: %v", f.s.Name(), p.name, m, err)
					}
					generic, err := f.generic([]byte("prefix"), m)
					if err != nil {
						t.Fatalf("%s %s %T generic: %v", f.s.Name(), p.name, m, err)
					}
					if !bytes.Equal(fast, generic) {
						t.Fatalf("%s %s %T details %v:\n fast    % x\n generic % x", f.s.Name(), p.name, m, details, fast, generic)
					}
				}
			}
		}
	}
	// A raw payload of the encoder's own format is spliced on both paths.
	for _, f := range formats {
		y, err := DecodeRaw(f.s, mustEncode(t, f.s, &spec.Yield{Request: 1, Options: spec.Dict{}, Arguments: args, ArgumentsKw: kwargs}))
		if err != nil {
			t.Fatal(err)
		}
		r, ok := spec.RawOf(y)
		if !ok {
			t.Fatalf("%s: the YIELD's payload did not stay raw", f.s.Name())
		}
		m := &spec.Result{Request: 9, Details: spec.Dict{"progress": true}, Raw: r}
		fast, err1 := f.s.Encode(nil, m)
		generic, err2 := f.generic(nil, m)
		if err1 != nil || err2 != nil || !bytes.Equal(fast, generic) {
			t.Fatalf("%s raw RESULT:\n fast    % x (%v)\n generic % x (%v)", f.s.Name(), fast, err1, generic, err2)
		}
	}
	bad := &spec.Result{Request: 1, Details: spec.Dict{}, Arguments: spec.List{struct{}{}}}
	for _, f := range formats {
		if _, err := f.s.Encode(nil, bad); err == nil {
			t.Fatalf("%s: an unencodable argument encoded", f.s.Name())
		}
		if _, err := f.generic(nil, bad); err == nil {
			t.Fatalf("%s: the generic path encoded an unencodable argument", f.s.Name())
		}
	}
	// A payload of another format still goes through the list form.
	jsonRaw := &spec.Result{Request: 1, Details: spec.Dict{}, Raw: spec.Raw{Format: "json", N: 1, Bytes: []byte(`["x"]`)}}
	b, err := MessagePack.Encode(nil, jsonRaw)
	if err != nil {
		t.Fatal(err)
	}
	if m := mustDecode(t, MessagePack, b).(*spec.Result); !equalValue(m.Arguments, spec.List{"x"}) {
		t.Fatalf("a JSON payload in a msgpack RESULT: %#v", m)
	}
}

// TestHotMsgpackHead: CALL, PUBLISH and YIELD heads with empty options are
// built straight from the bytes, as the generic decoder builds them, for
// every width of request ID; an ID out of range is still Decode's error,
// and a head with options takes the generic path.
func TestHotMsgpackHead(t *testing.T) {
	for _, id := range []spec.ID{1, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, spec.MaxID} {
		for _, m := range []spec.Message{
			&spec.Call{Request: id, Options: spec.Dict{}, Procedure: "com.p", Arguments: spec.List{"x"}},
			&spec.Publish{Request: id, Options: spec.Dict{}, Topic: "com.t", Arguments: spec.List{int64(1)}, ArgumentsKw: spec.Dict{"k": true}},
			&spec.Yield{Request: id, Options: spec.Dict{}, Arguments: spec.List{"y"}},
			&spec.Call{Request: id, Options: spec.Dict{"receive_progress": true}, Procedure: "com.p", Arguments: spec.List{"x"}},
		} {
			b := mustEncode(t, MessagePack, m)
			checkRaw(t, MessagePack, b)
			got, err := DecodeRaw(MessagePack, b)
			if err != nil {
				t.Fatal(err)
			}
			if _, raw := spec.RawOf(got); !raw {
				t.Fatalf("%#v did not stay raw", got)
			}
		}
	}
	// IDs 0 and 2^53 + 1 (uint 64), a negative type: the generic verdict.
	for _, b := range [][]byte{
		{0x95, 0x30, 0x00, 0x80, 0xa1, 'p', 0x90},
		{0x95, 0x30, 0xcf, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x80, 0xa1, 'p', 0x90},
		{0x95, 0xd0, 0x30, 0x01, 0x80, 0xa1, 'p', 0x90},
	} {
		checkRaw(t, MessagePack, b)
	}
	call := mustEncode(t, MessagePack, &spec.Call{Request: 1 << 20, Options: spec.Dict{}, Procedure: "com.example.proc", Arguments: spec.List{[]byte("0123456789abcdef")}})
	if allocs := testing.AllocsPerRun(100, func() { _, _ = DecodeRaw(MessagePack, call) }); allocs > 3 {
		t.Errorf("decoding a CALL with empty options allocates %.0f times, want at most 3 (message, procedure, payload)", allocs)
	}
}
