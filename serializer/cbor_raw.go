package serializer

import (
	"encoding/binary"
	"math"
	"unicode/utf8"

	"github.com/switchyard/switchyard/spec"
)

// DecodeRaw decodes a CBOR message, keeping the payload of a PUBLISH, CALL,
// YIELD or ERROR undecoded when cborScan vouches for it (see [DecodeRaw]).
func (s cborSerializer) DecodeRaw(b []byte) (spec.Message, error) {
	sc := cborScan{b: b}
	n, ok := sc.head(cborArray)
	hdr := sc.i
	if !ok || n < 1 {
		return s.Decode(b)
	}
	peek := sc
	t, ok := peek.head(cborUint)
	if !ok {
		return s.Decode(b)
	}
	at := rawPayloadAt(t)
	if at == 0 || n <= uint64(at) || n > uint64(at)+2 {
		return s.Decode(b)
	}
	for range at {
		if !sc.skip(1) {
			return s.Decode(b)
		}
	}
	headEnd := sc.i
	for k := uint64(at); k < n; k++ {
		major := byte(cborArray)
		if k == uint64(at)+1 {
			major = cborMap
		}
		if sc.i >= len(b) || b[sc.i]&0xe0 != major || !sc.skip(1) {
			return s.Decode(b)
		}
	}
	if sc.i != len(b) {
		return s.Decode(b)
	}
	head := make([]byte, 0, 1+headEnd-hdr)
	head = append(append(head, cborArray|byte(at)), b[hdr:headEnd]...)
	m, err := s.Decode(head)
	if err != nil {
		return nil, err
	}
	if !setRaw(m, spec.Raw{Format: "cbor", N: int(n) - at, Bytes: cloneSpan(b[headEnd:])}) {
		return s.Decode(b)
	}
	return m, nil
}

// cborScan walks CBOR without building values. It accepts only what the
// eager decoder accepts and turns into the same value: definite lengths,
// integers that fit 64 bits, valid UTF-8 text, text map keys without
// duplicates, false/true/null/undefined and floats, nesting below maxDepth.
// Anything else (a tag, an indefinite length, another simple value) makes
// it report false, and the caller decodes eagerly to get Decode's verdict.
type cborScan struct {
	b []byte
	i int
}

// arg reads the argument of the head at s.i, returning its major type.
func (s *cborScan) arg() (major byte, v uint64, ok bool) {
	if s.i >= len(s.b) {
		return 0, 0, false
	}
	c := s.b[s.i]
	s.i++
	major, info := c&0xe0, c&0x1f
	var w int
	switch {
	case info < 24:
		return major, uint64(info), true
	case info == 24:
		w = 1
	case info == 25:
		w = 2
	case info == 26:
		w = 4
	case info == 27:
		w = 8
	default: // reserved, or an indefinite length
		return 0, 0, false
	}
	if len(s.b)-s.i < w {
		return 0, 0, false
	}
	switch w {
	case 1:
		v = uint64(s.b[s.i])
	case 2:
		v = uint64(binary.BigEndian.Uint16(s.b[s.i:]))
	case 4:
		v = uint64(binary.BigEndian.Uint32(s.b[s.i:]))
	case 8:
		v = binary.BigEndian.Uint64(s.b[s.i:])
	}
	s.i += w
	return major, v, true
}

// head reads a head of the given major type.
func (s *cborScan) head(want byte) (uint64, bool) {
	major, v, ok := s.arg()
	return v, ok && major == want
}

// content skips n bytes of a string's content and returns them.
func (s *cborScan) content(n uint64) ([]byte, bool) {
	if n > uint64(len(s.b)-s.i) {
		return nil, false
	}
	start := s.i
	s.i += int(n)
	return s.b[start:s.i], true
}

// text skips a text string, checking its UTF-8, and returns its content.
func (s *cborScan) text() ([]byte, bool) {
	n, ok := s.head(cborText)
	if !ok {
		return nil, false
	}
	t, ok := s.content(n)
	return t, ok && utf8.Valid(t)
}

func (s *cborScan) skip(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	if s.b[s.i]&0xe0 == cborText {
		_, ok := s.text()
		return ok
	}
	start := s.i
	major, v, ok := s.arg()
	if !ok {
		return false
	}
	switch major {
	case cborUint:
		return true
	case cborNeg:
		return v <= math.MaxInt64 // -1-v fits int64
	case cborBytes:
		_, ok := s.content(v)
		return ok
	case cborArray:
		// Every element takes at least a byte.
		if depth >= maxDepth || v > uint64(len(s.b)-s.i) {
			return false
		}
		for range v {
			if !s.skip(depth + 1) {
				return false
			}
		}
		return true
	case cborMap:
		// Every pair takes at least two bytes.
		if depth >= maxDepth || v > uint64(len(s.b)-s.i)/2 {
			return false
		}
		var keys dupKeys
		for range v {
			key, ok := s.text()
			if !ok || !keys.add(key) || !s.skip(depth+1) {
				return false
			}
		}
		return true
	case cborSimple:
		switch info := s.b[start] & 0x1f; {
		case info >= 20 && info <= 23: // false, true, null, undefined
			return true
		case info >= 25 && info <= 27: // half, single and double floats
			return true
		}
	}
	return false // a tag, or another simple value
}

// checkCBORRaw is CheckRaw for CBOR.
func checkCBORRaw(r spec.Raw) bool {
	sc := cborScan{b: r.Bytes}
	for k := range r.N {
		major := byte(cborArray)
		if k == 1 {
			major = cborMap
		}
		if sc.i >= len(sc.b) || sc.b[sc.i]&0xe0 != major || !sc.skip(1) {
			return false
		}
	}
	return sc.i == len(sc.b)
}
