package cluster

import (
	"testing"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/spec"
)

// Meta calls and their answers come from other nodes: untrusted input.

func FuzzDecodeMetaCall(f *testing.F) {
	seed, err := encodeMetaCall("realm1", &spec.Call{Procedure: "wamp.session.kill", Arguments: spec.List{int64(5)}, ArgumentsKw: spec.Dict{"reason": "a.b"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{0x94, 0x30, 0x01, 0x80, 0xa1, 0x61})
	f.Fuzz(func(t *testing.T, b []byte) {
		realm, c, err := decodeMetaCall(b)
		if err != nil {
			return
		}
		if realm == "" || !spec.IsReservedURI(c.Procedure) {
			t.Fatalf("decoded a meta call for realm %q, procedure %q", realm, c.Procedure)
		}
	})
}

func FuzzDecodeMetaAnswer(f *testing.F) {
	for _, a := range []router.MetaAnswer{{Arguments: spec.List{int64(3)}}, {Error: spec.ErrNoSuchSession}} {
		b, err := encodeMetaAnswer(a)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeMetaAnswer(b)
		if err != nil {
			return
		}
		// What decodes is a well-formed answer: it encodes again.
		if _, err := encodeMetaAnswer(a); err != nil {
			t.Fatalf("decoded answer %+v does not encode: %v", a, err)
		}
	})
}
