package router

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// TestEncodeCapFitsPassthroughFrames: an INVOCATION or RESULT carrying a
// payload in its own serializer's encoding, with the largest IDs, fits the
// capacity its frame starts with, so the encoder never grows it.
func TestEncodeCapFitsPassthroughFrames(t *testing.T) {
	const maxID = spec.ID(1<<53 - 1)
	payloads := map[string]spec.List{
		"empty":  {},
		"small":  {make([]byte, 16), "x"},
		"larger": {strings.Repeat("a", 3000), int64(-1), 3.5},
	}
	for _, ser := range serializer.All() {
		s := &session{ser: ser}
		for name, args := range payloads {
			frame, err := ser.Encode(nil, &spec.Call{Request: 1, Options: spec.Dict{}, Procedure: "p", Arguments: args, ArgumentsKw: spec.Dict{"k": "v"}})
			if err != nil {
				t.Fatal(err)
			}
			m, err := serializer.DecodeRaw(ser, frame)
			if err != nil {
				t.Fatal(err)
			}
			raw := m.(*spec.Call).Raw
			if raw.Bytes == nil {
				t.Fatalf("%s/%s: the CALL's payload was not kept raw", ser.Name(), name)
			}
			for _, out := range []spec.Message{
				&spec.Invocation{Request: maxID, Registration: maxID, Raw: raw},
				&spec.Result{Request: maxID, Raw: raw},
			} {
				want := s.encodeCap(out)
				got, err := ser.Encode(make([]byte, 0, want), out)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) > want {
					t.Errorf("%s/%s: %s encodes to %d bytes, past the %d it starts with", ser.Name(), name, out.Type(), len(got), want)
				}
				if want > len(got)+rawHeadMax {
					t.Errorf("%s/%s: %s starts with %d bytes for %d", ser.Name(), name, out.Type(), want, len(got))
				}
			}
		}
	}
}
