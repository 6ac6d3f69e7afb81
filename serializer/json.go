package serializer

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/switchyard/switchyard/spec"
)

// JSON is the JSON serializer (WebSocket subprotocol wamp.2.json, RawSocket
// serializer 1). Binary values travel as strings: "\u0000" followed by the
// standard, padded base64 of the bytes, as WAMP's binary-in-JSON rule says.
//
// Both directions are written by hand. encoding/json would decode numbers
// into float64 (IDs reach 2^53) or json.Number strings, needs reflection,
// and knows nothing of the binary rule; the hand-written reader produces
// spec's value model directly in one pass.
var JSON Serializer = jsonSerializer{}

type jsonSerializer struct{}

func (jsonSerializer) Name() string { return "json" }
func (jsonSerializer) Binary() bool { return false }

// Encode appends m as compact JSON. Map keys are written in sorted order.
// Strings that are not valid UTF-8 have the offending bytes replaced by
// U+FFFD, so the output is always valid UTF-8 JSON; NaN and infinities,
// which JSON cannot express, are an error.
func (jsonSerializer) Encode(dst []byte, m spec.Message) ([]byte, error) {
	if h, ok := hotHeadOf(m); ok && h.fast("json") {
		out, err := appendJSONHot(dst, &h)
		if err != nil {
			return dst, err
		}
		return out, nil
	}
	return encodeJSONList(dst, m)
}

// appendJSONHot writes h (see hotHead).
func appendJSONHot(b []byte, h *hotHead) ([]byte, error) {
	b = strconv.AppendInt(append(b, '['), int64(h.typ), 10)
	for _, id := range h.ids[:h.nids] {
		b = strconv.AppendInt(append(b, ','), int64(id), 10)
	}
	var err error
	if len(h.details) == 0 {
		b = append(b, ",{}"...)
	} else if b, err = appendJSON(append(b, ','), h.details, 1); err != nil {
		return b, err
	}
	switch {
	case h.raw.N > 0:
		b = append(append(b, ','), h.raw.Bytes...)
	case len(h.kwargs) > 0:
		if b, err = appendJSONList(append(b, ','), h.argsOrEmpty(), 1); err != nil {
			return b, err
		}
		if b, err = appendJSON(append(b, ','), h.kwargs, 1); err != nil {
			return b, err
		}
	case len(h.args) > 0:
		if b, err = appendJSONList(append(b, ','), h.args, 1); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

// encodeJSONList encodes m through its list form (spec.ToList).
func encodeJSONList(dst []byte, m spec.Message) ([]byte, error) {
	if raw, ok := spliceable(m, "json"); ok {
		// The head list, its closing bracket replaced by the payload as
		// the peer sent it.
		out, err := appendJSONList(dst, spec.HeadList(m), 0)
		if err != nil {
			return dst, err
		}
		out = append(out[:len(out)-1], ',')
		return append(append(out, raw.Bytes...), ']'), nil
	}
	l, err := toList(m)
	if err != nil {
		return dst, err
	}
	out, err := appendJSONList(dst, l, 0)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// Decode parses one JSON message. Like encoding/json it accepts invalid
// UTF-8 and lone surrogates (replacing them with U+FFFD); unlike it, it
// keeps integers exact (int64, or uint64 above MaxInt64), turns
// "\u0000"-prefixed string values into []byte (dict keys stay strings: the
// value model has only string keys) and rejects duplicate keys.
func (jsonSerializer) Decode(b []byte) (spec.Message, error) {
	v, err := decodeJSONValue(b)
	if err != nil {
		return nil, err
	}
	return fromValue("json", v)
}

// decodeJSONValue parses one complete JSON text into the value model.
func decodeJSONValue(b []byte) (any, error) {
	d := jsonDecoder{b: b}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.i != len(d.b) {
		return nil, d.errorf("data after the message")
	}
	return v, nil
}

// ---------------------------------------------------------------- encoding

func appendJSON(b []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		if v {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case float64:
		return appendJSONFloat(b, v)
	case string:
		return appendJSONString(b, v), nil
	case []byte:
		b = append(b, `"\u0000`...)
		b = base64.StdEncoding.AppendEncode(b, v)
		return append(b, '"'), nil
	case []any:
		return appendJSONList(b, v, depth)
	case map[string]any:
		if depth >= maxDepth {
			return b, errTooDeep
		}
		var buf [16]string
		b = append(b, '{')
		for i, k := range sortKeys(v, buf[:]) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendJSON(b, v[k], depth+1); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	}
	if c, ok := v.(*Constant); ok {
		return append(b, c.json...), nil
	}
	s, ok := asScalar(v)
	if !ok {
		return b, unsupported(v)
	}
	switch s.kind {
	case 'i':
		return strconv.AppendInt(b, s.i, 10), nil
	case 'u':
		return strconv.AppendUint(b, s.u, 10), nil
	case 'f':
		return appendJSONFloat(b, s.f)
	}
	return appendJSONString(b, s.s), nil
}

// appendJSONList is the []any case of appendJSON, callable without boxing
// the slice in an interface (which would allocate).
func appendJSONList(b []byte, l []any, depth int) ([]byte, error) {
	if depth >= maxDepth {
		return b, errTooDeep
	}
	b = append(b, '[')
	for i, e := range l {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendJSON(b, e, depth+1); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

// appendJSONFloat writes f the way encoding/json does (shortest
// representation, exponent only for very small or large magnitudes) and
// then makes sure the text reads back as a float: an integral 3.0 is
// written "3.0", not "3", so a float survives a JSON round trip as a float.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, unsupported(f)
	}
	start := len(b)
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Shorten e-09 to e-9, as encoding/json does.
		if n := len(b); n-start >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b, nil
	}
	for _, c := range b[start:] {
		if c == '.' {
			return b, nil
		}
	}
	return append(b, '.', '0'), nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string. It escapes what JSON requires
// (quote, backslash, control characters), plus U+2028 and U+2029 (line
// separators to JavaScript), and replaces invalid UTF-8 with U+FFFD. Runs
// of plain characters are copied in one append.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ---------------------------------------------------------------- decoding

type jsonDecoder struct {
	b     []byte
	i     int
	depth int
}

func (d *jsonDecoder) errorf(reason string) error {
	return protocolErrorAt("json", reason, d.i)
}

func (d *jsonDecoder) skipSpace() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value() (any, error) {
	d.skipSpace()
	if d.i >= len(d.b) {
		return nil, d.errorf("unexpected end of input")
	}
	switch c := d.b[d.i]; c {
	case '[':
		return d.array()
	case '{':
		return d.object()
	case '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		if len(s) > 0 && s[0] == 0 {
			return decodeJSONBinary(s[1:], d.i)
		}
		return s, nil
	case 't':
		return d.literal("true", true)
	case 'f':
		return d.literal("false", false)
	case 'n':
		return d.literal("null", nil)
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return d.number()
		}
	}
	return nil, d.errorf("invalid character")
}

// decodeJSONBinary decodes the base64 part of a "\u0000..." string. Padded
// standard base64 is what the spec asks for; unpadded input is accepted too.
func decodeJSONBinary(s string, off int) (any, error) {
	out, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if len(s)%4 == 0 {
			return nil, protocolErrorAt("json", "invalid base64 in binary string", off)
		}
		if out, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return nil, protocolErrorAt("json", "invalid base64 in binary string", off)
		}
	}
	return out, nil
}

func (d *jsonDecoder) literal(word string, v any) (any, error) {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return nil, d.errorf("invalid literal")
	}
	d.i += len(word)
	return v, nil
}

func (d *jsonDecoder) array() (any, error) {
	d.depth++
	if d.depth > maxDepth {
		return nil, d.errorf("nested too deeply")
	}
	d.i++ // '['
	// The message itself has up to 7 elements; payload lists are short.
	n := 4
	if d.depth == 1 {
		n = 7
	}
	l := make([]any, 0, n)
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		d.depth--
		return l, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		l = append(l, v)
		d.skipSpace()
		if d.i >= len(d.b) {
			return nil, d.errorf("unexpected end of input in list")
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			d.depth--
			return l, nil
		default:
			return nil, d.errorf("expected ',' or ']'")
		}
	}
}

func (d *jsonDecoder) object() (any, error) {
	d.depth++
	if d.depth > maxDepth {
		return nil, d.errorf("nested too deeply")
	}
	d.i++ // '{'
	m := make(map[string]any)
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		d.depth--
		return m, nil
	}
	for {
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, d.errorf("expected a string key")
		}
		k, err := d.key()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, d.errorf("expected ':'")
		}
		d.i++
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, d.errorf("duplicate key " + strconv.Quote(k))
		}
		m[k] = v
		d.skipSpace()
		if d.i >= len(d.b) {
			return nil, d.errorf("unexpected end of input in dict")
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			d.depth--
			return m, nil
		default:
			return nil, d.errorf("expected ',' or '}'")
		}
	}
}

// str reads a string value, key a dict key: a well-known WAMP key without
// escapes costs no allocation (keyString).
func (d *jsonDecoder) str() (string, error) { return d.text(false) }
func (d *jsonDecoder) key() (string, error) { return d.text(true) }

// text reads a string starting at the opening quote. Strings without
// escapes or invalid UTF-8 (nearly all of them) are sliced out directly.
func (d *jsonDecoder) text(key bool) (string, error) {
	d.i++ // opening quote
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			var s string
			if key {
				s = keyString(d.b[start:d.i])
			} else {
				s = string(d.b[start:d.i])
			}
			d.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c < utf8.RuneSelf {
			d.i++
			continue
		}
		r, size := utf8.DecodeRune(d.b[d.i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		d.i += size
	}
	buf := make([]byte, d.i-start, d.i-start+16)
	copy(buf, d.b[start:d.i])
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return string(buf), nil
		case c == '\\':
			var err error
			if buf, err = d.escape(buf); err != nil {
				return "", err
			}
		case c < 0x20:
			return "", d.errorf("control character in string")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			d.i++
		default:
			r, size := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, d.b[d.i:d.i+size]...)
			}
			d.i += size
		}
	}
	return "", d.errorf("unterminated string")
}

// escape decodes one backslash escape at d.i and appends it to buf.
// Surrogate pairs combine; a lone surrogate becomes U+FFFD, as in
// encoding/json.
func (d *jsonDecoder) escape(buf []byte) ([]byte, error) {
	if d.i+1 >= len(d.b) {
		return buf, d.errorf("unterminated escape")
	}
	c := d.b[d.i+1]
	d.i += 2
	switch c {
	case '"', '\\', '/':
		return append(buf, c), nil
	case 'b':
		return append(buf, '\b'), nil
	case 'f':
		return append(buf, '\f'), nil
	case 'n':
		return append(buf, '\n'), nil
	case 'r':
		return append(buf, '\r'), nil
	case 't':
		return append(buf, '\t'), nil
	case 'u':
		r, ok := hex4(d.b[d.i:])
		if !ok {
			return buf, d.errorf("invalid \\u escape")
		}
		d.i += 4
		if utf16.IsSurrogate(r) {
			// A valid pair needs a following \uDC00-\uDFFF.
			if len(d.b)-d.i >= 6 && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
				if r2, ok := hex4(d.b[d.i+2:]); ok {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						d.i += 6
						return utf8.AppendRune(buf, dec), nil
					}
				}
			}
			r = utf8.RuneError
		}
		return utf8.AppendRune(buf, r), nil
	}
	d.i -= 2
	return buf, d.errorf("invalid escape")
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads a JSON number. Integers (no fraction, no exponent) are
// accumulated exactly and never pass through float64: int64 when they fit,
// uint64 above MaxInt64, an error beyond. Other numbers are float64; one
// that overflows to an infinity is an error.
func (d *jsonDecoder) number() (any, error) {
	start := d.i
	neg := d.b[d.i] == '-'
	if neg {
		d.i++
	}
	digits := d.i
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case d.i < len(d.b) && d.b[d.i] >= '1' && d.b[d.i] <= '9':
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
		}
	default:
		return nil, d.errorf("invalid number")
	}
	intEnd := d.i
	isFloat := false
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if !d.digits() {
			return nil, d.errorf("invalid number")
		}
		isFloat = true
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if !d.digits() {
			return nil, d.errorf("invalid number")
		}
		isFloat = true
	}
	if isFloat {
		f, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
		if err != nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return nil, protocolErrorAt("json", "number out of range", start)
		}
		// Underflow (ErrRange with a finite result) keeps the rounded value.
		return f, nil
	}
	var u uint64
	for _, c := range d.b[digits:intEnd] {
		n := uint64(c - '0')
		if u > (math.MaxUint64-n)/10 {
			return nil, protocolErrorAt("json", "integer out of range", start)
		}
		u = u*10 + n
	}
	if neg {
		if u > 1<<63 {
			return nil, protocolErrorAt("json", "integer out of range", start)
		}
		return int64(-u), nil
	}
	if u > math.MaxInt64 {
		return u, nil
	}
	return int64(u), nil
}

func (d *jsonDecoder) digits() bool {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// DecodeJSONValue parses one complete JSON text (not a WAMP message) into
// the value model, with the same rules as the JSON serializer: exact
// integers, "\u0000"-prefixed strings as binary, duplicate keys refused,
// nesting bounded. The HTTP bridge reads request bodies with it, so a
// payload means the same over HTTP as over a JSON WebSocket.
func DecodeJSONValue(b []byte) (any, error) {
	return decodeJSONValue(b)
}

// AppendJSONValue appends v (a value of the value model) as compact JSON,
// binary values by the "\u0000"+base64 rule.
func AppendJSONValue(dst []byte, v any) ([]byte, error) {
	return appendJSON(dst, v, 0)
}
