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
// IDs are integers in [1, 2^53] and never pass through float64.
package spec
