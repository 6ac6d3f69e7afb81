package serializer

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/switchyard/switchyard/spec"
)

// maxDepth bounds the nesting of lists and maps, on decode and on encode.
// Decoders recurse, and a peer's frame of 16 MiB of '[' would otherwise
// take the goroutine stack to its limit and the process down with it. On
// encode the bound turns a cyclic value built by Go code into an error
// instead of a stack overflow. The WAMP message itself uses two levels.
const maxDepth = 128

// ErrUnsupportedValue is returned by Encode when a payload holds a value
// outside the value model (see package spec), or one the format cannot
// represent (NaN or an infinity in JSON), or nests deeper than the decoders
// accept.
var ErrUnsupportedValue = errors.New("serializer: unsupported value")

// protocolError makes a decode failure a *spec.ProtocolError, which the
// router answers with ABORT wamp.error.protocol_violation.
func protocolError(format, reason string) error {
	return &spec.ProtocolError{Reason: format + ": " + reason}
}

func protocolErrorAt(format, reason string, off int) error {
	return &spec.ProtocolError{Reason: format + ": " + reason + " at offset " + strconv.Itoa(off)}
}

// unsupported builds the (rare) Encode error; fmt is fine off the hot path.
func unsupported(v any) error {
	return fmt.Errorf("%w: %T", ErrUnsupportedValue, v)
}

var errTooDeep = fmt.Errorf("%w: nested deeper than %d levels", ErrUnsupportedValue, maxDepth)

// toList is spec.ToList without the panic for a message type spec does not
// know: Encode reports it as an error instead of taking the writer down.
func toList(m spec.Message) (l spec.List, err error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil message", ErrUnsupportedValue)
	}
	defer func() {
		if recover() != nil {
			l, err = nil, fmt.Errorf("%w: message %T", ErrUnsupportedValue, m)
		}
	}()
	return spec.ToList(m), nil
}

// fromValue turns a decoded top-level value into a message.
func fromValue(format string, v any) (spec.Message, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, protocolError(format, "message is not a list")
	}
	return spec.FromList(l)
}

// sortKeys returns m's keys in increasing order, using buf when it is large
// enough. Sorted keys make every encoding deterministic: the same message
// always has the same bytes, which tests, caches and fan-out rely on.
func sortKeys(m map[string]any, buf []string) []string {
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	if len(keys) <= 12 {
		for i := 1; i < len(keys); i++ {
			for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
				keys[j], keys[j-1] = keys[j-1], keys[j]
			}
		}
	} else {
		slices.Sort(keys)
	}
	return keys
}

// scalar is a value of one of the Go types that are not in the value model
// but that Go code building Details or payloads commonly uses (int,
// spec.ID, spec.URI, float32, ...). Every encoder maps them onto the model's
// kinds through asScalar, so the three type switches stay short.
type scalar struct {
	kind byte // 'i' int64, 'u' uint64, 'f' float64, 's' string
	i    int64
	u    uint64
	f    float64
	s    string
}

func asScalar(v any) (scalar, bool) {
	switch n := v.(type) {
	case int:
		return scalar{kind: 'i', i: int64(n)}, true
	case int8:
		return scalar{kind: 'i', i: int64(n)}, true
	case int16:
		return scalar{kind: 'i', i: int64(n)}, true
	case int32:
		return scalar{kind: 'i', i: int64(n)}, true
	case uint:
		return uintScalar(uint64(n)), true
	case uint8:
		return uintScalar(uint64(n)), true
	case uint16:
		return uintScalar(uint64(n)), true
	case uint32:
		return uintScalar(uint64(n)), true
	case spec.ID:
		return uintScalar(uint64(n)), true
	case spec.MessageType:
		return uintScalar(uint64(n)), true
	case float32:
		return scalar{kind: 'f', f: float64(n)}, true
	case spec.URI:
		return scalar{kind: 's', s: string(n)}, true
	}
	return scalar{}, false
}

func uintScalar(n uint64) scalar {
	if n <= math.MaxInt64 {
		return scalar{kind: 'i', i: int64(n)}
	}
	return scalar{kind: 'u', u: n}
}
