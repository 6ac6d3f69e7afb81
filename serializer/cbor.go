package serializer

import (
	"encoding/binary"
	"math"
	"math/big"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"github.com/switchyard/switchyard/spec"
)

// CBOR is the CBOR serializer (RFC 8949; wamp.2.cbor, RawSocket serializer
// 3). []byte is a byte string (major type 2), string a text string (major
// type 3).
//
// Decoding uses fxamacker/cbor, which checks well-formedness before it
// allocates, accepts definite and indefinite lengths and enforces the
// limits below. Encoding is a small hand-written writer for the value
// model: shortest-form heads, definite lengths, float64 for floats, sorted
// map keys. It needs no reflection and no allocation beyond dst.
var CBOR Serializer = cborSerializer{}

type cborSerializer struct{}

func (cborSerializer) Name() string { return "cbor" }
func (cborSerializer) Binary() bool { return true }

// cborDecMode is built once; a DecMode is immutable and safe for
// concurrent use.
var cborDecMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		// Two different values for one key are ambiguous: which one did
		// the router authorize? Refuse them.
		DupMapKey:       cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels: maxDepth,
		// A frame is at most 16 MiB and every element takes a byte; the
		// library checks well-formedness before allocating, so a forged
		// count fails without cost.
		MaxArrayElements: 1 << 24,
		MaxMapPairs:      1 << 24,
		IndefLength:      cbor.IndefLengthAllowed,
		// Tags are allowed so that bignums (2, 3) that fit 64 bits and
		// the self-describe tag 55799 decode; any other tag ends up as a
		// cbor.Tag and is refused in normalizeCBOR. Time tags become
		// RFC 3339 strings, the RFC's own suggestion for JSON-like models.
		TagsMd:         cbor.TagsAllowed,
		TimeTagToAny:   cbor.TimeTagToRFC3339Nano,
		IntDec:         cbor.IntDecConvertSignedOrBigInt,
		BigIntDec:      cbor.BigIntDecodePointer,
		DefaultMapType: reflect.TypeOf(map[string]any(nil)),
		UTF8:           cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic("serializer: CBOR decode options: " + err.Error())
	}
	return dm
}()

// Decode parses one CBOR message: exactly one data item, no trailing bytes.
// Integers become int64 (uint64 above MaxInt64); floats of every width
// become float64; undefined becomes nil. Non-text map keys, duplicate keys,
// simple values other than false/true/null/undefined, unknown tags and
// integers beyond 64 bits are protocol errors.
func (cborSerializer) Decode(b []byte) (spec.Message, error) {
	v, err := decodeCBORValue(b)
	if err != nil {
		return nil, err
	}
	return fromValue("cbor", v)
}

func decodeCBORValue(b []byte) (any, error) {
	var v any
	if err := cborDecMode.Unmarshal(b, &v); err != nil {
		return nil, protocolError("cbor", strings.TrimPrefix(err.Error(), "cbor: "))
	}
	v, err := normalizeCBOR(v)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// normalizeCBOR checks that v holds only value-model types and converts the
// few the library produces otherwise. Lists and maps are fixed in place.
func normalizeCBOR(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64, uint64, float64, string, []byte:
		return v, nil
	case []any:
		for i, e := range x {
			n, err := normalizeCBOR(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	case map[string]any:
		for k, e := range x {
			switch e.(type) {
			case nil, bool, int64, float64, string, []byte:
				continue // the common case: no write-back
			}
			n, err := normalizeCBOR(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
		return x, nil
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), nil
		}
		if x.IsUint64() {
			return x.Uint64(), nil
		}
		return nil, protocolError("cbor", "integer out of range")
	case float32:
		return float64(x), nil
	}
	return nil, protocolError("cbor", "unsupported data item")
}

// Encode appends m in CBOR.
func (cborSerializer) Encode(dst []byte, m spec.Message) ([]byte, error) {
	if h, ok := hotHeadOf(m); ok && h.fast("cbor") {
		out, err := appendCBORHot(dst, &h)
		if err != nil {
			return dst, err
		}
		return out, nil
	}
	return encodeCBORList(dst, m)
}

// appendCBORHot writes h (see hotHead).
func appendCBORHot(b []byte, h *hotHead) ([]byte, error) {
	b = appendCBORHead(b, cborArray, uint64(h.elems()))
	b = appendCBORInt(b, int64(h.typ))
	for _, id := range h.ids[:h.nids] {
		b = appendCBORInt(b, int64(id))
	}
	var err error
	if len(h.details) == 0 {
		b = append(b, cborMap) // {}
	} else if b, err = appendCBOR(b, h.details, 1); err != nil {
		return b, err
	}
	switch {
	case h.raw.N > 0:
		b = append(b, h.raw.Bytes...)
	case len(h.kwargs) > 0:
		if b, err = appendCBORList(b, h.argsOrEmpty(), 1); err != nil {
			return b, err
		}
		return appendCBOR(b, h.kwargs, 1)
	case len(h.args) > 0:
		return appendCBORList(b, h.args, 1)
	}
	return b, nil
}

// encodeCBORList encodes m through its list form (spec.ToList).
func encodeCBORList(dst []byte, m spec.Message) ([]byte, error) {
	if raw, ok := spliceable(m, "cbor"); ok {
		l := spec.HeadList(m)
		out := appendCBORHead(dst, cborArray, uint64(len(l)+raw.N))
		for _, e := range l {
			var err error
			if out, err = appendCBOR(out, e, 1); err != nil {
				return dst, err
			}
		}
		return append(out, raw.Bytes...), nil
	}
	l, err := toList(m)
	if err != nil {
		return dst, err
	}
	out, err := appendCBORList(dst, l, 0)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// CBOR major types, shifted into the initial byte's high three bits.
const (
	cborUint   = 0 << 5
	cborNeg    = 1 << 5
	cborBytes  = 2 << 5
	cborText   = 3 << 5
	cborArray  = 4 << 5
	cborMap    = 5 << 5
	cborSimple = 7 << 5
)

// appendCBORHead writes a major type with its argument in shortest form.
func appendCBORHead(b []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(b, major|byte(n))
	case n <= math.MaxUint8:
		return append(b, major|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, major|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, major|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, major|27), n)
}

func appendCBORInt(b []byte, n int64) []byte {
	if n >= 0 {
		return appendCBORHead(b, cborUint, uint64(n))
	}
	return appendCBORHead(b, cborNeg, uint64(-1-n))
}

func appendCBORFloat(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, cborSimple|27), math.Float64bits(f))
}

// appendCBORText writes a text string. RFC 8949 text is UTF-8 and decoders
// (ours included) reject anything else, so invalid bytes become U+FFFD.
func appendCBORText(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	b = appendCBORHead(b, cborText, uint64(len(s)))
	return append(b, s...)
}

func appendCBOR(b []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, cborSimple|22), nil
	case bool:
		if v {
			return append(b, cborSimple|21), nil
		}
		return append(b, cborSimple|20), nil
	case int64:
		return appendCBORInt(b, v), nil
	case uint64:
		return appendCBORHead(b, cborUint, v), nil
	case float64:
		return appendCBORFloat(b, v), nil
	case string:
		return appendCBORText(b, v), nil
	case []byte:
		b = appendCBORHead(b, cborBytes, uint64(len(v)))
		return append(b, v...), nil
	case []any:
		return appendCBORList(b, v, depth)
	case map[string]any:
		if depth >= maxDepth {
			return b, errTooDeep
		}
		b = appendCBORHead(b, cborMap, uint64(len(v)))
		var buf [16]string
		for _, k := range sortKeys(v, buf[:]) {
			b = appendCBORText(b, k)
			var err error
			if b, err = appendCBOR(b, v[k], depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	if c, ok := v.(*Constant); ok {
		return append(b, c.cbor...), nil
	}
	s, ok := asScalar(v)
	if !ok {
		return b, unsupported(v)
	}
	switch s.kind {
	case 'i':
		return appendCBORInt(b, s.i), nil
	case 'u':
		return appendCBORHead(b, cborUint, s.u), nil
	case 'f':
		return appendCBORFloat(b, s.f), nil
	}
	return appendCBORText(b, s.s), nil
}

// appendCBORList is the []any case of appendCBOR, callable without boxing
// the slice in an interface (which would allocate).
func appendCBORList(b []byte, l []any, depth int) ([]byte, error) {
	if depth >= maxDepth {
		return b, errTooDeep
	}
	b = appendCBORHead(b, cborArray, uint64(len(l)))
	for _, e := range l {
		var err error
		if b, err = appendCBOR(b, e, depth+1); err != nil {
			return b, err
		}
	}
	return b, nil
}
