package serializer

import (
	"math"
	"unicode/utf8"

	"github.com/switchyard/switchyard/spec"
)

// DecodeRaw decodes a JSON message, keeping the payload of a PUBLISH, CALL,
// YIELD or ERROR undecoded when jsonScan vouches for it (see [DecodeRaw]). The
// payload's text is kept from the first payload element to the end of the
// last, the separating comma included.
func (s jsonSerializer) DecodeRaw(b []byte) (spec.Message, error) {
	sc := jsonScan{b: b}
	sc.space()
	if !sc.byte('[') {
		return s.Decode(b)
	}
	sc.space()
	t, ok := sc.smallInt()
	if !ok {
		return s.Decode(b)
	}
	at := rawPayloadAt(t)
	if at == 0 {
		return s.Decode(b)
	}
	for range at - 1 {
		if sc.space(); !sc.byte(',') || !sc.skip(1) {
			return s.Decode(b)
		}
	}
	headEnd := sc.i
	sc.space()
	if !sc.byte(',') {
		return s.Decode(b) // no payload
	}
	sc.space()
	start := sc.i
	n := 0
	for {
		sc.space()
		if sc.i >= len(b) || (n == 0 && b[sc.i] != '[') || (n == 1 && b[sc.i] != '{') || n == 2 {
			return s.Decode(b)
		}
		if !sc.skip(1) {
			return s.Decode(b)
		}
		n++
		end := sc.i
		sc.space()
		if sc.byte(']') {
			sc.space()
			if sc.i != len(b) {
				return s.Decode(b)
			}
			head := make([]byte, 0, headEnd+1)
			head = append(append(head, b[:headEnd]...), ']')
			m, err := s.Decode(head)
			if err != nil {
				return nil, err
			}
			if !setRaw(m, spec.Raw{Format: "json", N: n, Bytes: cloneSpan(b[start:end])}) {
				return s.Decode(b)
			}
			return m, nil
		}
		if !sc.byte(',') {
			return s.Decode(b)
		}
	}
}

// jsonScan walks JSON text without building values. Like mpScan it
// accepts only text the eager decoder turns into the same values when it
// reads the text again: strings with invalid UTF-8, control characters,
// surrogate escapes or the "\u0000" binary prefix, dict keys with escapes
// or duplicates, integers beyond 64 bits, numbers with an exponent
// and nesting beyond maxDepth make skip report false, and the caller
// decodes eagerly.
type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScan) byte(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// smallInt reads a plain non-negative integer below 2^16 (a message type).
func (s *jsonScan) smallInt() (uint64, bool) {
	var v uint64
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' && s.i-start < 5 {
		v = v*10 + uint64(s.b[s.i]-'0')
		s.i++
	}
	if s.i == start || (s.b[start] == '0' && s.i-start > 1) {
		return 0, false
	}
	return v, true
}

func (s *jsonScan) skip(depth int) bool {
	s.space()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; c {
	case '[':
		if depth >= maxDepth {
			return false
		}
		s.i++
		s.space()
		if s.byte(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			s.space()
			if s.byte(']') {
				return true
			}
			if !s.byte(',') {
				return false
			}
		}
	case '{':
		return s.dict(depth)
	case '"':
		_, ok := s.str(false)
		return ok
	case 't':
		return s.word("true")
	case 'f':
		return s.word("false")
	case 'n':
		return s.word("null")
	default:
		return s.number()
	}
}

func (s *jsonScan) word(w string) bool {
	if len(s.b)-s.i < len(w) || string(s.b[s.i:s.i+len(w)]) != w {
		return false
	}
	s.i += len(w)
	return true
}

// str skips a string at its opening quote and returns its raw content. A
// key may not hold escapes (its duplicates could hide behind them).
func (s *jsonScan) str(key bool) ([]byte, bool) {
	s.i++
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20:
			return nil, false
		case c == '\\':
			if key || s.i+1 >= len(s.b) {
				return nil, false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				r, ok := hex4(s.b[s.i+2:])
				if ok && r == 0 && s.i == start && !key {
					s.i += 6
					return s.base64()
				}
				if !ok || r == 0 || r >= 0xd800 && r <= 0xdfff {
					return nil, false
				}
				s.i += 6
			default:
				return nil, false
			}
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, size := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && size == 1 {
				return nil, false
			}
			s.i += size
		}
	}
	return nil, false
}

func (s *jsonScan) dict(depth int) bool {
	if depth >= maxDepth {
		return false
	}
	s.i++
	s.space()
	if s.byte('}') {
		return true
	}
	var keys dupKeys
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		key, ok := s.str(true)
		if !ok || !keys.add(key) {
			return false
		}
		if s.space(); !s.byte(':') || !s.skip(depth+1) {
			return false
		}
		s.space()
		if s.byte('}') {
			return true
		}
		if !s.byte(',') {
			return false
		}
	}
}

// number skips an integer that fits int64 or uint64, or a number with a
// fraction and no exponent (at most 300 digits in all, so it cannot
// overflow float64): both read back exactly as the eager decoder reads them.
func (s *jsonScan) number() bool {
	neg := s.byte('-')
	start := s.i
	switch {
	case s.byte('0'):
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
	default:
		return false
	}
	intEnd := s.i
	if s.byte('.') {
		frac := s.i
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		if s.i == frac || s.i-start > 300 {
			return false
		}
	} else {
		var u uint64
		for _, c := range s.b[start:intEnd] {
			n := uint64(c - '0')
			if u > (math.MaxUint64-n)/10 {
				return false
			}
			u = u*10 + n
		}
		if neg && u > 1<<63 {
			return false
		}
	}
	return s.i >= len(s.b) || (s.b[s.i] != 'e' && s.b[s.i] != 'E')
}

// base64 skips the rest of a "\u0000"-prefixed string, a binary: the
// characters of standard base64, padded or not, as decodeJSONBinary
// accepts them.
func (s *jsonScan) base64() ([]byte, bool) {
	start := s.i
	n, pad := 0, 0
	for ; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			switch {
			case pad == 0 && n%4 != 1,
				pad == 1 && n%4 == 3,
				pad == 2 && n%4 == 2:
				return s.b[start : s.i-1], true
			}
			return nil, false
		case c == '=' && pad < 2:
			pad++
		case pad > 0:
			return nil, false
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			n++
		default:
			return nil, false
		}
	}
	return nil, false
}
