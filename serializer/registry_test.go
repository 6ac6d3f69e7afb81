package serializer

import (
	"bytes"
	"slices"
	"testing"
)

func TestRegistry(t *testing.T) {
	for _, c := range []struct {
		s      Serializer
		name   string
		id     byte
		binary bool
	}{
		{JSON, "json", 1, false},
		{MessagePack, "msgpack", 2, true},
		{CBOR, "cbor", 3, true},
	} {
		if c.s.Name() != c.name || c.s.Binary() != c.binary {
			t.Errorf("%s: Name %q Binary %v", c.name, c.s.Name(), c.s.Binary())
		}
		if s, ok := ByName(c.name); !ok || s != c.s {
			t.Errorf("ByName(%q) = %v, %v", c.name, s, ok)
		}
		if s, ok := ByRawSocketID(c.id); !ok || s != c.s {
			t.Errorf("ByRawSocketID(%d) = %v, %v", c.id, s, ok)
		}
		if id := RawSocketID(c.s); id != c.id {
			t.Errorf("RawSocketID(%s) = %d", c.name, id)
		}
		for _, batched := range []bool{false, true} {
			p := Subprotocol(c.s, batched)
			want := "wamp.2." + c.name
			if batched {
				want += ".batched"
			}
			if p != want {
				t.Errorf("Subprotocol(%s, %v) = %q", c.name, batched, p)
			}
			s, b, ok := BySubprotocol(p)
			if !ok || s != c.s || b != batched {
				t.Errorf("BySubprotocol(%q) = %v, %v, %v", p, s, b, ok)
			}
		}
	}
	for _, name := range []string{"", "JSON", "ubjson", "flatbuffers"} {
		if _, ok := ByName(name); ok {
			t.Errorf("ByName(%q) ok", name)
		}
	}
	for _, id := range []byte{0, 4, 5, 15, 255} {
		if _, ok := ByRawSocketID(id); ok {
			t.Errorf("ByRawSocketID(%d) ok", id)
		}
	}
	if RawSocketID(nil) != 0 {
		t.Error("RawSocketID(nil) != 0")
	}
	for _, p := range []string{"", "wamp", "wamp.2", "wamp.2.", "wamp.2.ubjson", "wamp.2.json.batched.batched", "wamp.2.batched", "WAMP.2.json", "wamp.2.json.x"} {
		if s, b, ok := BySubprotocol(p); ok {
			t.Errorf("BySubprotocol(%q) = %v, %v, true", p, s, b)
		}
	}
	got := Subprotocols([]Serializer{CBOR, JSON})
	want := []string{"wamp.2.cbor", "wamp.2.json", "wamp.2.cbor.batched", "wamp.2.json.batched"}
	if !slices.Equal(got, want) {
		t.Errorf("Subprotocols = %q", got)
	}
	all := All()
	if len(all) != 3 || all[0] != MessagePack {
		t.Errorf("All() = %v", all)
	}
	all[0] = nil
	if All()[0] == nil {
		t.Error("All returns shared slice")
	}
}

func TestBatch(t *testing.T) {
	msgs := [][]byte{[]byte(`[1,"a",{}]`), []byte(`[6,{},"b"]`), []byte("x")}
	for _, s := range serializers {
		var batch []byte
		for _, m := range msgs {
			batch = AppendBatched(s, batch, m)
		}
		parts, err := SplitBatch(s, batch)
		if err != nil {
			t.Fatalf("%s: %v", s.Name(), err)
		}
		if len(parts) != len(msgs) {
			t.Fatalf("%s: %d parts", s.Name(), len(parts))
		}
		for i := range parts {
			if !bytes.Equal(parts[i], msgs[i]) {
				t.Errorf("%s: part %d = %q", s.Name(), i, parts[i])
			}
		}
	}
	if got := string(AppendBatched(JSON, nil, []byte("[1]"))); got != "[1]\x1e" {
		t.Errorf("json batch %q", got)
	}
	if got := string(AppendBatched(CBOR, nil, []byte("abc"))); got != "\x00\x00\x00\x03abc" {
		t.Errorf("cbor batch %q", got)
	}
	// autobahn-python writes 0x18; both separators are accepted.
	parts, err := SplitBatch(JSON, []byte("[1]\x18[2]\x1e"))
	if err != nil || len(parts) != 2 || string(parts[0]) != "[1]" || string(parts[1]) != "[2]" {
		t.Errorf("mixed separators: %q, %v", parts, err)
	}
	bad := map[Serializer][]string{
		JSON:        {"", "\x1e", "[1]", "[1]\x1e[2]", "[1]\x1e\x1e"},
		MessagePack: {"", "\x00", "\x00\x00\x00", "\x00\x00\x00\x00", "\x00\x00\x00\x02a", "\x00\x00\x00\x01a\x00", "\xff\xff\xff\xff"},
	}
	bad[CBOR] = bad[MessagePack]
	for s, list := range bad {
		for _, in := range list {
			if parts, err := SplitBatch(s, []byte(in)); err == nil || !isProtocolError(err) {
				t.Errorf("%s: SplitBatch(%q) = %q, %v", s.Name(), in, parts, err)
			}
		}
	}
}
