package bench

import (
	"github.com/switchyard/switchyard/spec"
)

// peekType reads the message type code at the head of an encoded WAMP
// message ([Type, ...]) without decoding the rest: the baseline relay's
// only look inside a frame. ok is false for anything it does not
// recognise, which the relay then decodes in full.
func peekType(format string, b []byte) (spec.MessageType, bool) {
	switch format {
	case "msgpack":
		return peekMsgpack(b)
	case "cbor":
		return peekCBOR(b)
	case "json":
		return peekJSON(b)
	}
	return 0, false
}

func peekMsgpack(b []byte) (spec.MessageType, bool) {
	if len(b) < 2 {
		return 0, false
	}
	i := 0
	switch c := b[0]; {
	case c >= 0x90 && c <= 0x9f: // fixarray
		i = 1
	case c == 0xdc: // array 16
		i = 3
	case c == 0xdd: // array 32
		i = 5
	default:
		return 0, false
	}
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c <= 0x7f: // positive fixint
		return spec.MessageType(c), true
	case (c == 0xcc || c == 0xd0) && i+1 < len(b): // uint 8, int 8
		return spec.MessageType(b[i+1]), true
	}
	return 0, false
}

func peekCBOR(b []byte) (spec.MessageType, bool) {
	if len(b) < 2 {
		return 0, false
	}
	i := 0
	switch c := b[0]; {
	case c >= 0x80 && c <= 0x97:
		i = 1
	case c == 0x98:
		i = 2
	case c == 0x99:
		i = 3
	case c == 0x9a:
		i = 5
	case c == 0x9f: // indefinite length
		i = 1
	default:
		return 0, false
	}
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c <= 0x17:
		return spec.MessageType(c), true
	case c == 0x18 && i+1 < len(b):
		return spec.MessageType(b[i+1]), true
	}
	return 0, false
}

func peekJSON(b []byte) (spec.MessageType, bool) {
	i := skipJSONSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return 0, false
	}
	i = skipJSONSpace(b, i+1)
	n, digits := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9' && digits < 4; i++ {
		n = n*10 + int(b[i]-'0')
		digits++
	}
	if digits == 0 {
		return 0, false
	}
	return spec.MessageType(n), true
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
