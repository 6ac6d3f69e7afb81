package serializer

import (
	"testing"

	"github.com/switchyard/switchyard/spec"
)

// benchMessages are typical messages of the hot families: small Details,
// a short positional payload and a few keyword arguments.
func benchMessages() []spec.Message {
	args := spec.List{"hello", int64(42), 3.25, true}
	kwargs := spec.Dict{"user": "alice", "count": int64(7), "tags": spec.List{"a", "b"}}
	return []spec.Message{
		&spec.Event{Subscription: 5512315355, Publication: 4429313566, Details: spec.Dict{}, Arguments: args, ArgumentsKw: kwargs},
		&spec.Publish{Request: 239714735, Options: spec.Dict{"acknowledge": true}, Topic: "com.myapp.mytopic1", Arguments: args, ArgumentsKw: kwargs},
		&spec.Call{Request: 7814135, Options: spec.Dict{"timeout": int64(1000)}, Procedure: "com.myapp.myprocedure1", Arguments: args, ArgumentsKw: kwargs},
		&spec.Invocation{Request: 6131533, Registration: 9823526, Details: spec.Dict{}, Arguments: args, ArgumentsKw: kwargs},
		&spec.Result{Request: 7814135, Details: spec.Dict{}, Arguments: args, ArgumentsKw: kwargs},
		&spec.Yield{Request: 6131533, Options: spec.Dict{}, Arguments: args},
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, m := range benchMessages() {
		for _, s := range serializers {
			b.Run(m.Type().String()+"/"+s.Name(), func(b *testing.B) {
				buf := make([]byte, 0, 512)
				out, _ := s.Encode(buf, m)
				b.SetBytes(int64(len(out)))
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if buf, err = s.Encode(buf[:0], m); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, m := range benchMessages() {
		for _, s := range serializers {
			b.Run(m.Type().String()+"/"+s.Name(), func(b *testing.B) {
				frame := mustEncode(b, s, m)
				b.SetBytes(int64(len(frame)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Decode(frame); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
