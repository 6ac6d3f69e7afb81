// Package spec is Switchyard's common WAMP v2 message model.
//
// Every serializer decodes into the structs defined here and encodes from
// them, so the router never sees JSON, MessagePack or CBOR: it routes
// messages. The package has no I/O and no third-party imports.
//
// The wire order of each message's fields is written exactly once, in
// [ToList] and [FromList]; serializers only supply the primitives of their
// format. Payload values (Arguments, ArgumentsKw, Details and Options) use a
// small value model shared by all serializers:
//
//	nil, bool, int64, uint64 (only above MaxInt64), float64, string,
//	[]byte, []any, map[string]any
//
// IDs are integers in [1, 2^53] and never pass through float64. A null at
// the top level of Options, Details or Extra means nothing and is dropped on
// decode ([DropNulls]); inside payloads it is a value like any other.
//
// Checking is layered: [FromList] checks a message's shape, [Validate] what
// makes it WAMP at all (both *ProtocolError, which ends the session), and
// [CheckOptions] the option values of the four requests a router answers
// with ERROR (*OptionError, which costs only the request).
package spec
