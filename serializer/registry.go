package serializer

import "strings"

// all lists the serializers in Switchyard's order of preference: the
// binary formats first, since they are smaller and faster to decode and
// carry binary payloads without base64.
var all = []Serializer{MessagePack, CBOR, JSON}

// All returns the built-in serializers in order of preference (msgpack,
// cbor, json). The caller may modify the returned slice.
func All() []Serializer {
	return append([]Serializer(nil), all...)
}

// ByName returns the serializer called name ("json", "msgpack", "cbor").
func ByName(name string) (Serializer, bool) {
	switch name {
	case "json":
		return JSON, true
	case "msgpack":
		return MessagePack, true
	case "cbor":
		return CBOR, true
	}
	return nil, false
}

// RawSocket serializer ids, the low nibble of the handshake's second octet.
const (
	rawSocketJSON    byte = 1
	rawSocketMsgpack byte = 2
	rawSocketCBOR    byte = 3
)

// ByRawSocketID returns the serializer of a RawSocket handshake's
// serializer id (1 JSON, 2 MessagePack, 3 CBOR).
func ByRawSocketID(id byte) (Serializer, bool) {
	switch id {
	case rawSocketJSON:
		return JSON, true
	case rawSocketMsgpack:
		return MessagePack, true
	case rawSocketCBOR:
		return CBOR, true
	}
	return nil, false
}

// RawSocketID returns s's RawSocket serializer id, or 0 (the illegal id)
// for a serializer RawSocket does not define. It goes by Name, so a
// wrapper around a built-in serializer keeps its id.
func RawSocketID(s Serializer) byte {
	if s == nil {
		return 0
	}
	switch s.Name() {
	case "json":
		return rawSocketJSON
	case "msgpack":
		return rawSocketMsgpack
	case "cbor":
		return rawSocketCBOR
	}
	return 0
}

const (
	subprotocolPrefix  = "wamp.2."
	subprotocolBatched = ".batched"
)

// Subprotocol returns the WebSocket subprotocol for s: "wamp.2.<name>", with
// ".batched" appended for batched framing.
func Subprotocol(s Serializer, batched bool) string {
	p := subprotocolPrefix + s.Name()
	if batched {
		p += subprotocolBatched
	}
	return p
}

// BySubprotocol parses a WebSocket subprotocol such as "wamp.2.json" or
// "wamp.2.cbor.batched".
func BySubprotocol(p string) (s Serializer, batched bool, ok bool) {
	name, found := strings.CutPrefix(p, subprotocolPrefix)
	if !found {
		return nil, false, false
	}
	if n, found := strings.CutSuffix(name, subprotocolBatched); found {
		name, batched = n, true
	}
	s, ok = ByName(name)
	if !ok {
		return nil, false, false
	}
	return s, batched, true
}

// Subprotocols returns the subprotocols a WebSocket server offers for ss,
// in preference order: every plain subprotocol first, then the batched
// ones, so that a client offering both gets one message per frame.
func Subprotocols(ss []Serializer) []string {
	out := make([]string, 0, 2*len(ss))
	for _, s := range ss {
		out = append(out, Subprotocol(s, false))
	}
	for _, s := range ss {
		out = append(out, Subprotocol(s, true))
	}
	return out
}
