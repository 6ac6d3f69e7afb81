package bench

import (
	"strconv"
)

// envelope reads and writes the head of an encoded WAMP message — the
// array header, the type code, IDs, and the options or details dictionary
// — without decoding what follows: the arguments are copied as raw bytes.
// It is how the baseline relay turns a CALL into an INVOCATION, a YIELD into
// a RESULT and a PUBLISH into an EVENT at the least cost any router must
// pay, so that the generator receives the same messages from the relay as
// from a router and does the same work in both runs.
//
// Each format supplies its primitives; the message shapes are written once,
// in rewrite.
type envelope interface {
	// array returns the offset of the first element after the array
	// header at b[0].
	array(b []byte) (int, bool)
	// next returns the offset of the element after the one at i (for JSON,
	// past the separating comma), and the end of the element at i.
	next(b []byte, i int) (nextElem, end int, ok bool)
	// uint reads a non-negative integer at i.
	uint(b []byte, i int) (uint64, bool)
	// appendHead appends a new array header for n elements, where the
	// original header was orig (JSON: "[").
	appendHead(dst, orig []byte, n int) []byte
	// appendUint appends an integer element, separated as an element
	// following another (JSON: a leading comma unless first).
	appendUint(dst []byte, v uint64, first bool) []byte
	// appendEmptyDict appends {} as a following element.
	appendEmptyDict(dst []byte) []byte
	// appendEnd closes an array that appendHead opened for exactly the
	// elements appended (JSON: "]"; nothing for the binary formats).
	appendEnd(dst []byte) []byte
}

func envelopeFor(format string) envelope {
	switch format {
	case "msgpack":
		return msgpackEnvelope{}
	case "cbor":
		return cborEnvelope{}
	case "json":
		return jsonEnvelope{}
	}
	return nil
}

// header is the parsed head of a message: the bytes of its array header,
// its request (or first) ID, and the offset where the rest — the elements
// after the skipped ones — begins.
type header struct {
	arrayEnd int    // b[:arrayEnd] is the array header
	id       uint64 // element 1
	rest     int    // b[rest:] follows the skipped elements
}

// parseHead reads [Type, ID, skip...] where skip elements follow the ID,
// returning where the remaining elements begin.
func parseHead(e envelope, b []byte, skip int) (header, bool) {
	var h header
	i, ok := e.array(b)
	if !ok {
		return h, false
	}
	h.arrayEnd = i
	i, _, ok = e.next(b, i) // the type code
	if !ok {
		return h, false
	}
	if h.id, ok = e.uint(b, i); !ok {
		return h, false
	}
	end := 0
	for range skip + 1 {
		if i, end, ok = e.next(b, i); !ok {
			return h, false
		}
	}
	_ = i
	h.rest = end
	return h, true
}

// rewrite builds [typ, a, b, {}, <rest of src>]: INVOCATION from CALL,
// EVENT from PUBLISH. The element count is unchanged, so the binary
// formats keep src's array header.
func rewrite4(e envelope, src []byte, h header, typ, a, b uint64) []byte {
	dst := make([]byte, 0, 32+len(src)-h.rest)
	dst = e.appendHead(dst, src[:h.arrayEnd], -1)
	dst = e.appendUint(dst, typ, true)
	dst = e.appendUint(dst, a, false)
	dst = e.appendUint(dst, b, false)
	dst = e.appendEmptyDict(dst)
	return append(dst, src[h.rest:]...)
}

// rewrite3 builds [typ, a, {}, <rest of src>]: RESULT from YIELD.
func rewrite3(e envelope, src []byte, h header, typ, a uint64) []byte {
	dst := make([]byte, 0, 24+len(src)-h.rest)
	dst = e.appendHead(dst, src[:h.arrayEnd], -1)
	dst = e.appendUint(dst, typ, true)
	dst = e.appendUint(dst, a, false)
	dst = e.appendEmptyDict(dst)
	return append(dst, src[h.rest:]...)
}

// build3 builds [typ, a, b]: PUBLISHED.
func build3(e envelope, typ, a, b uint64) []byte {
	dst := make([]byte, 0, 24)
	dst = e.appendHead(dst, nil, 3)
	dst = e.appendUint(dst, typ, true)
	dst = e.appendUint(dst, a, false)
	dst = e.appendUint(dst, b, false)
	return e.appendEnd(dst)
}

// maxSkipDepth bounds nesting while skipping a value: the relay reads
// frames from the network and must not recurse without bound.
const maxSkipDepth = 64

// MessagePack.

type msgpackEnvelope struct{}

func (msgpackEnvelope) array(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	switch c := b[0]; {
	case c >= 0x90 && c <= 0x9f:
		return 1, true
	case c == 0xdc:
		return 3, len(b) >= 3
	case c == 0xdd:
		return 5, len(b) >= 5
	}
	return 0, false
}

func (msgpackEnvelope) next(b []byte, i int) (int, int, bool) {
	end, ok := msgpackSkip(b, i, 0)
	return end, end, ok
}

func (msgpackEnvelope) uint(b []byte, i int) (uint64, bool) {
	if i >= len(b) {
		return 0, false
	}
	c := b[i]
	be := func(n int) (uint64, bool) {
		if i+1+n > len(b) {
			return 0, false
		}
		var v uint64
		for _, x := range b[i+1 : i+1+n] {
			v = v<<8 | uint64(x)
		}
		return v, true
	}
	switch {
	case c <= 0x7f:
		return uint64(c), true
	case c == 0xcc || c == 0xd0:
		return be(1)
	case c == 0xcd || c == 0xd1:
		return be(2)
	case c == 0xce || c == 0xd2:
		return be(4)
	case c == 0xcf || c == 0xd3:
		return be(8)
	}
	return 0, false
}

func (msgpackEnvelope) appendHead(dst, orig []byte, n int) []byte {
	if n < 0 {
		return append(dst, orig...)
	}
	return append(dst, 0x90|byte(n))
}

func (msgpackEnvelope) appendUint(dst []byte, v uint64, _ bool) []byte {
	switch {
	case v <= 0x7f:
		return append(dst, byte(v))
	case v <= 0xff:
		return append(dst, 0xcc, byte(v))
	case v <= 0xffff:
		return append(dst, 0xcd, byte(v>>8), byte(v))
	case v <= 0xffffffff:
		return append(dst, 0xce, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return append(dst, 0xcf, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func (msgpackEnvelope) appendEmptyDict(dst []byte) []byte { return append(dst, 0x80) }
func (msgpackEnvelope) appendEnd(dst []byte) []byte       { return dst }

// msgpackSkip returns the offset after the value at i.
func msgpackSkip(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxSkipDepth {
		return 0, false
	}
	c := b[i]
	size := func(n int) (int, bool) { // big-endian length of n bytes at i+1
		if i+1+n > len(b) {
			return 0, false
		}
		v := 0
		for _, x := range b[i+1 : i+1+n] {
			v = v<<8 | int(x)
		}
		return v, true
	}
	items := func(start, n int) (int, bool) {
		j := start
		for range n {
			var ok bool
			if j, ok = msgpackSkip(b, j, depth+1); !ok {
				return 0, false
			}
		}
		return j, true
	}
	var end int
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		end = i + 1
	case c <= 0x8f:
		return items(i+1, 2*int(c&0x0f))
	case c <= 0x9f:
		return items(i+1, int(c&0x0f))
	case c <= 0xbf:
		end = i + 1 + int(c&0x1f)
	case c == 0xc4 || c == 0xd9:
		n, ok := size(1)
		if !ok {
			return 0, false
		}
		end = i + 2 + n
	case c == 0xc5 || c == 0xda:
		n, ok := size(2)
		if !ok {
			return 0, false
		}
		end = i + 3 + n
	case c == 0xc6 || c == 0xdb:
		n, ok := size(4)
		if !ok {
			return 0, false
		}
		end = i + 5 + n
	case c == 0xca || c == 0xce || c == 0xd2:
		end = i + 5
	case c == 0xcb || c == 0xcf || c == 0xd3:
		end = i + 9
	case c == 0xcc || c == 0xd0:
		end = i + 2
	case c == 0xcd || c == 0xd1:
		end = i + 3
	case c == 0xdc || c == 0xde:
		n, ok := size(2)
		if !ok {
			return 0, false
		}
		if c == 0xde {
			n *= 2
		}
		return items(i+3, n)
	case c == 0xdd || c == 0xdf:
		n, ok := size(4)
		if !ok {
			return 0, false
		}
		if c == 0xdf {
			n *= 2
		}
		return items(i+5, n)
	default: // extension types: not in the WAMP value model
		return 0, false
	}
	return end, end <= len(b)
}

// CBOR.

type cborEnvelope struct{}

func (cborEnvelope) array(b []byte) (int, bool) {
	if len(b) == 0 || b[0]>>5 != 4 {
		return 0, false
	}
	_, i, ok := cborArg(b, 0)
	return i, ok
}

func (cborEnvelope) next(b []byte, i int) (int, int, bool) {
	end, ok := cborSkip(b, i, 0)
	return end, end, ok
}

func (cborEnvelope) uint(b []byte, i int) (uint64, bool) {
	if i >= len(b) || b[i]>>5 != 0 {
		return 0, false
	}
	v, _, ok := cborArg(b, i)
	return v, ok
}

func (cborEnvelope) appendHead(dst, orig []byte, n int) []byte {
	if n < 0 {
		return append(dst, orig...)
	}
	return append(dst, 0x80|byte(n))
}

func (cborEnvelope) appendUint(dst []byte, v uint64, _ bool) []byte {
	switch {
	case v < 24:
		return append(dst, byte(v))
	case v <= 0xff:
		return append(dst, 0x18, byte(v))
	case v <= 0xffff:
		return append(dst, 0x19, byte(v>>8), byte(v))
	case v <= 0xffffffff:
		return append(dst, 0x1a, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return append(dst, 0x1b, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func (cborEnvelope) appendEmptyDict(dst []byte) []byte { return append(dst, 0xa0) }
func (cborEnvelope) appendEnd(dst []byte) []byte       { return dst }

// cborArg reads the argument of the head at i: its value (for
// indefinite-length items, the marker 31 is reported as ok with value
// ^0) and the offset after the head.
func cborArg(b []byte, i int) (uint64, int, bool) {
	if i >= len(b) {
		return 0, 0, false
	}
	info := b[i] & 0x1f
	n := 0
	switch {
	case info < 24:
		return uint64(info), i + 1, true
	case info == 24:
		n = 1
	case info == 25:
		n = 2
	case info == 26:
		n = 4
	case info == 27:
		n = 8
	case info == 31:
		return ^uint64(0), i + 1, true
	default:
		return 0, 0, false
	}
	if i+1+n > len(b) {
		return 0, 0, false
	}
	var v uint64
	for _, x := range b[i+1 : i+1+n] {
		v = v<<8 | uint64(x)
	}
	return v, i + 1 + n, true
}

// cborSkip returns the offset after the item at i.
func cborSkip(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxSkipDepth {
		return 0, false
	}
	major := b[i] >> 5
	v, j, ok := cborArg(b, i)
	if !ok {
		return 0, false
	}
	indefinite := v == ^uint64(0) && b[i]&0x1f == 31
	if indefinite && (major == 0 || major == 1 || major == 6) {
		return 0, false
	}
	items := func(n uint64) (int, bool) {
		for k := uint64(0); k < n; k++ {
			var ok bool
			if j, ok = cborSkip(b, j, depth+1); !ok {
				return 0, false
			}
		}
		return j, true
	}
	untilBreak := func() (int, bool) {
		for {
			if j >= len(b) {
				return 0, false
			}
			if b[j] == 0xff {
				return j + 1, true
			}
			var ok bool
			if j, ok = cborSkip(b, j, depth+1); !ok {
				return 0, false
			}
		}
	}
	switch major {
	case 0, 1:
		return j, true
	case 2, 3:
		if indefinite {
			return untilBreak()
		}
		if v > uint64(len(b)-j) {
			return 0, false
		}
		return j + int(v), true
	case 4:
		if indefinite {
			return untilBreak()
		}
		if v > uint64(len(b)) {
			return 0, false
		}
		return items(v)
	case 5:
		if indefinite {
			return untilBreak()
		}
		if v > uint64(len(b)) {
			return 0, false
		}
		return items(2 * v)
	case 6:
		return cborSkip(b, j, depth+1)
	default: // 7: simple values and floats; the argument was the value
		if indefinite {
			return 0, false
		}
		return j, true
	}
}

// JSON.

type jsonEnvelope struct{}

func (jsonEnvelope) array(b []byte) (int, bool) {
	i := skipJSONSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return 0, false
	}
	return skipJSONSpace(b, i+1), true
}

// next skips the value at i and the comma after it; end is where the value
// ends, so that b[end:] starts with the separator (or the closing bracket).
func (jsonEnvelope) next(b []byte, i int) (int, int, bool) {
	end, ok := jsonSkip(b, i, 0)
	if !ok {
		return 0, 0, false
	}
	j := skipJSONSpace(b, end)
	if j < len(b) && b[j] == ',' {
		j = skipJSONSpace(b, j+1)
	}
	return j, end, true
}

func (jsonEnvelope) uint(b []byte, i int) (uint64, bool) {
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == i {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[i:j]), 10, 64)
	return v, err == nil
}

func (jsonEnvelope) appendHead(dst, _ []byte, _ int) []byte { return append(dst, '[') }

func (jsonEnvelope) appendUint(dst []byte, v uint64, first bool) []byte {
	if !first {
		dst = append(dst, ',')
	}
	return strconv.AppendUint(dst, v, 10)
}

func (jsonEnvelope) appendEmptyDict(dst []byte) []byte { return append(dst, ",{}"...) }
func (jsonEnvelope) appendEnd(dst []byte) []byte       { return append(dst, ']') }

// jsonSkip returns the offset after the value at i.
func jsonSkip(b []byte, i, depth int) (int, bool) {
	i = skipJSONSpace(b, i)
	if i >= len(b) || depth > maxSkipDepth {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, true
			}
		}
		return 0, false
	case c == '[' || c == '{':
		closer := byte(']')
		if c == '{' {
			closer = '}'
		}
		j := skipJSONSpace(b, i+1)
		if j < len(b) && b[j] == closer {
			return j + 1, true
		}
		for {
			var ok bool
			if j, ok = jsonSkip(b, j, depth+1); !ok {
				return 0, false
			}
			j = skipJSONSpace(b, j)
			if c == '{' { // key: value
				if j >= len(b) || b[j] != ':' {
					return 0, false
				}
				if j, ok = jsonSkip(b, j+1, depth+1); !ok {
					return 0, false
				}
				j = skipJSONSpace(b, j)
			}
			if j >= len(b) {
				return 0, false
			}
			switch b[j] {
			case ',':
				j++
			case closer:
				return j + 1, true
			default:
				return 0, false
			}
		}
	case c == 't' || c == 'f' || c == 'n':
		j := i
		for j < len(b) && b[j] >= 'a' && b[j] <= 'z' {
			j++
		}
		return j, true
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
			j++
		}
		return j, true
	}
	return 0, false
}
