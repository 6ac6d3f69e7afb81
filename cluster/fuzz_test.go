package cluster

import (
	"testing"

	"github.com/switchyard/switchyard/router"
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
