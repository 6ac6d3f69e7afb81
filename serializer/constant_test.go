package serializer

import (
	"bytes"
	"testing"

	"github.com/switchyard/switchyard/spec"
)

// A Constant encodes exactly as the value it holds, wherever it is nested,
// in every format.
func TestConstantEncodesAsItsValue(t *testing.T) {
	roles := spec.Dict{
		"broker": spec.Dict{"features": spec.Dict{"publisher_exclusion": true, "event_history": true}},
		"dealer": spec.Dict{"features": spec.Dict{"call_canceling": true, "progressive_call_results": true}},
	}
	c, err := NewConstant(roles)
	if err != nil {
		t.Fatal(err)
	}
	if c.Value() == nil {
		t.Fatal("Value() = nil")
	}
	details := func(r any) spec.Dict {
		return spec.Dict{"authid": "alice", "roles": r, "nested": spec.List{int64(1), r}}
	}
	for _, s := range serializers {
		want := mustEncode(t, s, &spec.Welcome{Session: 7, Details: details(roles)})
		got := mustEncode(t, s, &spec.Welcome{Session: 7, Details: details(c)})
		if !bytes.Equal(got, want) {
			t.Errorf("%s: with the constant\n%x\nwant\n%x", s.Name(), got, want)
		}
		m, err := s.Decode(got)
		if err != nil {
			t.Fatalf("%s: %v", s.Name(), err)
		}
		if r, _ := m.(*spec.Welcome).Details["roles"].(map[string]any); len(r) != 2 {
			t.Errorf("%s: decoded roles %v, want the dict", s.Name(), m.(*spec.Welcome).Details["roles"])
		}
	}
}

// A value that does not encode is refused when the Constant is made, not
// when a message carrying it is sent.
func TestConstantRefusesWhatDoesNotEncode(t *testing.T) {
	if _, err := NewConstant(spec.Dict{"x": struct{}{}}); err == nil {
		t.Error("NewConstant of an unsupported value: no error")
	}
}

// BenchmarkEncodeWelcome is a router's WELCOME with its roles announced
// as a dict and as a Constant.
func BenchmarkEncodeWelcome(b *testing.B) {
	roles := spec.Dict{
		"broker": spec.Dict{"features": spec.Dict{
			"publisher_exclusion": true, "publisher_identification": true, "subscriber_blackwhite_listing": true,
			"pattern_based_subscription": true, "session_meta_api": true, "subscription_meta_api": true,
			"event_retention": true, "event_history": true, "subscription_revocation": true, "payload_passthru_mode": true,
		}},
		"dealer": spec.Dict{"features": spec.Dict{
			"progressive_call_results": true, "caller_identification": true, "pattern_based_registration": true,
			"shared_registration": true, "session_meta_api": true, "registration_meta_api": true,
			"testament_meta_api": true, "call_canceling": true, "call_timeout": true, "registration_revocation": true,
			"progressive_call_invocations": true, "payload_passthru_mode": true,
		}},
	}
	for _, r := range []struct {
		name  string
		roles any
	}{{"dict", roles}, {"constant", MustConstant(roles)}} {
		m := &spec.Welcome{Session: 4971301842372619, Details: spec.Dict{
			"agent": "switchyard", "realm": "realm1", "authid": "XJ4H2KQ", "authrole": "anonymous",
			"authmethod": "anonymous", "authprovider": "static", "roles": r.roles,
		}}
		for _, s := range serializers {
			b.Run(r.name+"/"+s.Name(), func(b *testing.B) {
				buf := make([]byte, 0, 1024)
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
