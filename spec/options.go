package spec

// OptionError is a well-formed request (PUBLISH, SUBSCRIBE, CALL or
// REGISTER) with an option whose value the router cannot honour: an
// unknown match or invoke policy, a timeout that is not a non-negative
// integer, an exclude list holding something other than IDs, and so on.
// Unlike a *ProtocolError it does not end the session: the router answers
// the one request with ERROR wamp.error.invalid_argument, as Crossbar does,
// so that a buggy call site in a client costs that call and not the
// client's other subscriptions and registrations.
type OptionError struct {
	Request MessageType // the request whose option is wrong
	Option  string      // the option's key, e.g. "match"
	Want    string      // what the value must be, e.g. `one of "exact", "prefix", "wildcard"`
}

// Error reads like "SUBSCRIBE.Options.match must be one of ...": the text
// the router sends back as the ERROR's message.
func (e *OptionError) Error() string {
	return e.Request.String() + ".Options." + e.Option + " must be " + e.Want
}

// CheckOptions checks the known keys of a request's Options against the
// types and values the spec gives them, for the requests a router answers
// with ERROR: PUBLISH, SUBSCRIBE, CALL and REGISTER. It returns nil for a
// request it can honour and for every other message type. Unknown keys are
// ignored. Null values are not: FromList has already dropped those that
// arrived on the wire, so a nil here was put there by Go code.
//
// It returns the concrete type, not error, because its one caller needs
// the option's name; compare the result with nil before storing it in an
// error variable.
func CheckOptions(m Message) *OptionError {
	var (
		t    MessageType
		opts Dict
		r    rules
	)
	switch m := m.(type) {
	case *Publish:
		t, opts, r = TypePublish, m.Options, publishOptions
	case *Subscribe:
		t, opts, r = TypeSubscribe, m.Options, subscribeOptions
	case *Call:
		t, opts, r = TypeCall, m.Options, callOptions
	case *Register:
		t, opts, r = TypeRegister, m.Options, registerOptions
	default:
		return nil
	}
	if key, k, ok := firstInvalid(opts, r); !ok {
		return &OptionError{Request: t, Option: key, Want: kindNames[k]}
	}
	return nil
}
