package serializer

import (
	"testing"

	"github.com/switchyard/switchyard/spec"
)

var keySink string

// TestWellKnownKeysCostNoAllocation: a well-known key comes from the table,
// any other key is copied; decoded dicts hold the same keys either way.
func TestWellKnownKeysCostNoAllocation(t *testing.T) {
	known, unknown := []byte(spec.FeatureProgressiveCallResults), []byte("com.example.custom_option")
	if n := testing.AllocsPerRun(100, func() { keySink = keyString(known) }); n != 0 {
		t.Errorf("a well-known key cost %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { keySink = keyString(unknown) }); n != 1 {
		t.Errorf("another key cost %v allocations, want its copy", n)
	}
	details := spec.Dict{"roles": spec.Dict{spec.RoleCaller: spec.Dict{"features": spec.Dict{spec.FeatureCallCanceling: true}}}, "com.example.custom_option": "x"}
	for _, ser := range []Serializer{JSON, MessagePack} {
		b, err := ser.Encode(nil, &spec.Hello{Realm: "realm1", Details: details})
		if err != nil {
			t.Fatal(err)
		}
		m, err := ser.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		got := m.(*spec.Hello).Details
		caller := got["roles"].(map[string]any)[spec.RoleCaller].(map[string]any)
		if got["com.example.custom_option"] != "x" || caller["features"].(map[string]any)[spec.FeatureCallCanceling] != true {
			t.Errorf("%s: details decoded as %v", ser.Name(), got)
		}
	}
}
