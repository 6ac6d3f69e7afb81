package bridge

import (
	"testing"

	"github.com/switchyard/switchyard/serializer"
)

// FuzzDecodeRequest: no body panics the decoder, and whatever it accepts
// re-encodes as JSON (the value model holds nothing JSON cannot say, except
// NaN, which the decoder never produces).
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"topic": "com.example.x", "args": [1, "\u0000AAE=", 9007199254740993], "kwargs": {"a": null}, "options": {"exclude_me": false}}`,
		`{"procedure": "a.b"}`, `[]`, `{"topic": 1}`, `{"topic": "t", "topic": "u"}`, `{"args": [[[[[[`, `"\u0000!!"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, key := range []string{"topic", "procedure"} {
			req, err := decodeRequest(body, key)
			if err != nil {
				continue
			}
			if req.URI == "" {
				t.Fatal("accepted a request without a URI")
			}
			if _, err := serializer.AppendJSONValue(nil, map[string]any{"args": req.Args, "kwargs": req.Kwargs, "options": req.Options}); err != nil {
				t.Fatalf("accepted %q but cannot re-encode it: %v", body, err)
			}
		}
	})
}
