package serializer

import "github.com/switchyard/switchyard/spec"

// The messages of the delivery hot path, INVOCATION and RESULT (once per
// call each) and EVENT (once per publication and serializer), are written
// straight from their struct: building their list form first (spec.ToList)
// boxes every ID and allocates the list. hotHead has what they hold; the
// bytes are the list form's (TestFastEncodeMatchesGeneric).
type hotHead struct {
	typ     spec.MessageType
	ids     [2]spec.ID
	nids    int
	details spec.Dict
	args    spec.List
	kwargs  spec.Dict
	raw     spec.Raw
}

// hotHeadOf reports m's hotHead if m is one of the messages encoded so.
func hotHeadOf(m spec.Message) (hotHead, bool) {
	switch m := m.(type) {
	case *spec.Invocation:
		return hotHead{typ: spec.TypeInvocation, ids: [2]spec.ID{m.Request, m.Registration}, nids: 2,
			details: m.Details, args: m.Arguments, kwargs: m.ArgumentsKw, raw: m.Raw}, true
	case *spec.Event:
		return hotHead{typ: spec.TypeEvent, ids: [2]spec.ID{m.Subscription, m.Publication}, nids: 2,
			details: m.Details, args: m.Arguments, kwargs: m.ArgumentsKw, raw: m.Raw}, true
	case *spec.Result:
		return hotHead{typ: spec.TypeResult, ids: [2]spec.ID{m.Request}, nids: 1,
			details: m.Details, args: m.Arguments, kwargs: m.ArgumentsKw, raw: m.Raw}, true
	}
	return hotHead{}, false
}

// elems is how many elements h's message has.
func (h *hotHead) elems() int {
	n := 2 + h.nids
	switch {
	case h.raw.N > 0:
		n += h.raw.N
	case len(h.kwargs) > 0:
		n += 2
	case len(h.args) > 0:
		n++
	}
	return n
}

// fast reports whether an encoder of format writes h itself: a raw payload
// of another format is transcoded through the list form.
func (h *hotHead) fast(format string) bool { return h.raw.N == 0 || h.raw.Format == format }

// argsOrEmpty is what the list form writes for nil arguments before
// keyword arguments. (Empty details are written as {} by each encoder.)
func (h *hotHead) argsOrEmpty() spec.List {
	if h.args == nil {
		return spec.List{}
	}
	return h.args
}
