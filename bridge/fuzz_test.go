package bridge

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"testing"
	"time"

	"github.com/switchyard/switchyard/auth"
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

// FuzzSignedRequest: no query string or body panics the signature checks,
// and nothing but the true signature of a fresh nonce is accepted.
func FuzzSignedRequest(f *testing.F) {
	keys := []auth.HTTPSignatureKey{{Key: "k", Secret: "s", AuthID: "a", AuthRole: "r"}}
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	ts := "2026-12-06T04:00:00.000Z"
	good := url.Values{"key": {"k"}, "timestamp": {ts}, "seq": {"1"}, "nonce": {"9"}, "signature": {Sign("s", "k", ts, "1", "9", []byte("{}"))}}
	f.Add(good.Encode(), []byte("{}"), "sha256=00")
	f.Add("key=k&signature=%%%", []byte(""), "sha256=zz")
	f.Add("key=k&timestamp=x&seq=1&nonce=1&signature=AAAA", []byte("x"), "")
	f.Fuzz(func(t *testing.T, query string, body []byte, hub string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		var nc nonceCache
		p, err := verifySignature(q, body, keys, &nc, now)
		if err == nil {
			want := Sign("s", "k", q.Get("timestamp"), q.Get("seq"), q.Get("nonce"), body)
			got, _ := base64.URLEncoding.DecodeString(padBase64(q.Get("signature")))
			w, _ := base64.URLEncoding.DecodeString(want)
			if p.authID != "a" || !bytes.Equal(got, w) {
				t.Fatalf("accepted %q", query)
			}
			if _, err := verifySignature(q, body, keys, &nc, now); err == nil {
				t.Fatal("a replay was accepted")
			}
		}
		checkHubSignature(hub, "secret", body)
	})
}
