package cluster

import (
	"bytes"
	"testing"
	"time"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// Every node decodes what other nodes send as untrusted input: no input
// may panic it, and what decodes must be well-formed.

func FuzzDecodeControl(f *testing.F) {
	f.Add((&control{Kind: kindInterest, Name: "n", Token: "t", Seq: 3, Realm: "r", Match: "prefix", Topic: "a.b", Add: true}).encode())
	f.Add((&control{Kind: kindHeartbeat, Name: "n", Token: "t", Seq: 1}).encode())
	f.Add([]byte(`{"k":"int","t":"x","m":"bogus"}`))
	f.Add((&control{Kind: kindJoined, Name: "n", Token: "t", Seq: 4, Realm: "r", Session: 42, AuthID: "a", AuthRole: "b"}).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeControl(b)
		if err != nil {
			return
		}
		if c.Token == "" || c.Kind == "" {
			t.Fatalf("decoded %+v without token or kind", c)
		}
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add((&snapshot{Name: "n", Seq: 2, Interest: []pattern{{Realm: "r", Match: "exact", Topic: "t"}}}).encode())
	f.Add([]byte(`{"i":[{"r":""}]}`))
	f.Add((&snapshot{Name: "n", Seq: 2, Sessions: []snapSession{{Realm: "r", ID: 5, AuthID: "a", AuthRole: "b"}}}).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSnapshot(b)
		if err != nil {
			return
		}
		p := &peer{interest: map[string]*interestSet{}}
		for _, it := range s.Interest {
			p.apply(it.Realm, it.Match, it.Topic, true)
		}
		for _, it := range s.Interest {
			p.interested(it.Realm, it.Topic)
		}
	})
}

func FuzzDecodeEvent(f *testing.F) {
	seed, err := encodeEvent("realm1", &router.RemoteEvent{
		Publication: 7, Topic: "a.b", Options: spec.Dict{"exclude": []any{int64(3)}},
		Arguments: spec.List{"x", int64(1)}, Disclose: true, Publisher: 9, PublisherAuthID: "id", PublisherAuthRole: "role",
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{0x95, 0x10, 0x01, 0x80, 0xa1, 0x61})
	for _, r := range rawSeeds() {
		b, err := encodeEvent("realm1", &router.RemoteEvent{Publication: 7, Topic: "a.b", Options: spec.Dict{}, Raw: r})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		realm, e, err := decodeEvent(b)
		if err != nil {
			return
		}
		if realm == "" || e.Topic == "" {
			t.Fatalf("decoded an event without realm or topic: %q %+v", realm, e)
		}
		if _, ok := e.Options[keyRealm]; ok {
			t.Fatal("the cluster's own keys reached the broker")
		}
		checkCarried(t, e.Options, e.Arguments, e.ArgumentsKw, e.Raw)
	})
}

// The event encoding round-trips what a receiving broker needs.
func TestEventRoundTrip(t *testing.T) {
	in := &router.RemoteEvent{
		Publication: 7, Topic: "a.b", Options: spec.Dict{"eligible_authid": []any{"x"}},
		Arguments: spec.List{"x", int64(1)}, ArgumentsKw: spec.Dict{"k": "v"}, Disclose: true,
		Publisher: 9, PublisherAuthID: "id", PublisherAuthRole: "role",
	}
	b, err := encodeEvent("realm1", in)
	if err != nil {
		t.Fatal(err)
	}
	realm, out, err := decodeEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if realm != "realm1" || out.Publication != 7 || out.Topic != "a.b" || !out.Disclose || out.Publisher != 9 ||
		out.PublisherAuthID != "id" || out.PublisherAuthRole != "role" || out.ArgumentsKw["k"] != "v" ||
		len(out.Options) != 1 || out.Arguments[0] != "x" {
		t.Fatalf("round trip: %+v", out)
	}
}

func FuzzDecodeSessions(f *testing.F) {
	f.Add([]byte{0x93, 0x32, 0x01, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := decodeSessions(b)
		if err != nil {
			return
		}
		for _, d := range ds {
			if _, ok := spec.AsID(d["session"]); !ok {
				t.Fatalf("session details without a session ID: %v", d)
			}
		}
	})
}

// rawSeeds are raw payloads as client transports keep them, to seed the
// fuzzers of the messages that carry one.
func rawSeeds() []spec.Raw {
	return []spec.Raw{
		{Format: "msgpack", N: 1, Bytes: []byte{0x92, 0xca, 0x3f, 0xc0, 0x00, 0x00, 0xc4, 0x01, 0xff}},
		{Format: "msgpack", N: 2, Bytes: []byte{0x90, 0x82, 0xa1, 'z', 0x01, 0xa1, 'a', 0xc0}},
		{Format: "json", N: 2, Bytes: []byte(`[1.50, "x"], {"k": [true]}`)},
		{Format: "cbor", N: 1, Bytes: []byte{0x81, 0x01}},
		{Format: "msgpack", N: 1, Bytes: []byte{0x91, 0xc1}},
	}
}

// checkCarried asserts what a decoded payload promises the router: the
// carrier key is gone, and a raw payload is one the scanners vouch for
// (so it may be spliced into a client's frame) and decodes, with nothing
// beside it.
func checkCarried(t *testing.T, opts spec.Dict, args spec.List, kwargs spec.Dict, r spec.Raw) {
	t.Helper()
	if _, ok := opts[keyPayload]; ok {
		t.Fatal("the payload carrier key reached the router")
	}
	if r.N == 0 {
		return
	}
	if len(args) > 0 || len(kwargs) > 0 {
		t.Fatal("a raw payload beside values")
	}
	if !serializer.CheckRaw(r) {
		t.Fatalf("a raw payload the scanners do not vouch for: %+v", r)
	}
	if _, _, err := spec.Payload(nil, nil, r); err != nil {
		t.Fatalf("a vouched-for raw payload does not decode: %v", err)
	}
}

// A carried payload comes back raw when a scanner vouches for it, as
// values when only the eager decoder accepts it (a CBOR tag), and not at
// all when it is malformed: unchecked bytes never reach a frame.
func TestCarriedPayload(t *testing.T) {
	for _, c := range []struct {
		name  string
		raw   spec.Raw
		ok    bool
		isRaw bool
	}{
		{"msgpack", spec.Raw{Format: "msgpack", N: 2, Bytes: []byte{0x91, 0xca, 0x3f, 0xc0, 0x00, 0x00, 0x81, 0xa1, 'k', 0x01}}, true, true},
		{"json", spec.Raw{Format: "json", N: 2, Bytes: []byte(`[1.50] , {"k": 1}`)}, true, true},
		{"cbor", spec.Raw{Format: "cbor", N: 1, Bytes: []byte{0x82, 0x01, 0x61, 'x'}}, true, true},
		{"cbor with a tag", spec.Raw{Format: "cbor", N: 1, Bytes: []byte{0x81, 0xc2, 0x41, 0x01}}, true, false},
		{"truncated", spec.Raw{Format: "msgpack", N: 1, Bytes: []byte{0x92, 0x01}}, false, false},
		{"trailing bytes", spec.Raw{Format: "msgpack", N: 1, Bytes: []byte{0x91, 0x01, 0x01}}, false, false},
		{"kwargs not a dict", spec.Raw{Format: "json", N: 2, Bytes: []byte(`[1], [2]`)}, false, false},
		{"unknown format", spec.Raw{Format: "xml", N: 1, Bytes: []byte(`<a/>`)}, false, false},
		{"three elements", spec.Raw{Format: "msgpack", N: 3, Bytes: []byte{0x90, 0x80, 0x80}}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := encodeEvent("realm1", &router.RemoteEvent{Publication: 7, Topic: "a.b", Options: spec.Dict{}, Raw: c.raw})
			if err != nil {
				t.Fatal(err)
			}
			_, e, err := decodeEvent(b)
			if (err == nil) != c.ok {
				t.Fatalf("decode error %v, want ok=%v", err, c.ok)
			}
			if err != nil {
				return
			}
			if got := e.Raw.N > 0; got != c.isRaw {
				t.Fatalf("raw=%v, want %v (%+v)", got, c.isRaw, e)
			}
			if c.isRaw && (e.Raw.Format != c.raw.Format || !bytes.Equal(e.Raw.Bytes, c.raw.Bytes)) {
				t.Fatalf("raw payload changed on the way: %+v", e.Raw)
			}
			if !c.isRaw && len(e.Arguments) == 0 {
				t.Fatalf("payload lost: %+v", e)
			}
		})
	}
}

func FuzzDecodeKept(f *testing.F) {
	seed, err := encodeKept("realm1", &router.KeptEvent{
		RemoteEvent: router.RemoteEvent{Publication: 7, Topic: "a.b", Options: spec.Dict{"retain": true}, Arguments: spec.List{"x"}, Publisher: 9},
		Retained:    true, History: true, When: time.Unix(1700000000, 5),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	plain, err := encodeEvent("realm1", &router.RemoteEvent{Publication: 7, Topic: "a.b", Options: spec.Dict{}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain) // an event without the kept flags
	f.Fuzz(func(t *testing.T, b []byte) {
		realm, k, err := decodeKept(b)
		if err != nil {
			return
		}
		if realm == "" {
			t.Fatal("decoded a kept event without realm")
		}
		if _, ok := k.Options[keyKept]; ok {
			t.Fatal("the kept flags stayed in the options")
		}
		again, err := encodeKept(realm, k)
		if err != nil {
			return // values the decoder accepts but MessagePack cannot carry back are not a fault here
		}
		_, k2, err := decodeKept(again)
		if err != nil || k2.Retained != k.Retained || k2.History != k.History || !k2.When.Equal(k.When) {
			t.Fatalf("kept event does not survive a round trip: %+v, %v", k2, err)
		}
	})
}
