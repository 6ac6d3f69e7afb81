package serializer

import (
	"encoding/binary"
	"math"
)

// Batched WebSocket framing (subprotocols "wamp.2.<name>.batched") carries
// several messages in one WebSocket message. JSON messages are each
// followed by the ASCII record separator 0x1e; binary messages are each
// preceded by their length as a big-endian uint32. A batch always holds at
// least one message.
const (
	recordSeparator = 0x1e
	// autobahnSeparator is what autobahn-python actually writes: the
	// literal b"\30" is octal, 0x18. Accepted on input, never written.
	autobahnSeparator = 0x18
)

// SplitBatch splits one batched WebSocket message into its messages, which
// alias b. An empty batch, an empty message, a JSON tail without its
// separator or a truncated length-prefixed message is a protocol error
// (the transport is failed).
func SplitBatch(s Serializer, b []byte) ([][]byte, error) {
	if len(b) == 0 {
		return nil, protocolError("batch", "empty batch")
	}
	if !s.Binary() {
		return splitJSONBatch(b)
	}
	n := 0
	for rest := b; len(rest) > 0; n++ {
		if len(rest) < 4 {
			return nil, protocolError("batch", "truncated length prefix")
		}
		l := binary.BigEndian.Uint32(rest)
		if l == 0 {
			return nil, protocolError("batch", "empty message")
		}
		if uint64(l) > uint64(len(rest)-4) {
			return nil, protocolError("batch", "truncated message")
		}
		rest = rest[4+l:]
	}
	out := make([][]byte, 0, n)
	for len(b) > 0 {
		l := binary.BigEndian.Uint32(b)
		out = append(out, b[4:4+l:4+l])
		b = b[4+l:]
	}
	return out, nil
}

func splitJSONBatch(b []byte) ([][]byte, error) {
	n := 0
	for _, c := range b {
		if c == recordSeparator || c == autobahnSeparator {
			n++
		}
	}
	if c := b[len(b)-1]; c != recordSeparator && c != autobahnSeparator {
		return nil, protocolError("batch", "message without a record separator")
	}
	out := make([][]byte, 0, n)
	start := 0
	for i, c := range b {
		if c != recordSeparator && c != autobahnSeparator {
			continue
		}
		if i == start {
			return nil, protocolError("batch", "empty message")
		}
		out = append(out, b[start:i:i])
		start = i + 1
	}
	return out, nil
}

// AppendBatched appends one encoded message to a batch being built in dst:
// frame then 0x1e for JSON, or a big-endian uint32 length then frame for
// the binary formats. It panics if frame is longer than 4 GiB - 1, which no
// transport can carry.
func AppendBatched(s Serializer, dst, frame []byte) []byte {
	if !s.Binary() {
		dst = append(dst, frame...)
		return append(dst, recordSeparator)
	}
	if uint64(len(frame)) > math.MaxUint32 {
		panic("serializer: batched frame longer than 4 GiB")
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(frame)))
	return append(dst, frame...)
}
