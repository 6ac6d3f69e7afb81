package cluster

import (
	"errors"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// A payload the router kept raw (a PUBLISH, CALL, YIELD or ERROR whose
// arguments a client's transport left undecoded) crosses to another node as
// it is: under keyPayload in the forwarded message's options, as
// [serializer name, element count, bin]. Building and reading that field
// copies the bytes but never decodes them into values, so the receiving
// node's same-serializer sessions get the sender's exact bytes spliced into
// their frames, and every other serializer transcodes once there. A payload
// the router holds as values (its own publications, CBOR clients, router
// procedures) crosses as MessagePack Arguments/ArgumentsKw as before.

// keyPayload carries a raw payload in a forwarded message's options.
const keyPayload = "x_sy_pl"

// putRaw carries r in opts, if r holds a payload.
func putRaw(opts spec.Dict, r spec.Raw) {
	if r.N > 0 {
		opts[keyPayload] = []any{r.Format, int64(r.N), r.Bytes}
	}
}

var errBadPayload = errors.New("cluster: malformed raw payload")

// takeRaw removes a carried payload from opts and returns the message's
// payload: args and kwargs as decoded when nothing was carried; the raw
// payload when a scanner vouches for it ([serializer.CheckRaw]); otherwise
// its values, decoded once here, since unchecked bytes must never reach a
// client's frame. The bytes come from another node: untrusted input.
func takeRaw(opts spec.Dict, args spec.List, kwargs spec.Dict) (spec.List, spec.Dict, spec.Raw, error) {
	v, ok := opts[keyPayload]
	if !ok {
		return args, kwargs, spec.Raw{}, nil
	}
	delete(opts, keyPayload)
	l, _ := v.([]any)
	if len(l) != 3 || len(args) > 0 || len(kwargs) > 0 {
		return nil, nil, spec.Raw{}, errBadPayload
	}
	format, _ := l[0].(string)
	n, _ := spec.AsID(l[1])
	b, _ := l[2].([]byte)
	if _, known := serializer.ByName(format); !known || (n != 1 && n != 2) || len(b) == 0 {
		return nil, nil, spec.Raw{}, errBadPayload
	}
	r := spec.Raw{Format: format, N: int(n), Bytes: b}
	if serializer.CheckRaw(r) {
		return nil, nil, r, nil
	}
	a, kw, err := spec.Payload(nil, nil, r)
	if err != nil {
		return nil, nil, spec.Raw{}, errors.Join(errBadPayload, err)
	}
	return a, kw, spec.Raw{}, nil
}
