package serializer

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/spec"
)

// seedDecoder adds every testsuite variant of s's format, the validation
// samples and our own sample messages to f's corpus.
func seedDecoder(f *testing.F, s Serializer) {
	for _, path := range vectorFiles(f) {
		for _, smp := range loadVectors(f, path).Samples {
			for _, v := range smp.Serializers[s.Name()] {
				if b, err := hex.DecodeString(v.Hex); err == nil {
					f.Add(b)
				}
			}
			if smp.WMsg != nil {
				if raw, err := decodeJSONValue(smp.WMsg); err == nil {
					if b, err := encodeValue(s, raw); err == nil {
						f.Add(b)
					}
				}
			}
		}
	}
	for _, m := range sampleMessages() {
		if b, err := s.Encode(nil, m); err == nil {
			f.Add(b)
		}
	}
}

// checkDecode is the property every decoder must have: no panic; errors
// are protocol errors; whatever decodes re-encodes, reads back equal, and
// encodes to the same bytes again; and it transcodes losslessly into the
// other formats (into JSON only when JSON can carry it).
func checkDecode(t *testing.T, s Serializer, data []byte) {
	m, err := s.Decode(data)
	if err != nil {
		if !isProtocolError(err) {
			t.Fatalf("Decode(%x): error %v is not a *spec.ProtocolError", data, err)
		}
		return
	}
	if err := spec.Validate(m); err != nil && !isProtocolError(err) {
		t.Fatalf("Validate: %v is not a *spec.ProtocolError", err)
	}
	b1, err := s.Encode(nil, m)
	if err != nil {
		t.Fatalf("Encode(Decode(%x)): %v", data, err)
	}
	m2, err := s.Decode(b1)
	if err != nil {
		t.Fatalf("Decode(Encode(m)) of %x: %v", b1, err)
	}
	if !equalMessage(m, m2) {
		t.Fatalf("round trip changed the message:\n%#v\n%#v", m, m2)
	}
	b2, err := s.Encode(nil, m2)
	if err != nil || !bytes.Equal(b1, b2) {
		t.Fatalf("Encode is not stable:\n%x\n%x (%v)", b1, b2, err)
	}
	for _, to := range serializers {
		if to == s || to == JSON && !jsonSafe(spec.ToList(m)) {
			continue
		}
		out, err := to.Encode(nil, m)
		if err != nil {
			t.Fatalf("transcode to %s: %v", to.Name(), err)
		}
		back, err := to.Decode(out)
		if err != nil {
			t.Fatalf("transcode to %s: Decode(%x): %v", to.Name(), out, err)
		}
		if !equalMessage(m, back) {
			t.Fatalf("transcode to %s changed the message:\n%#v\n%#v", to.Name(), m, back)
		}
	}
}

// jsonSafe reports whether JSON can carry v unchanged: no NaN or infinity,
// and no text string starting with U+0000 (JSON reads that as binary).
func jsonSafe(v any) bool {
	switch v := v.(type) {
	case float64:
		return !math.IsNaN(v) && !math.IsInf(v, 0)
	case string:
		return !strings.HasPrefix(v, "\x00")
	case []any:
		for _, e := range v {
			if !jsonSafe(e) {
				return false
			}
		}
	case map[string]any:
		for _, e := range v {
			if !jsonSafe(e) {
				return false
			}
		}
	}
	return true
}

func FuzzDecodeJSON(f *testing.F) {
	seedDecoder(f, JSON)
	for _, s := range []string{`[1e400]`, `["\ud800\udc00\udbff"]`, `[{"a":1,"a":2}]`, `[18446744073709551616]`, "[\"\xff\"]", `["\u0000AA"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, JSON, data)
		checkJSONAgainstStdlib(t, data)
	})
}

func FuzzDecodeMsgpack(f *testing.F) {
	seedDecoder(f, MessagePack)
	// msgpackr's undefined (d4 00 00) is accepted as nil; other extensions
	// of every size are refused.
	f.Add([]byte(wampySubscribe[MessagePack]))
	for _, ext := range []string{"\xd4\x00\x00", "\xd4\x00\x01", "\xd4\x01\x00", "\xd5\x00\x00\x00", "\xd6\xff\x00\x00\x00\x00",
		"\xd7\xff\x00\x00\x00\x00\x00\x00\x00\x00", "\xd8\x02" + strings.Repeat("\x00", 16), "\xc7\x01\x00\x00", "\xc8\x00\x01\x03\x00", "\xc9\x00\x00\x00\x00\x04"} {
		f.Add([]byte("\x95\x30\x01\x81\xa7timeout" + ext + "\xa1p\x91" + ext))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, MessagePack, data)
	})
}

func FuzzDecodeCBOR(f *testing.F) {
	seedDecoder(f, CBOR)
	f.Add([]byte(wampySubscribe[CBOR]))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, CBOR, data)
	})
}

// checkJSONAgainstStdlib uses encoding/json as the oracle for the
// hand-written reader: we accept only valid JSON; we refuse valid JSON only
// for our documented reasons; and where both accept, the values agree.
func checkJSONAgainstStdlib(t *testing.T, data []byte) {
	ours, err := decodeJSONValue(data)
	valid := json.Valid(data)
	if err == nil && !valid {
		t.Fatalf("accepted invalid JSON %q", data)
	}
	if err != nil {
		if !valid {
			return
		}
		for _, reason := range []string{"duplicate key", "out of range", "nested too deeply", "invalid base64"} {
			if strings.Contains(err.Error(), reason) {
				return
			}
		}
		t.Fatalf("refused valid JSON %q: %v", data, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var std any
	if err := dec.Decode(&std); err != nil {
		t.Fatalf("stdlib: %v", err)
	}
	if !equalValue(ours, fromStdlib(t, std)) {
		t.Fatalf("%q:\n ours %#v\n  std %#v", data, ours, std)
	}
}

// fromStdlib maps encoding/json's UseNumber tree onto the value model.
func fromStdlib(t *testing.T, v any) any {
	switch v := v.(type) {
	case json.Number:
		s := string(v)
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n
			}
			if n, err := strconv.ParseUint(s, 10, 64); err == nil {
				return n
			}
		}
		f, _ := strconv.ParseFloat(s, 64)
		return f
	case string:
		if strings.HasPrefix(v, "\x00") {
			b, err := base64.StdEncoding.DecodeString(v[1:])
			if err != nil {
				b, err = base64.RawStdEncoding.DecodeString(v[1:])
			}
			if err != nil {
				t.Fatalf("base64 %q: %v", v, err)
			}
			return b
		}
		return v
	case []any:
		for i := range v {
			v[i] = fromStdlib(t, v[i])
		}
		return v
	case map[string]any:
		for k := range v {
			v[k] = fromStdlib(t, v[k])
		}
		return v
	}
	return v
}

func FuzzSplitBatch(f *testing.F) {
	f.Add([]byte("[1]\x1e[2]\x18"), false)
	f.Add([]byte("\x00\x00\x00\x01a\x00\x00\x00\x02bc"), true)
	f.Add([]byte(""), true)
	f.Add([]byte("\x1e"), false)
	f.Fuzz(func(t *testing.T, data []byte, binary bool) {
		s := JSON
		if binary {
			s = MessagePack
		}
		parts, err := SplitBatch(s, data)
		if err != nil {
			if !isProtocolError(err) {
				t.Fatalf("error %v is not a protocol error", err)
			}
			return
		}
		if len(parts) == 0 {
			t.Fatal("no messages and no error")
		}
		var again []byte
		for _, p := range parts {
			if len(p) == 0 {
				t.Fatal("empty message")
			}
			again = AppendBatched(s, again, p)
		}
		want := data
		if !binary {
			want = bytes.ReplaceAll(data, []byte{autobahnSeparator}, []byte{recordSeparator})
		}
		if !bytes.Equal(again, want) {
			t.Fatalf("rebatching %q gives %q", data, again)
		}
	})
}
