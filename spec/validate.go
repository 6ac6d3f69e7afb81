package spec

// Validate checks what a message must be to be WAMP at all, beyond the
// shape FromList checks: HELLO announces roles, ERROR answers a request
// type that can fail, and the known keys of Details and Options have the
// types the spec gives them. FromList checks a message's shape; Validate
// checks what is inside its dicts, so that the router can read a key with
// a plain type assertion and never meets "acknowledge": "yes".
//
// The Options of the four requests a router answers with ERROR (PUBLISH,
// SUBSCRIBE, CALL, REGISTER) are not checked here but by [CheckOptions]:
// a wrong value there is a bad request, not a broken session, and the
// router refuses that one request. For every other message a wrong value
// cannot be answered and is a *ProtocolError whose text names the key.
//
// Unknown keys are ignored, as the spec requires. The check walks only the
// keys present, so an empty dict (the common case) costs one length test.
//
// URIs inside dicts (EVENT.Details.topic, INTERRUPT.Options.reason) are
// checked only for being strings: URI rules (loose or strict) are router
// policy.
func Validate(m Message) error {
	switch m := m.(type) {
	case *Hello:
		if _, ok := m.Details["roles"]; !ok {
			return violation("HELLO.Details.roles is required")
		}
		return checkDict("HELLO.Details.", m.Details, helloDetails)
	case *Welcome:
		return checkDict("WELCOME.Details.", m.Details, welcomeDetails)
	case *Abort:
		return checkDict("ABORT.Details.", m.Details, closeDetails)
	case *Goodbye:
		return checkDict("GOODBYE.Details.", m.Details, closeDetails)
	case *Error:
		if !validErrorRequestType(m.RequestType) {
			return violation("ERROR.REQUEST.Type " + m.RequestType.String() + " cannot fail")
		}
		return checkDict("ERROR.Details.", m.Details, errorDetails)
	case *Unsubscribed:
		return checkDict("UNSUBSCRIBED.Details.", m.Details, unsubscribedDetails)
	case *Event:
		return checkDict("EVENT.Details.", m.Details, eventDetails)
	case *Cancel:
		return checkDict("CANCEL.Options.", m.Options, cancelOptions)
	case *Result:
		return checkDict("RESULT.Details.", m.Details, resultDetails)
	case *Unregistered:
		return checkDict("UNREGISTERED.Details.", m.Details, unregisteredDetails)
	case *Invocation:
		return checkDict("INVOCATION.Details.", m.Details, invocationDetails)
	case *Interrupt:
		return checkDict("INTERRUPT.Options.", m.Options, interruptOptions)
	case *Yield:
		return checkDict("YIELD.Options.", m.Options, yieldOptions)
	case *Publish, *Subscribe, *Call, *Register:
		return nil // their Options are CheckOptions' job
	case *Challenge, *Authenticate, *Published, *Subscribed, *Unsubscribe,
		*Registered, *Unregister:
		return nil
	case nil:
		return violation("nil message")
	}
	return nil
}

// validErrorRequestType lists the requests that an ERROR may answer.
func validErrorRequestType(t MessageType) bool {
	switch t {
	case TypePublish, TypeSubscribe, TypeUnsubscribe, TypeCall, TypeRegister,
		TypeUnregister, TypeInvocation:
		return true
	}
	return false
}

// Invocation policies of shared registrations (REGISTER.Options.invoke).
const (
	InvokeSingle     = "single"
	InvokeRoundRobin = "roundrobin"
	InvokeRandom     = "random"
	InvokeFirst      = "first"
	InvokeLast       = "last"
)

// Modes of CANCEL.Options.mode and INTERRUPT.Options.mode.
const (
	CancelSkip       = "skip"
	CancelKill       = "kill"
	CancelKillNoWait = "killnowait"
)

// kind is the expected type (and, for enumerations, value set) of one key.
type kind uint8

const (
	kBool          kind = iota + 1
	kString             // any string
	kID                 // integer in [1, 2^53]
	kUint               // non-negative integer
	kDict               // dict
	kIDList             // list of IDs
	kStringList         // list of strings
	kForwardFor         // list of {session: ID, authid: string, authrole: string}
	kMatch              // exact | prefix | wildcard
	kInvoke             // single | roundrobin | random | first | last
	kCancelMode         // skip | kill | killnowait
	kEncAlgo            // cryptobox | mqtt | xbr | x_...
	kEncSerializer      // json | msgpack | cbor | ubjson | flatbuffers | opaque | x_...
)

var kindNames = [...]string{
	kBool:          "a bool",
	kString:        "a string",
	kID:            "an ID in [1, 2^53]",
	kUint:          "a non-negative integer",
	kDict:          "a dict",
	kIDList:        "a list of IDs",
	kStringList:    "a list of strings",
	kForwardFor:    "a list of {session, authid, authrole} dicts",
	kMatch:         `one of "exact", "prefix", "wildcard"`,
	kInvoke:        `one of "single", "roundrobin", "random", "first", "last"`,
	kCancelMode:    `one of "skip", "kill", "killnowait"`,
	kEncAlgo:       `one of "cryptobox", "mqtt", "xbr" or "x_..."`,
	kEncSerializer: `a known serializer name or "x_..."`,
}

// rules maps a dict's known keys to their kinds.
type rules map[string]kind

func merge(sets ...rules) rules {
	out := rules{}
	for _, s := range sets {
		for k, v := range s {
			out[k] = v
		}
	}
	return out
}

// Key sets shared by several messages.
var (
	// Payload passthru (spec ppt_*) and autobahn's end-to-end encryption
	// (enc_*), which a router must forward untouched but may type-check.
	payloadKeys = rules{
		"ppt_scheme": kString, "ppt_serializer": kString, "ppt_cipher": kString, "ppt_keyid": kString,
		"enc_algo": kEncAlgo, "enc_serializer": kEncSerializer, "enc_key": kString,
	}
	// Router-to-router links (autobahn/crossbar).
	forwardKeys = rules{"forward_for": kForwardFor}
	calleeKeys  = rules{"callee": kID, "callee_authid": kString, "callee_authrole": kString}
)

var (
	helloDetails = rules{
		"roles": kDict, "agent": kString, "authmethods": kStringList, "authid": kString,
		"authrole": kString, "authextra": kDict, "transport": kDict, "resumable": kBool,
		"resume_session": kID, "resume_token": kString,
	}
	welcomeDetails = rules{
		"roles": kDict, "agent": kString, "authid": kString, "authrole": kString,
		"authmethod": kString, "authprovider": kString, "authextra": kDict, "realm": kString,
		"resumed": kBool, "resumable": kBool, "resume_token": kString,
	}
	closeDetails = rules{"message": kString}
	errorDetails = merge(payloadKeys, forwardKeys, calleeKeys)

	publishOptions = merge(payloadKeys, forwardKeys, rules{
		"acknowledge": kBool, "exclude_me": kBool, "disclose_me": kBool, "retain": kBool,
		"exclude": kIDList, "exclude_authid": kStringList, "exclude_authrole": kStringList,
		"eligible": kIDList, "eligible_authid": kStringList, "eligible_authrole": kStringList,
		"rkey": kString, "transaction_hash": kString,
	})
	subscribeOptions = merge(forwardKeys, rules{
		"match": kMatch, "get_retained": kBool, "nkey": kString,
	})
	unsubscribedDetails = rules{"subscription": kID, "reason": kString}
	eventDetails        = merge(payloadKeys, forwardKeys, rules{
		"publisher": kID, "publisher_authid": kString, "publisher_authrole": kString,
		"topic": kString, "trustlevel": kUint, "retained": kBool,
		"transaction_hash": kString, "x_acknowledged_delivery": kBool,
	})

	callOptions = merge(payloadKeys, forwardKeys, rules{
		"receive_progress": kBool, "progress": kBool, "timeout": kUint, "disclose_me": kBool,
		"runmode": kString, "rkey": kString,
	})
	cancelOptions   = merge(forwardKeys, rules{"mode": kCancelMode})
	resultDetails   = merge(payloadKeys, forwardKeys, calleeKeys, rules{"progress": kBool})
	registerOptions = merge(forwardKeys, rules{
		"match": kMatch, "invoke": kInvoke, "disclose_caller": kBool, "force_reregister": kBool,
		"forward_timeout": kBool, "concurrency": kUint,
	})
	unregisteredDetails = rules{"registration": kID, "reason": kString}
	invocationDetails   = merge(payloadKeys, forwardKeys, rules{
		"caller": kID, "caller_authid": kString, "caller_authrole": kString,
		"procedure": kString, "receive_progress": kBool, "progress": kBool,
		"timeout": kUint, "trustlevel": kUint,
	})
	interruptOptions = merge(forwardKeys, rules{"mode": kCancelMode, "reason": kString})
	yieldOptions     = merge(payloadKeys, forwardKeys, rules{"progress": kBool})
)

func checkDict(prefix string, d Dict, r rules) error {
	if key, k, ok := firstInvalid(d, r); !ok {
		return violation(prefix + key + " must be " + kindNames[k])
	}
	return nil
}

// firstInvalid finds a known key of d whose value is not of its kind. ok
// is true when there is none.
func firstInvalid(d Dict, r rules) (key string, k kind, ok bool) {
	if len(d) == 0 {
		return "", 0, true
	}
	for key, v := range d {
		k, known := r[key]
		if !known || checkKind(k, v) {
			continue
		}
		return key, k, false
	}
	return "", 0, true
}

func checkKind(k kind, v any) bool {
	switch k {
	case kBool:
		_, ok := v.(bool)
		return ok
	case kString:
		_, ok := v.(string)
		return ok
	case kID:
		_, ok := AsID(v)
		return ok
	case kUint:
		_, ok := asUint(v)
		return ok
	case kDict:
		_, ok := v.(map[string]any)
		return ok
	case kIDList:
		l, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range l {
			if _, ok := AsID(e); !ok {
				return false
			}
		}
		return true
	case kStringList:
		l, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range l {
			if _, ok := e.(string); !ok {
				return false
			}
		}
		return true
	case kForwardFor:
		return validForwardFor(v)
	case kMatch:
		s, _ := v.(string)
		return s == MatchExact || s == MatchPrefix || s == MatchWildcard
	case kInvoke:
		switch s, _ := v.(string); s {
		case InvokeSingle, InvokeRoundRobin, InvokeRandom, InvokeFirst, InvokeLast:
			return true
		}
		return false
	case kCancelMode:
		switch s, _ := v.(string); s {
		case CancelSkip, CancelKill, CancelKillNoWait:
			return true
		}
		return false
	case kEncAlgo:
		s, ok := v.(string)
		if !ok {
			return false
		}
		switch s {
		case "cryptobox", "mqtt", "xbr":
			return true
		}
		return isCustomAttribute(s)
	case kEncSerializer:
		s, ok := v.(string)
		if !ok {
			return false
		}
		switch s {
		case "json", "msgpack", "cbor", "ubjson", "flatbuffers", "opaque", "native":
			return true
		}
		return isCustomAttribute(s)
	}
	return false
}

// validForwardFor checks a router-to-router forward_for chain: a list of
// dicts whose session (if present) is an ID and authid/authrole strings.
func validForwardFor(v any) bool {
	l, ok := v.([]any)
	if !ok {
		return false
	}
	for _, e := range l {
		d, ok := e.(map[string]any)
		if !ok {
			return false
		}
		if s, ok := d["session"]; ok {
			if _, ok := AsID(s); !ok {
				return false
			}
		}
		for _, key := range [...]string{"authid", "authrole"} {
			if s, ok := d[key]; ok {
				if _, ok := s.(string); !ok {
					return false
				}
			}
		}
	}
	return true
}

// isCustomAttribute matches autobahn's implementation-specific names,
// ^x_([a-z][0-9a-z_]+)?$, which may stand in for standard enum values.
func isCustomAttribute(s string) bool {
	if len(s) < 2 || s[0] != 'x' || s[1] != '_' {
		return false
	}
	rest := s[2:]
	if rest == "" {
		return true
	}
	if len(rest) < 2 || rest[0] < 'a' || rest[0] > 'z' {
		return false
	}
	for i := 1; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
