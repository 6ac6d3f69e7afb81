// Package serializer turns WAMP messages into bytes and back, for each
// serialization format a peer may choose: JSON, MessagePack and CBOR.
//
// The field order of every message lives in package spec (spec.ToList and
// spec.FromList); each format here supplies only its primitives. Decoded
// values follow spec's value model, so a payload published in one format
// arrives intact in every other, bytes included.
package serializer

import (
	"github.com/switchyard/switchyard/spec"
)

// Serializer encodes and decodes WAMP messages in one format.
// Implementations are stateless and safe for concurrent use.
type Serializer interface {
	// Name is the short name: "json", "msgpack" or "cbor".
	Name() string
	// Binary reports whether frames are binary (WebSocket binary messages).
	Binary() bool
	// Encode appends the encoding of m to dst.
	Encode(dst []byte, m spec.Message) ([]byte, error)
	// Decode parses one message. It never retains b. Any malformed input,
	// including a well-formed value that is not a valid WAMP message, yields
	// an error that wraps *spec.ProtocolError.
	Decode(b []byte) (spec.Message, error)
}
