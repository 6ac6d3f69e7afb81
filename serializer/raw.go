package serializer

import (
	"bytes"
	"strconv"

	"github.com/switchyard/switchyard/spec"
)

// A router forwards the payload of a PUBLISH, a CALL, a YIELD or an ERROR
// without reading it (to other nodes too). DecodeRaw keeps that payload's bytes ([spec.Raw]) instead of
// building Go values from them, and every Encode splices a Raw payload of
// its own format and transcodes any other (decoding it once through
// spec.RawDecoder). All three keep raw payloads that their scanner vouches
// for (and decode anything else eagerly, for the eager decoder's verdict),
// and all three encode Raw payloads of every format.

func init() { spec.RawDecoder = decodeRaw }

// rawDecoder is implemented by the serializers whose decoder can keep a
// payload undecoded.
type rawDecoder interface {
	DecodeRaw(b []byte) (spec.Message, error)
}

// DecodeRaw decodes b like s.Decode, except that the Arguments and
// ArgumentsKw of a PUBLISH, CALL, YIELD or ERROR may come back as a [spec.Raw]
// payload (copied out of b) instead of Go values. A payload the raw scanner
// does not vouch for (unusual but possibly valid input, or invalid input)
// takes s.Decode's path, so the errors and the accepted input are Decode's.
// Only code that forwards the payload unread should use it: the router's
// server-side transports.
func DecodeRaw(s Serializer, b []byte) (spec.Message, error) {
	if rd, ok := s.(rawDecoder); ok {
		return rd.DecodeRaw(b)
	}
	return s.Decode(b)
}

// rawPayloadAt is the index of the first payload element of the messages
// whose payload the router forwards unread, or 0.
func rawPayloadAt(t uint64) int {
	switch spec.MessageType(t) {
	case spec.TypeCall, spec.TypePublish:
		return 4
	case spec.TypeYield:
		return 3
	case spec.TypeError:
		return 5
	}
	return 0
}

// setRaw attaches r to m, which is of a type rawPayloadAt accepts.
func setRaw(m spec.Message, r spec.Raw) bool {
	switch m := m.(type) {
	case *spec.Call:
		m.Raw = r
	case *spec.Publish:
		m.Raw = r
	case *spec.Yield:
		m.Raw = r
	case *spec.Error:
		m.Raw = r
	default:
		return false
	}
	return true
}

// decodeRaw is spec.RawDecoder: it rebuilds a list around the payload
// elements and decodes it with the format's eager decoder.
func decodeRaw(r spec.Raw) (spec.List, spec.Dict, error) {
	if r.N < 1 || r.N > 2 {
		return nil, nil, protocolError(r.Format, "raw payload of "+strconv.Itoa(r.N)+" elements")
	}
	var v any
	var err error
	switch r.Format {
	case "msgpack":
		b := append(make([]byte, 0, len(r.Bytes)+1), 0x90|byte(r.N))
		v, err = decodeMsgpackValue(append(b, r.Bytes...))
	case "json":
		b := append(make([]byte, 0, len(r.Bytes)+2), '[')
		b = append(append(b, r.Bytes...), ']')
		v, err = decodeJSONValue(b)
	case "cbor":
		b := append(make([]byte, 0, len(r.Bytes)+1), cborArray|byte(r.N))
		v, err = decodeCBORValue(append(b, r.Bytes...))
	default:
		return nil, nil, protocolError(r.Format, "raw payload of an unknown format")
	}
	if err != nil {
		return nil, nil, err
	}
	l, _ := v.([]any)
	if len(l) != r.N {
		return nil, nil, protocolError(r.Format, "raw payload is not "+strconv.Itoa(r.N)+" elements")
	}
	args, ok := l[0].([]any)
	if !ok {
		return nil, nil, protocolError(r.Format, "raw arguments are not a list")
	}
	var kwargs spec.Dict
	if r.N == 2 {
		if kwargs, ok = l[1].(map[string]any); !ok {
			return nil, nil, protocolError(r.Format, "raw keyword arguments are not a dict")
		}
	}
	return args, kwargs, nil
}

// spliceable returns m's Raw payload when it is in format, so that the
// encoder of format can copy it instead of transcoding.
func spliceable(m spec.Message, format string) (spec.Raw, bool) {
	r, ok := spec.RawOf(m)
	if !ok || r.Format != format {
		return spec.Raw{}, false
	}
	return r, true
}

// cloneSpan copies a payload span out of a transport buffer, which Decode
// must not retain.
func cloneSpan(b []byte) []byte { return bytes.Clone(b) }

// CheckRaw reports whether r is a payload the raw scanners vouch for:
// r.N elements of r.Format, a list and then (N == 2) a dict, nothing after,
// holding only what the eager decoder turns into the same values. It builds
// no values. A payload that arrives from outside the process already split
// out (from another cluster node) may be spliced into clients' frames only
// when it passes; one that does not (unusual input) must be decoded
// through [spec.Payload], whose verdict then stands.
func CheckRaw(r spec.Raw) bool {
	if r.N < 1 || r.N > 2 {
		return false
	}
	b := r.Bytes
	switch r.Format {
	case "msgpack":
		sc := mpScan{b: b}
		for k := range r.N {
			if sc.i >= len(b) || (k == 0 && !isMsgpackArray(b[sc.i])) || (k == 1 && !isMsgpackMap(b[sc.i])) || !sc.skip(1) {
				return false
			}
		}
		return sc.i == len(b)
	case "json":
		sc := jsonScan{b: b}
		for k := range r.N {
			if k == 1 {
				if sc.space(); !sc.byte(',') {
					return false
				}
				sc.space()
			}
			if sc.i >= len(b) || (k == 0 && b[sc.i] != '[') || (k == 1 && b[sc.i] != '{') || !sc.skip(1) {
				return false
			}
		}
		return sc.i == len(b)
	case "cbor":
		return checkCBORRaw(r)
	}
	return false
}
