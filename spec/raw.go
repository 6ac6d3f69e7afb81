package spec

// Raw is a message's payload kept in its wire form: the encoded Arguments
// (and ArgumentsKw) elements exactly as a peer sent them. The router
// forwards CALL → INVOCATION and YIELD/ERROR → RESULT/ERROR without looking
// inside the payload, so decoding it into Go values only to encode it again
// in the same format is wasted work; a message that carries Raw is spliced
// by an encoder of the same format and transcoded, once, by any other. The
// broker does the same for PUBLISH → EVENT, and the cluster layer carries a
// Raw payload between nodes as it is.
//
// The zero value (N == 0) means the payload is in Arguments/ArgumentsKw.
// When N > 0, Arguments and ArgumentsKw are empty and must be read through
// [Payload].
type Raw struct {
	// Format is the serializer's name ("json", "msgpack", "cbor").
	Format string
	// N is how many payload elements Bytes holds: 1 (Arguments) or 2
	// (Arguments and ArgumentsKw).
	N int
	// Bytes are the N encoded values back to back (for JSON, with the
	// separating comma). They are owned by the message, never a view of a
	// transport buffer.
	Bytes []byte
}

// RawDecoder decodes a Raw payload into the value model. Package serializer
// sets it in its init, the only writer; spec cannot import the formats.
var RawDecoder func(r Raw) (List, Dict, error)

// Payload returns a payload's values: args and kwargs as they are, or
// raw decoded through [RawDecoder] when raw holds the payload.
func Payload(args List, kwargs Dict, raw Raw) (List, Dict, error) {
	if raw.N == 0 {
		return args, kwargs, nil
	}
	if RawDecoder == nil {
		return nil, nil, violation("raw " + raw.Format + " payload without a decoder")
	}
	return RawDecoder(raw)
}

// mustPayload is Payload for ToList, whose callers (the encoders) recover
// from a panic and report it as an encode error. A Raw payload was checked
// when it was received, so failing here is a bug, not bad input.
func mustPayload(args List, kwargs Dict, raw Raw, withRaw bool) (List, Dict) {
	if raw.N == 0 {
		return args, kwargs
	}
	if !withRaw {
		return nil, nil
	}
	a, kw, err := Payload(args, kwargs, raw)
	if err != nil {
		panic("spec: cannot decode a raw payload: " + err.Error())
	}
	return a, kw
}

// RawOf returns the Raw payload of m, if m is a message that can carry one
// and does.
func RawOf(m Message) (Raw, bool) {
	var r Raw
	switch m := m.(type) {
	case *Publish:
		r = m.Raw
	case *Event:
		r = m.Raw
	case *Call:
		r = m.Raw
	case *Invocation:
		r = m.Raw
	case *Yield:
		r = m.Raw
	case *Result:
		r = m.Raw
	case *Error:
		r = m.Raw
	}
	return r, r.N > 0
}

// HeadList returns m's wire form without its Raw payload: the list an
// encoder of the payload's own format writes, followed by raw's bytes
// spliced in. For a message without Raw it is [ToList].
func HeadList(m Message) List { return toList(m, false) }

// Materialize decodes m's Raw payload, if any, into Arguments and
// ArgumentsKw, for code that needs the values (router-side procedures,
// local sessions). It is a no-op for a message without one.
func Materialize(m Message) error {
	var args *List
	var kwargs *Dict
	var raw *Raw
	switch m := m.(type) {
	case *Publish:
		args, kwargs, raw = &m.Arguments, &m.ArgumentsKw, &m.Raw
	case *Event:
		args, kwargs, raw = &m.Arguments, &m.ArgumentsKw, &m.Raw
	case *Call:
		args, kwargs, raw = &m.Arguments, &m.ArgumentsKw, &m.Raw
	case *Invocation:
		args, kwargs, raw = &m.Arguments, &m.ArgumentsKw, &m.Raw
	case *Yield:
		args, kwargs, raw = &m.Arguments, &m.ArgumentsKw, &m.Raw
	case *Result:
		args, kwargs, raw = &m.Arguments, &m.ArgumentsKw, &m.Raw
	case *Error:
		args, kwargs, raw = &m.Arguments, &m.ArgumentsKw, &m.Raw
	default:
		return nil
	}
	if raw.N == 0 {
		return nil
	}
	a, kw, err := Payload(nil, nil, *raw)
	if err != nil {
		return err
	}
	*args, *kwargs, *raw = a, kw, Raw{}
	return nil
}
