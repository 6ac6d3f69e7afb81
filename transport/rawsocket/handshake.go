package rawsocket

import (
	"strconv"

	"github.com/switchyard/switchyard/serializer"
)

// magic opens every RawSocket handshake. It cannot start an HTTP request,
// which is what lets RawSocket and WebSocket share a port.
const magic = 0x7F

// Length exponents: a handshake announces a limit of 2^(9+L) bytes,
// L in [0, 15], that is 512 B to 16 MiB.
const (
	minLengthExp = 9
	maxLengthExp = 15
	// MaxFrameSize is the largest payload RawSocket can carry: 2^24 bytes.
	MaxFrameSize = 1 << 24
)

// ErrorCode is the code of a RawSocket error handshake (the high nibble of
// the router's second octet when the low one is zero).
type ErrorCode uint8

// The error codes of the RawSocket handshake (WAMP advanced profile,
// "RawSocket Transport").
const (
	// CodeSerializerUnsupported: the router does not speak the serializer
	// the client asked for.
	CodeSerializerUnsupported ErrorCode = 1
	// CodeMaxLengthUnacceptable: the router refused the client's maximum
	// message length.
	CodeMaxLengthUnacceptable ErrorCode = 2
	// CodeReservedBits: the client used reserved bits (an unsupported
	// feature).
	CodeReservedBits ErrorCode = 3
	// CodeMaxConnections: the router's connection limit is reached.
	CodeMaxConnections ErrorCode = 4
)

// String names the code as the specification does.
func (c ErrorCode) String() string {
	switch c {
	case 0:
		return "illegal error code 0"
	case CodeSerializerUnsupported:
		return "serializer unsupported"
	case CodeMaxLengthUnacceptable:
		return "maximum message length unacceptable"
	case CodeReservedBits:
		return "use of reserved bits (unsupported feature)"
	case CodeMaxConnections:
		return "maximum connection count reached"
	}
	return "reserved error code " + strconv.Itoa(int(c))
}

// HandshakeError is a RawSocket error handshake received by Dial: the
// router refused the connection.
type HandshakeError struct {
	Code ErrorCode
}

func (e *HandshakeError) Error() string {
	return "rawsocket: handshake refused by the router: " + e.Code.String() + " (code " + strconv.Itoa(int(e.Code)) + ")"
}

// lengthExp returns the exponent L that announces limit: the largest
// 2^(9+L) not above limit, clamped to [0, 15].
func lengthExp(limit int) byte {
	l := byte(0)
	for l < maxLengthExp && 1<<(minLengthExp+l+1) <= limit {
		l++
	}
	return l
}

// lengthLimit is the limit, in bytes, that exponent l announces.
func lengthLimit(l byte) int { return 1 << (minLengthExp + int(l&0x0F)) }

// hello encodes a client's (or a router's successful) handshake.
func hello(l, serializerID byte) [4]byte {
	return [4]byte{magic, l<<4 | serializerID&0x0F, 0, 0}
}

// refusal encodes a router's error handshake.
func refusal(code ErrorCode) [4]byte {
	return [4]byte{magic, byte(code) << 4, 0, 0}
}

// verdict is the router's answer to a client handshake.
type verdict struct {
	// reply is sent to the client unless noReply is set (bad magic: the
	// connection is closed without a word, it is not RawSocket).
	reply   [4]byte
	noReply bool
	// ok: the handshake succeeded; ser is the serializer and sendLimit the
	// client's receive limit (our send limit).
	ok        bool
	ser       serializer.Serializer
	sendLimit int
	// code is the error sent when !ok && !noReply.
	code ErrorCode
}

// judge answers the client handshake req. offered reports whether the
// router speaks the serializer with a RawSocket id (nil if not); recvExp is
// the router's own receive limit exponent. The connection limit is checked
// by the caller after a successful judge, since it consumes a slot.
func judge(req [4]byte, offered func(id byte) serializer.Serializer, recvExp byte) verdict {
	if req[0] != magic {
		return verdict{noReply: true}
	}
	if req[2] != 0 || req[3] != 0 {
		return verdict{reply: refusal(CodeReservedBits), code: CodeReservedBits}
	}
	id := req[1] & 0x0F
	var s serializer.Serializer
	if id != 0 {
		s = offered(id)
	}
	if s == nil {
		return verdict{reply: refusal(CodeSerializerUnsupported), code: CodeSerializerUnsupported}
	}
	return verdict{
		reply:     hello(recvExp, id),
		ok:        true,
		ser:       s,
		sendLimit: lengthLimit(req[1] >> 4),
	}
}
