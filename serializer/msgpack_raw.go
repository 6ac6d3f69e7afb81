package serializer

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/switchyard/switchyard/spec"
)

// DecodeRaw decodes a MessagePack message, keeping the payload of a PUBLISH,
// CALL, YIELD or ERROR undecoded when mpScan vouches for it (see [DecodeRaw]).
func (s msgpackSerializer) DecodeRaw(b []byte) (spec.Message, error) {
	sc := mpScan{b: b}
	n, ok := sc.arrayLen()
	hdr := sc.i
	if !ok || n < 1 || sc.i >= len(b) || b[sc.i] > 0x7f {
		return s.Decode(b)
	}
	at := rawPayloadAt(uint64(b[sc.i]))
	if at == 0 || n <= at || n > at+2 {
		return s.Decode(b)
	}
	// The head is decoded eagerly below; the scanner only has to find its
	// end, and lets msgpackr's undefined (wampy.js fills Options with it)
	// pass there.
	sc.head = true
	for range at {
		if !sc.skip(1) {
			return s.Decode(b)
		}
	}
	sc.head = false
	headEnd := sc.i
	if sc.i >= len(b) || !isMsgpackArray(b[sc.i]) {
		return s.Decode(b)
	}
	for k := at; k < n; k++ {
		if k == at+1 && (sc.i >= len(b) || !isMsgpackMap(b[sc.i])) {
			return s.Decode(b)
		}
		if !sc.skip(1) {
			return s.Decode(b)
		}
	}
	if sc.i != len(b) {
		return s.Decode(b)
	}
	m, ok := hotMsgpackHead(b[hdr:headEnd], at)
	if !ok {
		head := make([]byte, 0, 1+headEnd-hdr)
		head = append(append(head, 0x90|byte(at)), b[hdr:headEnd]...)
		var err error
		if m, err = s.Decode(head); err != nil {
			return nil, err
		}
	}
	if !setRaw(m, spec.Raw{Format: "msgpack", N: n - at, Bytes: cloneSpan(b[headEnd:])}) {
		return s.Decode(b)
	}
	return m, nil
}

func isMsgpackArray(c byte) bool { return c&0xf0 == 0x90 || c == 0xdc || c == 0xdd }
func isMsgpackMap(c byte) bool   { return c&0xf0 == 0x80 || c == 0xde || c == 0xdf }

// mpScan walks MessagePack without building values. It accepts only what
// the eager decoder accepts and turns into the same value: anything else
// (an extension, invalid UTF-8, a duplicate or non-string key, nesting
// beyond maxDepth) makes skip report
// false, and the caller decodes eagerly to get Decode's verdict.
type mpScan struct {
	b []byte
	i int
	// head: skipping the message's head, which is decoded eagerly anyway;
	// the undefined extension (d4 00 00) passes.
	head bool
}

// n reads a big-endian unsigned integer of w bytes.
func (s *mpScan) n(w int) (int, bool) {
	if len(s.b)-s.i < w {
		return 0, false
	}
	var v uint64
	switch w {
	case 1:
		v = uint64(s.b[s.i])
	case 2:
		v = uint64(binary.BigEndian.Uint16(s.b[s.i:]))
	case 4:
		v = uint64(binary.BigEndian.Uint32(s.b[s.i:]))
	}
	s.i += w
	if v > uint64(len(s.b)) {
		return 0, false
	}
	return int(v), true
}

func (s *mpScan) arrayLen() (int, bool) {
	if s.i >= len(s.b) {
		return 0, false
	}
	c := s.b[s.i]
	s.i++
	switch {
	case c&0xf0 == 0x90:
		return int(c & 0x0f), true
	case c == 0xdc:
		return s.n(2)
	case c == 0xdd:
		return s.n(4)
	}
	return 0, false
}

// over skips n bytes of content.
func (s *mpScan) over(n int) bool {
	if n > len(s.b)-s.i {
		return false
	}
	s.i += n
	return true
}

// str skips a str whose header is at s.i, checking its UTF-8, and returns
// its content.
func (s *mpScan) str() ([]byte, bool) {
	if s.i >= len(s.b) {
		return nil, false
	}
	c := s.b[s.i]
	s.i++
	var n int
	ok := true
	switch {
	case c&0xe0 == 0xa0:
		n = int(c & 0x1f)
	case c == 0xd9:
		n, ok = s.n(1)
	case c == 0xda:
		n, ok = s.n(2)
	case c == 0xdb:
		n, ok = s.n(4)
	default:
		return nil, false
	}
	start := s.i
	if !ok || !s.over(n) || !utf8.Valid(s.b[start:s.i]) {
		return nil, false
	}
	return s.b[start:s.i], true
}

// maxScanKeys bounds the dicts checked for duplicate keys by comparing
// every pair; a larger one gets a set.
const maxScanKeys = 16

func (s *mpScan) skip(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	c := s.b[s.i]
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		s.i++
		return true
	case c&0xe0 == 0xa0, c >= 0xd9 && c <= 0xdb:
		_, ok := s.str()
		return ok
	case c&0xf0 == 0x90, c == 0xdc, c == 0xdd:
		if depth >= maxDepth {
			return false
		}
		n, ok := s.arrayLen()
		if !ok {
			return false
		}
		for range n {
			if !s.skip(depth + 1) {
				return false
			}
		}
		return true
	case c&0xf0 == 0x80, c == 0xde, c == 0xdf:
		return s.dict(depth)
	}
	s.i++
	var n int
	ok := true
	switch c {
	case 0xc4: // bin 8, 16, 32
		n, ok = s.n(1)
	case 0xc5:
		n, ok = s.n(2)
	case 0xc6:
		n, ok = s.n(4)
	case 0xca, 0xce, 0xd2: // float 32, uint 32, int 32
		n = 4
	case 0xcb, 0xcf, 0xd3:
		n = 8
	case 0xcc, 0xd0:
		n = 1
	case 0xcd, 0xd1:
		n = 2
	case 0xd4: // fixext 1: only undefined, and only in the head
		if !s.head || len(s.b)-s.i < 2 || s.b[s.i] != 0 || s.b[s.i+1] != 0 {
			return false
		}
		n = 2
	default: // other extensions and 0xc1
		return false
	}
	return ok && s.over(n)
}

func (s *mpScan) dict(depth int) bool {
	if depth >= maxDepth {
		return false
	}
	c := s.b[s.i]
	s.i++
	var n int
	ok := true
	switch {
	case c&0xf0 == 0x80:
		n = int(c & 0x0f)
	case c == 0xde:
		n, ok = s.n(2)
	default:
		n, ok = s.n(4)
	}
	// Every pair takes at least two bytes.
	if !ok || n > (len(s.b)-s.i)/2 {
		return false
	}
	var keys dupKeys
	for range n {
		key, ok := s.str()
		if !ok || !keys.add(key) || !s.skip(depth+1) {
			return false
		}
	}
	return true
}

// dupKeys finds a repeated dict key: by comparing every pair while the
// dict is small (no allocation), through a set beyond maxScanKeys.
type dupKeys struct {
	n     int
	small [maxScanKeys][]byte
	set   map[string]struct{}
}

// add records key and reports false if it was seen before.
func (d *dupKeys) add(key []byte) bool {
	if d.set == nil && d.n < maxScanKeys {
		for _, prev := range d.small[:d.n] {
			if string(prev) == string(key) {
				return false
			}
		}
		d.small[d.n] = key
		d.n++
		return true
	}
	if d.set == nil {
		d.set = make(map[string]struct{}, 2*maxScanKeys)
		for _, k := range d.small[:d.n] {
			d.set[string(k)] = struct{}{}
		}
	}
	if _, dup := d.set[string(key)]; dup {
		return false
	}
	d.set[string(key)] = struct{}{}
	return true
}

// hotMsgpackHead builds the message of the commonest heads on the RPC and
// PubSub paths — [CALL, Request, {}, Procedure], [PUBLISH, Request, {},
// Topic] and [YIELD, Request, {}] — straight from the bytes, without the
// generic decoder's list and boxed values. It reports false for anything
// else (options, another type, an ID out of range), which the generic
// decoder then judges. head holds the head's elements, already scanned.
// The empty options are a nil Dict, which reads as empty and encodes as
// {}: no map is made for them.
func hotMsgpackHead(head []byte, at int) (spec.Message, bool) {
	sc := mpScan{b: head}
	t, ok := sc.uint()
	if !ok {
		return nil, false
	}
	id, ok := sc.uint()
	if !ok || id < 1 || id > uint64(spec.MaxID) || sc.i >= len(head) || head[sc.i] != 0x80 {
		return nil, false
	}
	sc.i++
	var m spec.Message
	switch spec.MessageType(t) {
	case spec.TypeCall, spec.TypePublish:
		uri, ok := sc.str()
		if !ok || at != 4 {
			return nil, false
		}
		if spec.MessageType(t) == spec.TypeCall {
			m = &spec.Call{Request: spec.ID(id), Procedure: spec.URI(uri)}
		} else {
			m = &spec.Publish{Request: spec.ID(id), Topic: spec.URI(uri)}
		}
	case spec.TypeYield:
		if at != 3 {
			return nil, false
		}
		m = &spec.Yield{Request: spec.ID(id)}
	default:
		return nil, false
	}
	return m, sc.i == len(head)
}

// uint reads an unsigned MessagePack integer (positive fixint or uint 8 to
// 64); any other encoding reports false.
func (s *mpScan) uint() (uint64, bool) {
	if s.i >= len(s.b) {
		return 0, false
	}
	c := s.b[s.i]
	s.i++
	var w int
	switch {
	case c <= 0x7f:
		return uint64(c), true
	case c == 0xcc:
		w = 1
	case c == 0xcd:
		w = 2
	case c == 0xce:
		w = 4
	case c == 0xcf:
		w = 8
	default:
		return 0, false
	}
	if len(s.b)-s.i < w {
		return 0, false
	}
	var v uint64
	for _, x := range s.b[s.i : s.i+w] {
		v = v<<8 | uint64(x)
	}
	s.i += w
	return v, true
}
