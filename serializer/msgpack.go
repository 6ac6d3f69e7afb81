package serializer

import (
	"bytes"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/switchyard/switchyard/spec"
)

// MessagePack is the MessagePack serializer (wamp.2.msgpack, RawSocket
// serializer 2), on vmihailenco/msgpack/v5. It speaks the current
// MessagePack spec with separate str and bin families: strings are str,
// []byte is bin, and the two never mix.
//
// Both directions walk the value model with a type switch and call the
// library's primitives; the library's reflection-based Marshal and
// DecodeInterface are not used. Decoding checks every length against the
// bytes that remain before allocating, so a forged header cannot make the
// router allocate gigabytes.
var MessagePack Serializer = msgpackSerializer{}

type msgpackSerializer struct{}

func (msgpackSerializer) Name() string { return "msgpack" }
func (msgpackSerializer) Binary() bool { return true }

// appendWriter lets a msgpack.Encoder append to a caller's slice. It has
// WriteByte, so the encoder uses it directly instead of wrapping it.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

type msgpackEncoder struct {
	w   appendWriter
	enc *msgpack.Encoder
}

// msgpackEncoders recycles encoders: one is a few allocations, and the
// fan-out path encodes an EVENT per subscription.
var msgpackEncoders = sync.Pool{New: func() any {
	e := &msgpackEncoder{}
	e.enc = msgpack.NewEncoder(&e.w)
	return e
}}

// Encode appends m in MessagePack. Integers use the shortest encoding,
// floats are always float64, map keys are sorted.
func (msgpackSerializer) Encode(dst []byte, m spec.Message) ([]byte, error) {
	if h, ok := hotHeadOf(m); ok && h.fast("msgpack") {
		e := msgpackEncoders.Get().(*msgpackEncoder)
		e.w.b = dst
		err := e.hot(&h)
		out := e.w.b
		e.w.b = nil
		msgpackEncoders.Put(e)
		if err != nil {
			return dst, err
		}
		return out, nil
	}
	return encodeMsgpackList(dst, m)
}

// encodeMsgpackList encodes m through its list form (spec.ToList).
func encodeMsgpackList(dst []byte, m spec.Message) ([]byte, error) {
	raw, splice := spliceable(m, "msgpack")
	var l spec.List
	var err error
	if splice {
		l = spec.HeadList(m)
	} else if l, err = toList(m); err != nil {
		return dst, err
	}
	e := msgpackEncoders.Get().(*msgpackEncoder)
	e.w.b = dst
	if splice {
		// The head, under an array header counting the payload too, then
		// the payload as the peer sent it.
		if err = e.enc.EncodeArrayLen(len(l) + raw.N); err == nil {
			for _, x := range l {
				if err = e.value(x, 1); err != nil {
					break
				}
			}
		}
		e.w.b = append(e.w.b, raw.Bytes...)
	} else {
		err = e.list(l, 0)
	}
	out := e.w.b
	e.w.b = nil
	msgpackEncoders.Put(e)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func (e *msgpackEncoder) value(v any, depth int) error {
	enc := e.enc
	switch v := v.(type) {
	case nil:
		return enc.EncodeNil()
	case bool:
		return enc.EncodeBool(v)
	case int64:
		return enc.EncodeInt(v)
	case uint64:
		return enc.EncodeUint(v)
	case float64:
		return enc.EncodeFloat64(v)
	case string:
		return e.str(v)
	case []byte:
		if len(v) > math.MaxUint32 {
			return unsupported(v)
		}
		if v == nil {
			v = []byte{} // EncodeBytes writes nil for a nil slice
		}
		return enc.EncodeBytes(v)
	case []any:
		return e.list(v, depth)
	case map[string]any:
		if depth >= maxDepth {
			return errTooDeep
		}
		if err := enc.EncodeMapLen(len(v)); err != nil {
			return err
		}
		var buf [16]string
		for _, k := range sortKeys(v, buf[:]) {
			if err := e.str(k); err != nil {
				return err
			}
			if err := e.value(v[k], depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if c, ok := v.(*Constant); ok {
		e.w.b = append(e.w.b, c.msgpack...)
		return nil
	}
	s, ok := asScalar(v)
	if !ok {
		return unsupported(v)
	}
	switch s.kind {
	case 'i':
		return enc.EncodeInt(s.i)
	case 'u':
		return enc.EncodeUint(s.u)
	case 'f':
		return enc.EncodeFloat64(s.f)
	}
	return e.str(s.s)
}

// list is the []any case of value, callable without boxing the slice in an
// interface (which would allocate).
func (e *msgpackEncoder) list(l []any, depth int) error {
	if depth >= maxDepth {
		return errTooDeep
	}
	if len(l) > math.MaxUint32 {
		return unsupported(l)
	}
	if err := e.enc.EncodeArrayLen(len(l)); err != nil {
		return err
	}
	for _, x := range l {
		if err := e.value(x, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// str writes a str. MessagePack str is UTF-8 by definition and our own
// decoder rejects anything else, so invalid bytes become U+FFFD here.
func (e *msgpackEncoder) str(s string) error {
	if len(s) > math.MaxUint32 {
		return unsupported(s)
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return e.enc.EncodeString(s)
}

// msgpackDecoder walks one message with the library's primitives. It reads
// from a bytes.Reader over the caller's buffer; strings and binaries are
// copied out, so nothing retains the buffer after Decode returns.
type msgpackDecoder struct {
	src []byte
	r   bytes.Reader
	dec *msgpack.Decoder
}

var msgpackDecoders = sync.Pool{New: func() any {
	d := &msgpackDecoder{}
	d.dec = msgpack.NewDecoder(&d.r)
	return d
}}

// Decode parses one MessagePack message. Integers become int64 (uint64
// above MaxInt64), float32 becomes float64, msgpackr's undefined (the
// extension d4 00 00) becomes nil; every other extension type (the
// timestamp extension included), non-string map keys, duplicate keys,
// invalid UTF-8 in str and trailing bytes are protocol errors.
func (msgpackSerializer) Decode(b []byte) (spec.Message, error) {
	v, err := decodeMsgpackValue(b)
	if err != nil {
		return nil, err
	}
	return fromValue("msgpack", v)
}

func decodeMsgpackValue(b []byte) (any, error) {
	d := msgpackDecoders.Get().(*msgpackDecoder)
	d.src = b
	d.r.Reset(b)
	d.dec.ResetReader(&d.r)
	v, err := d.value(0)
	if err == nil && d.r.Len() != 0 {
		err = d.errorf("data after the message")
	}
	d.src = nil
	d.r.Reset(nil)
	msgpackDecoders.Put(d)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func (d *msgpackDecoder) offset() int { return len(d.src) - d.r.Len() }

func (d *msgpackDecoder) errorf(reason string) error {
	return protocolErrorAt("msgpack", reason, d.offset())
}

// wrap turns a library or reader error into a protocol error.
func (d *msgpackDecoder) wrap(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return d.errorf("unexpected end of input")
	}
	return protocolErrorAt("msgpack", err.Error(), d.offset())
}

func (d *msgpackDecoder) value(depth int) (any, error) {
	c, err := d.dec.PeekCode()
	if err != nil {
		return nil, d.wrap(err)
	}
	switch {
	case msgpcode.IsFixedNum(c), c >= msgpcode.Int8 && c <= msgpcode.Int64,
		c >= msgpcode.Uint8 && c <= msgpcode.Uint32:
		n, err := d.dec.DecodeInt64()
		if err != nil {
			return nil, d.wrap(err)
		}
		return n, nil
	case c == msgpcode.Uint64:
		n, err := d.dec.DecodeUint64()
		if err != nil {
			return nil, d.wrap(err)
		}
		if n <= math.MaxInt64 {
			return int64(n), nil
		}
		return n, nil
	case msgpcode.IsString(c):
		s, err := d.bytes()
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(s) {
			return nil, d.errorf("invalid UTF-8 in str")
		}
		return string(s), nil
	case msgpcode.IsBin(c):
		s, err := d.bytes()
		if err != nil {
			return nil, err
		}
		return bytes.Clone(s[:len(s):len(s)]), nil
	case msgpcode.IsFixedArray(c), c == msgpcode.Array16, c == msgpcode.Array32:
		return d.array(depth)
	case msgpcode.IsFixedMap(c), c == msgpcode.Map16, c == msgpcode.Map32:
		return d.object(depth)
	case c == msgpcode.Nil:
		if err := d.dec.DecodeNil(); err != nil {
			return nil, d.wrap(err)
		}
		return nil, nil
	case c == msgpcode.False, c == msgpcode.True:
		v, err := d.dec.DecodeBool()
		if err != nil {
			return nil, d.wrap(err)
		}
		return v, nil
	case c == msgpcode.Float:
		f, err := d.dec.DecodeFloat32()
		if err != nil {
			return nil, d.wrap(err)
		}
		return float64(f), nil
	case c == msgpcode.Double:
		f, err := d.dec.DecodeFloat64()
		if err != nil {
			return nil, d.wrap(err)
		}
		return f, nil
	case msgpcode.IsExt(c):
		return nil, d.ext()
	}
	return nil, d.errorf("invalid code")
}

// ext reads an extension value, which is an error unless it is the one
// extension JavaScript clients send in normal use: msgpackr (wampy.js) and
// notepack write undefined as fixext 1 of type 0 holding a zero byte,
// d4 00 00, and wampy sends undefined for every option it was not given.
// It decodes as nil, which FromList drops from Options and Details. Any
// other extension is refused with its type, so the log says what a client
// sent.
func (d *msgpackDecoder) ext() error {
	start := d.offset()
	id, n, err := d.dec.DecodeExtHeader()
	if err != nil {
		return d.wrap(err)
	}
	if n < 0 || n > d.r.Len() {
		return d.errorf("unexpected end of input")
	}
	if id == 0 && n == 1 && d.src[d.offset()] == 0 {
		if _, err := d.r.Seek(1, io.SeekCurrent); err != nil {
			return d.wrap(err)
		}
		return nil
	}
	reason := "extension type " + strconv.Itoa(int(id))
	if id == -1 {
		reason += " (timestamp)"
	}
	return protocolErrorAt("msgpack", reason+" is not supported", start)
}

// bytes reads a str or bin header and returns a view of its content in the
// source buffer, after checking that the content is really there.
func (d *msgpackDecoder) bytes() ([]byte, error) {
	n, err := d.dec.DecodeBytesLen()
	if err != nil {
		return nil, d.wrap(err)
	}
	if n < 0 || n > d.r.Len() {
		return nil, d.errorf("unexpected end of input")
	}
	off := d.offset()
	if _, err := d.r.Seek(int64(n), io.SeekCurrent); err != nil {
		return nil, d.wrap(err)
	}
	return d.src[off : off+n], nil
}

func (d *msgpackDecoder) array(depth int) (any, error) {
	if depth >= maxDepth {
		return nil, d.errorf("nested too deeply")
	}
	n, err := d.dec.DecodeArrayLen()
	if err != nil {
		return nil, d.wrap(err)
	}
	// Every element takes at least one byte.
	if n < 0 || n > d.r.Len() {
		return nil, d.errorf("list longer than the input")
	}
	l := make([]any, n)
	for i := range l {
		if l[i], err = d.value(depth + 1); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (d *msgpackDecoder) object(depth int) (any, error) {
	if depth >= maxDepth {
		return nil, d.errorf("nested too deeply")
	}
	n, err := d.dec.DecodeMapLen()
	if err != nil {
		return nil, d.wrap(err)
	}
	// Every pair takes at least two bytes.
	if n < 0 || n > d.r.Len()/2 {
		return nil, d.errorf("dict longer than the input")
	}
	m := make(map[string]any, n)
	for range n {
		c, err := d.dec.PeekCode()
		if err != nil {
			return nil, d.wrap(err)
		}
		if !msgpcode.IsString(c) {
			return nil, d.errorf("dict key is not a string")
		}
		kb, err := d.bytes()
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(kb) {
			return nil, d.errorf("invalid UTF-8 in dict key")
		}
		k := keyString(kb)
		if _, dup := m[k]; dup {
			return nil, d.errorf("duplicate key")
		}
		if m[k], err = d.value(depth + 1); err != nil {
			return nil, err
		}
	}
	return m, nil
}
