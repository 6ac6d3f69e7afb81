package serializer

import "fmt"

// Constant is a value that never changes, encoded once in every format and
// copied into each message that carries it, at any depth. A router's
// WELCOME announces the same roles and features to every session; encoding
// them again each time, keys sorted at every level, was most of the cost of
// a WELCOME (BenchmarkEncodeWelcome). Nothing decodes into a Constant: a
// peer receives the value it holds.
//
// The value must not be modified once NewConstant has encoded it. Its
// nesting counts from zero where it is spliced, so keep it shallow: a
// message nested deeper than the decoders accept is refused by the peer.
type Constant struct {
	value               any
	json, msgpack, cbor []byte
}

// NewConstant encodes v in every format.
func NewConstant(v any) (*Constant, error) {
	c := &Constant{value: v}
	var err error
	if c.json, err = appendJSON(nil, v, 0); err != nil {
		return nil, fmt.Errorf("serializer: constant in JSON: %w", err)
	}
	if c.cbor, err = appendCBOR(nil, v, 0); err != nil {
		return nil, fmt.Errorf("serializer: constant in CBOR: %w", err)
	}
	e := msgpackEncoders.Get().(*msgpackEncoder)
	e.w.b = nil
	err = e.value(v, 0)
	c.msgpack = e.w.b
	e.w.b = nil
	msgpackEncoders.Put(e)
	if err != nil {
		return nil, fmt.Errorf("serializer: constant in MessagePack: %w", err)
	}
	return c, nil
}

// MustConstant is NewConstant for package-level values, which are known to
// encode: it panics if v does not.
func MustConstant(v any) *Constant {
	c, err := NewConstant(v)
	if err != nil {
		panic(err)
	}
	return c
}

// Value returns the value c holds.
func (c *Constant) Value() any { return c.value }
