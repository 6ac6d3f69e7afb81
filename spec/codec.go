package spec

import (
	"math"
	"strconv"
)

// MaxID is the largest valid WAMP ID, 2^53.
const MaxID ID = 1 << 53

// ProtocolError is a message that cannot be valid WAMP: wrong shape, wrong
// element type, an unknown message type or a malformed option. The router
// answers it with ABORT wamp.error.protocol_violation.
type ProtocolError struct {
	Reason string
}

func (e *ProtocolError) Error() string { return "wamp protocol violation: " + e.Reason }

func violation(reason string) error { return &ProtocolError{Reason: reason} }

// ToList returns m in its wire form: the list a serializer writes. The order
// of every message's fields is written down here and in [FromList], nowhere
// else. Empty trailing payloads are omitted, as the spec recommends.
func ToList(m Message) List { return toList(m, true) }

// toList is ToList; withRaw false leaves a Raw payload out (see [HeadList]).
func toList(m Message, withRaw bool) List {
	switch m := m.(type) {
	case *Hello:
		return List{int64(TypeHello), string(m.Realm), dict(m.Details)}
	case *Welcome:
		return List{int64(TypeWelcome), int64(m.Session), dict(m.Details)}
	case *Abort:
		return payloadList(m.Arguments, m.ArgumentsKw, int64(TypeAbort), dict(m.Details), string(m.Reason))
	case *Challenge:
		return List{int64(TypeChallenge), m.AuthMethod, dict(m.Extra)}
	case *Authenticate:
		return List{int64(TypeAuthenticate), m.Signature, dict(m.Extra)}
	case *Goodbye:
		return List{int64(TypeGoodbye), dict(m.Details), string(m.Reason)}
	case *Error:
		a, kw := mustPayload(m.Arguments, m.ArgumentsKw, m.Raw, withRaw)
		return payloadList(a, kw, int64(TypeError), int64(m.RequestType), int64(m.Request), dict(m.Details), string(m.Error))
	case *Publish:
		a, kw := mustPayload(m.Arguments, m.ArgumentsKw, m.Raw, withRaw)
		return payloadList(a, kw, int64(TypePublish), int64(m.Request), dict(m.Options), string(m.Topic))
	case *Published:
		return List{int64(TypePublished), int64(m.Request), int64(m.Publication)}
	case *Subscribe:
		return List{int64(TypeSubscribe), int64(m.Request), dict(m.Options), string(m.Topic)}
	case *Subscribed:
		return List{int64(TypeSubscribed), int64(m.Request), int64(m.Subscription)}
	case *Unsubscribe:
		return List{int64(TypeUnsubscribe), int64(m.Request), int64(m.Subscription)}
	case *Unsubscribed:
		if m.Details != nil {
			return List{int64(TypeUnsubscribed), int64(m.Request), m.Details}
		}
		return List{int64(TypeUnsubscribed), int64(m.Request)}
	case *Event:
		a, kw := mustPayload(m.Arguments, m.ArgumentsKw, m.Raw, withRaw)
		return payloadList(a, kw, int64(TypeEvent), int64(m.Subscription), int64(m.Publication), dict(m.Details))
	case *Call:
		a, kw := mustPayload(m.Arguments, m.ArgumentsKw, m.Raw, withRaw)
		return payloadList(a, kw, int64(TypeCall), int64(m.Request), dict(m.Options), string(m.Procedure))
	case *Cancel:
		return List{int64(TypeCancel), int64(m.Request), dict(m.Options)}
	case *Result:
		a, kw := mustPayload(m.Arguments, m.ArgumentsKw, m.Raw, withRaw)
		return payloadList(a, kw, int64(TypeResult), int64(m.Request), dict(m.Details))
	case *Register:
		return List{int64(TypeRegister), int64(m.Request), dict(m.Options), string(m.Procedure)}
	case *Registered:
		return List{int64(TypeRegistered), int64(m.Request), int64(m.Registration)}
	case *Unregister:
		return List{int64(TypeUnregister), int64(m.Request), int64(m.Registration)}
	case *Unregistered:
		if m.Details != nil {
			return List{int64(TypeUnregistered), int64(m.Request), m.Details}
		}
		return List{int64(TypeUnregistered), int64(m.Request)}
	case *Invocation:
		a, kw := mustPayload(m.Arguments, m.ArgumentsKw, m.Raw, withRaw)
		return payloadList(a, kw, int64(TypeInvocation), int64(m.Request), int64(m.Registration), dict(m.Details))
	case *Interrupt:
		return List{int64(TypeInterrupt), int64(m.Request), dict(m.Options)}
	case *Yield:
		a, kw := mustPayload(m.Arguments, m.ArgumentsKw, m.Raw, withRaw)
		return payloadList(a, kw, int64(TypeYield), int64(m.Request), dict(m.Options))
	}
	panic("spec: ToList of unknown message type")
}

// dict never lets a nil map reach the wire: WAMP wants {} where a dict is
// required (autobahn rejects null).
func dict(d Dict) Dict {
	if d == nil {
		return Dict{}
	}
	return d
}

// payloadList builds a message list from its head elements and payload,
// allocated once at its final size.
func payloadList(args List, kwargs Dict, head ...any) List {
	n := len(head)
	switch {
	case len(kwargs) > 0:
		n += 2
	case len(args) > 0:
		n++
	}
	l := make(List, len(head), n)
	copy(l, head)
	if len(kwargs) > 0 {
		if args == nil {
			args = List{}
		}
		return append(l, args, kwargs)
	}
	if len(args) > 0 {
		return append(l, args)
	}
	return l
}

// FromList builds a message from its wire form, checking the shape and the
// type of every element. Unknown message types, wrong arity and wrong element
// types are *ProtocolError. Null-valued keys of Options, Details and Extra
// are dropped ([DropNulls]); the remaining keys are checked by [Validate]
// and, for requests, [CheckOptions].
func FromList(l List) (Message, error) {
	if len(l) == 0 {
		return nil, violation("empty message")
	}
	code, ok := asUint(l[0])
	if !ok || code > math.MaxUint16 {
		return nil, violation("message type is not an integer")
	}
	t := MessageType(code)
	d := decoder{l: l, t: t}
	var m Message
	switch t {
	case TypeHello:
		d.arity(3, 3)
		m = &Hello{Realm: d.uri(1), Details: d.dict(2)}
	case TypeWelcome:
		d.arity(3, 3)
		m = &Welcome{Session: d.id(1), Details: d.dict(2)}
	case TypeAbort:
		d.arity(3, 5)
		m = &Abort{Details: d.dict(1), Reason: d.uri(2), Arguments: d.args(3), ArgumentsKw: d.kwargs(4)}
	case TypeChallenge:
		d.arity(3, 3)
		m = &Challenge{AuthMethod: d.str(1), Extra: d.dict(2)}
	case TypeAuthenticate:
		d.arity(3, 3)
		m = &Authenticate{Signature: d.str(1), Extra: d.dict(2)}
	case TypeGoodbye:
		d.arity(3, 3)
		m = &Goodbye{Details: d.dict(1), Reason: d.uri(2)}
	case TypeError:
		d.arity(5, 7)
		m = &Error{RequestType: d.msgType(1), Request: d.id(2), Details: d.dict(3), Error: d.uri(4), Arguments: d.args(5), ArgumentsKw: d.kwargs(6)}
	case TypePublish:
		d.arity(4, 6)
		m = &Publish{Request: d.id(1), Options: d.dict(2), Topic: d.uri(3), Arguments: d.args(4), ArgumentsKw: d.kwargs(5)}
	case TypePublished:
		d.arity(3, 3)
		m = &Published{Request: d.id(1), Publication: d.id(2)}
	case TypeSubscribe:
		d.arity(4, 4)
		m = &Subscribe{Request: d.id(1), Options: d.dict(2), Topic: d.uri(3)}
	case TypeSubscribed:
		d.arity(3, 3)
		m = &Subscribed{Request: d.id(1), Subscription: d.id(2)}
	case TypeUnsubscribe:
		d.arity(3, 3)
		m = &Unsubscribe{Request: d.id(1), Subscription: d.id(2)}
	case TypeUnsubscribed:
		d.arity(2, 3)
		m = d.unsubscribed()
	case TypeEvent:
		d.arity(4, 6)
		m = &Event{Subscription: d.id(1), Publication: d.id(2), Details: d.dict(3), Arguments: d.args(4), ArgumentsKw: d.kwargs(5)}
	case TypeCall:
		d.arity(4, 6)
		m = &Call{Request: d.id(1), Options: d.dict(2), Procedure: d.uri(3), Arguments: d.args(4), ArgumentsKw: d.kwargs(5)}
	case TypeCancel:
		d.arity(3, 3)
		m = &Cancel{Request: d.id(1), Options: d.dict(2)}
	case TypeResult:
		d.arity(3, 5)
		m = &Result{Request: d.id(1), Details: d.dict(2), Arguments: d.args(3), ArgumentsKw: d.kwargs(4)}
	case TypeRegister:
		d.arity(4, 4)
		m = &Register{Request: d.id(1), Options: d.dict(2), Procedure: d.uri(3)}
	case TypeRegistered:
		d.arity(3, 3)
		m = &Registered{Request: d.id(1), Registration: d.id(2)}
	case TypeUnregister:
		d.arity(3, 3)
		m = &Unregister{Request: d.id(1), Registration: d.id(2)}
	case TypeUnregistered:
		d.arity(2, 3)
		m = d.unregistered()
	case TypeInvocation:
		d.arity(4, 6)
		m = &Invocation{Request: d.id(1), Registration: d.id(2), Details: d.dict(3), Arguments: d.args(4), ArgumentsKw: d.kwargs(5)}
	case TypeInterrupt:
		d.arity(3, 3)
		m = &Interrupt{Request: d.id(1), Options: d.dict(2)}
	case TypeYield:
		d.arity(3, 5)
		m = &Yield{Request: d.id(1), Options: d.dict(2), Arguments: d.args(3), ArgumentsKw: d.kwargs(4)}
	default:
		return nil, violation("unknown message type " + itoa(code))
	}
	if d.err != nil {
		return nil, d.err
	}
	return m, nil
}

// decoder reads typed elements from a wire list, remembering the first
// error so that each case in FromList stays one line.
type decoder struct {
	l   List
	t   MessageType
	err error
}

func (d *decoder) fail(i int, what string) {
	if d.err == nil {
		d.err = violation(d.t.String() + " element " + strconv.Itoa(i) + ": " + what)
	}
}

func (d *decoder) arity(min, max int) {
	if n := len(d.l); n < min || n > max {
		d.err = violation(d.t.String() + " has " + strconv.Itoa(n) + " elements")
	}
}

func (d *decoder) get(i int) (any, bool) {
	if d.err != nil || i >= len(d.l) {
		return nil, false
	}
	return d.l[i], true
}

func (d *decoder) id(i int) ID {
	v, ok := d.get(i)
	if !ok {
		return 0
	}
	n, ok := AsID(v)
	if !ok {
		d.fail(i, "not an ID in [1, 2^53]")
	}
	return n
}

func (d *decoder) msgType(i int) MessageType {
	v, ok := d.get(i)
	if !ok {
		return 0
	}
	n, ok := asUint(v)
	if !ok || n > math.MaxUint16 {
		d.fail(i, "not a message type")
		return 0
	}
	return MessageType(n)
}

func (d *decoder) str(i int) string {
	v, ok := d.get(i)
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		d.fail(i, "not a string")
	}
	return s
}

func (d *decoder) uri(i int) URI { return URI(d.str(i)) }

func (d *decoder) dict(i int) Dict {
	v, ok := d.get(i)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		d.fail(i, "not a dict")
	}
	return DropNulls(m)
}

// DropNulls deletes, in place, the keys of an Options, Details or Extra
// dict whose value is null, and returns d. The spec gives null no meaning
// in these dicts, and real clients send it for options they were not
// given: wampy.js fills them with JavaScript's undefined, which msgpackr
// writes as its undefined extension and cbor-x as CBOR undefined, both
// decoded as nil. Dropping them here, on the one decode path every
// serializer shares, makes such a key absent for everything downstream.
// Only the top level is touched: nested values (authextra, payloads) are
// the application's and travel as sent.
func DropNulls(d Dict) Dict {
	for k, v := range d {
		if v == nil {
			delete(d, k)
		}
	}
	return d
}

// args reads the optional Arguments list. A payload in passthru mode may be
// a single binary (or, for JSON, string) element instead of a list; it is
// carried as a one-element list so the router can forward it untouched.
func (d *decoder) args(i int) List {
	v, ok := d.get(i)
	if !ok {
		return nil
	}
	switch a := v.(type) {
	case []any:
		return a
	case []byte, string:
		return List{a}
	}
	d.fail(i, "arguments are not a list")
	return nil
}

func (d *decoder) kwargs(i int) Dict {
	v, ok := d.get(i)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		d.fail(i, "keyword arguments are not a dict")
	}
	return m
}

// revocable reads the second element of UNSUBSCRIBED and UNREGISTERED:
// a request ID, or 0 followed by Details in the revocation form.
func (d *decoder) revocable() (ID, Dict) {
	if v, ok := d.get(1); ok {
		if n, ok := asUint(v); ok && n == 0 && len(d.l) == 3 {
			return 0, d.dict(2)
		}
	}
	req := d.id(1)
	if len(d.l) == 3 {
		d.fail(2, "unexpected element")
	}
	return req, nil
}

func (d *decoder) unsubscribed() Message {
	req, details := d.revocable()
	return &Unsubscribed{Request: req, Details: details}
}

func (d *decoder) unregistered() Message {
	req, details := d.revocable()
	return &Unregistered{Request: req, Details: details}
}

// asUint accepts the integer forms serializers produce. A float64 is
// accepted only when it is integral and exact (JSON decoders of some peers
// write 1.0), never beyond 2^53 where float64 loses precision.
func asUint(v any) (uint64, bool) {
	switch n := v.(type) {
	case int64:
		if n < 0 {
			return 0, false
		}
		return uint64(n), true
	case uint64:
		return n, true
	case int:
		if n < 0 {
			return 0, false
		}
		return uint64(n), true
	case float64:
		if n < 0 || n > float64(MaxID) || n != math.Trunc(n) {
			return 0, false
		}
		return uint64(n), true
	}
	return 0, false
}

// AsInt returns v as an int64 when it is one of the value model's integer
// forms (or an exact integral float64).
func AsInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case uint64:
		if n > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case int:
		return int64(n), true
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > float64(MaxID) {
			return 0, false
		}
		return int64(n), true
	}
	return 0, false
}

// AsID returns v as a WAMP ID when it is an integer in [1, 2^53].
func AsID(v any) (ID, bool) {
	n, ok := asUint(v)
	if !ok || n == 0 || n > uint64(MaxID) {
		return 0, false
	}
	return ID(n), true
}
