package cluster

import (
	"testing"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// FuzzDecodeRPC: a forwarded CALL, YIELD, ERROR or CANCEL from another node
// is untrusted input; what decodes names its realm, and a call its node.
func FuzzDecodeRPC(f *testing.F) {
	add := func(m spec.Message) {
		b, err := serializer.MessagePack.Encode(nil, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	add(&spec.Call{Request: 7, Options: spec.Dict{keyRealm: "r", keyFrom: "t", keyCaller: []any{int64(5), "a", "b", true}}, Procedure: "com.x"})
	add(&spec.Call{Request: 7, Options: spec.Dict{keyRealm: "r", keyFrom: "t", keyCaller: []any{int64(5), "a", "b", false}, keyContinue: true}, Procedure: continueProcedure})
	add(&spec.Yield{Request: 7, Options: spec.Dict{keyRealm: "r", "progress": true}, Arguments: spec.List{1}})
	add(&spec.Error{RequestType: spec.TypeCall, Request: 7, Details: spec.Dict{keyRealm: "r"}, Error: "wamp.error.canceled"})
	add(&spec.Cancel{Request: 7, Options: spec.Dict{keyRealm: "r", keyFrom: "t", "mode": "kill"}})
	add(&spec.Call{Request: 7, Options: spec.Dict{keyRealm: "r"}, Procedure: "com.x"})
	for _, r := range rawSeeds() {
		add(&spec.Call{Request: 7, Options: spec.Dict{keyRealm: "r", keyFrom: "t", keyCaller: []any{int64(5), "a", "b", true},
			keyPayload: []any{r.Format, int64(r.N), r.Bytes}}, Procedure: "com.x"})
		add(&spec.Yield{Request: 7, Options: spec.Dict{keyRealm: "r", keyPayload: []any{r.Format, int64(r.N), r.Bytes}}})
		add(&spec.Error{RequestType: spec.TypeCall, Request: 7, Details: spec.Dict{keyRealm: "r", keyPayload: []any{r.Format, int64(r.N), r.Bytes}}, Error: "com.e"})
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeRPC(b)
		if err != nil {
			return
		}
		if m.realm == "" {
			t.Fatal("decoded an RPC message without realm")
		}
		if m.call != nil && m.from == "" {
			t.Fatal("decoded a call without its node")
		}
		if m.call == nil && m.reply == nil && m.from == "" {
			t.Fatal("decoded a cancel without its node")
		}
		if c := m.call; c != nil {
			checkCarried(t, c.Options, c.Arguments, c.ArgumentsKw, c.Raw)
		}
		if r := m.reply; r != nil {
			checkCarried(t, r.Details, r.Arguments, r.ArgumentsKw, r.Raw)
		}
	})
}
