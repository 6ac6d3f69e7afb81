package serializer

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/spec"
)

// wampySubscribe is SUBSCRIBE [32, 1, {"match": <undefined>, "get_retained":
// <undefined>}, "a.b"] as wampy.js 8.0.2 puts it on the wire: it fills
// options it was not given with JavaScript's undefined.
var wampySubscribe = map[Serializer]string{
	JSON:        `[32,1,{"match":null,"get_retained":null},"a.b"]`, // JSON.stringify drops undefined; null is the JSON form
	MessagePack: "\x94\x20\x01\x82\xa5match\xd4\x00\x00\xacget_retained\xd4\x00\x00\xa3a.b",
	CBOR:        "\x84\x18\x20\x01\xa2\x65match\xf7\x6cget_retained\xf6\x63a.b", // undefined (f7) and null (f6)
}

// TestNullOptionsAreAbsent: in every format, an option that is null or
// undefined decodes as absent, so a request wampy.js makes is accepted
// like one without the key.
func TestNullOptionsAreAbsent(t *testing.T) {
	for s, frame := range wampySubscribe {
		m, err := s.Decode([]byte(frame))
		if err != nil {
			t.Fatalf("%s: Decode: %v", s.Name(), err)
		}
		sub, ok := m.(*spec.Subscribe)
		if !ok || sub.Topic != "a.b" || sub.Request != 1 {
			t.Fatalf("%s: decoded %#v", s.Name(), m)
		}
		if len(sub.Options) != 0 {
			t.Errorf("%s: Options = %#v, want the null keys dropped", s.Name(), sub.Options)
		}
		if err := spec.Validate(m); err != nil {
			t.Errorf("%s: Validate: %v", s.Name(), err)
		}
		if oe := spec.CheckOptions(m); oe != nil {
			t.Errorf("%s: CheckOptions: %v", s.Name(), oe)
		}
	}
	// Undefined inside a payload is a null argument, kept.
	m, err := MessagePack.Decode([]byte("\x95\x30\x01\x81\xa7timeout\xd4\x00\x00\xa1p\x92\x01\xd4\x00\x00"))
	if err != nil {
		t.Fatal(err)
	}
	call := m.(*spec.Call)
	if len(call.Options) != 0 || len(call.Arguments) != 2 || call.Arguments[1] != nil {
		t.Errorf("CALL decoded as %#v", call)
	}
}

// TestMsgpackExtensionErrorNamesType: extensions other than msgpackr's
// undefined are refused, and the error says which type arrived.
func TestMsgpackExtensionErrorNamesType(t *testing.T) {
	for in, want := range map[string]string{
		"\x93\x01\xa1x\x81\xa1k\xd4\x05\x00":             "extension type 5 is not supported",
		"\x93\x01\xa1x\x81\xa1k\xd6\xff\x00\x00\x00\x00": "extension type -1 (timestamp) is not supported",
		"\x93\x01\xa1x\x81\xa1k\xc7\x02\x07ab":           "extension type 7 is not supported",
		"\x93\x01\xa1x\x81\xa1k\xd4\x00\x01":             "extension type 0 is not supported",
	} {
		_, err := MessagePack.Decode([]byte(in))
		if !isProtocolError(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%x) = %v, want a protocol error saying %q", in, err, want)
		}
	}
}
