package serializer

import (
	"bytes"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/switchyard/switchyard/spec"
)

// serializers is every built-in serializer, by name, for table tests.
var serializers = []Serializer{JSON, MessagePack, CBOR}

// encodeValue writes a raw value-model value (not a message) in s's format,
// so tests can build frames that are not valid WAMP.
func encodeValue(s Serializer, v any) ([]byte, error) {
	switch s {
	case JSON:
		return appendJSON(nil, v, 0)
	case CBOR:
		return appendCBOR(nil, v, 0)
	case MessagePack:
		e := msgpackEncoders.Get().(*msgpackEncoder)
		defer msgpackEncoders.Put(e)
		e.w.b = nil
		err := e.value(v, 0)
		out := e.w.b
		e.w.b = nil
		return out, err
	}
	panic("unknown serializer")
}

// equalValue compares two value-model values semantically: integers by
// value whatever their Go type, floats by bits (so NaN equals NaN), nil and
// empty []byte alike.
func equalValue(a, b any) bool {
	if ai, ok := intOf(a); ok {
		bi, ok := intOf(b)
		return ok && ai == bi
	}
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		bb, ok := b.(bool)
		return ok && a == bb
	case float64:
		bf, ok := b.(float64)
		return ok && (a == bf || math.Float64bits(a) == math.Float64bits(bf) || math.IsNaN(a) && math.IsNaN(bf))
	case string:
		bs, ok := b.(string)
		return ok && a == bs
	case []byte:
		bb, ok := b.([]byte)
		return ok && bytes.Equal(a, bb)
	case []any:
		bl, ok := b.([]any)
		if !ok || len(a) != len(bl) {
			return false
		}
		for i := range a {
			if !equalValue(a[i], bl[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, v := range a {
			w, ok := bm[k]
			if !ok || !equalValue(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

// bigint is any value-model integer as sign and magnitude, so int64 and
// uint64 compare by value.
type bigint struct {
	neg bool
	abs uint64
}

func intOf(v any) (bigint, bool) {
	switch n := v.(type) {
	case int64:
		if n < 0 {
			return bigint{true, uint64(-n)}, true
		}
		return bigint{false, uint64(n)}, true
	case uint64:
		return bigint{false, n}, true
	case int:
		return intOf(int64(n))
	}
	return bigint{}, false
}

// equalMessage compares two messages through their wire lists, so that
// nil and empty payloads, and the two forms of a passthru payload, compare
// equal as they do on the wire.
func equalMessage(a, b spec.Message) bool {
	if a == nil || b == nil {
		return a == b
	}
	return equalValue(spec.ToList(a), spec.ToList(b))
}

func isProtocolError(err error) bool {
	var pe *spec.ProtocolError
	return errors.As(err, &pe)
}

func mustEncode(t testing.TB, s Serializer, m spec.Message) []byte {
	t.Helper()
	b, err := s.Encode(nil, m)
	if err != nil {
		t.Fatalf("%s: Encode(%#v): %v", s.Name(), m, err)
	}
	return b
}

func mustDecode(t testing.TB, s Serializer, b []byte) spec.Message {
	t.Helper()
	m, err := s.Decode(b)
	if err != nil {
		t.Fatalf("%s: Decode(%x): %v", s.Name(), b, err)
	}
	return m
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }
