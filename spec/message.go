package spec

// MessageType is the integer code that opens every WAMP message.
type MessageType uint16

// Message type codes of the Basic Profile and the four Advanced Profile
// messages a router must understand.
const (
	TypeHello        MessageType = 1
	TypeWelcome      MessageType = 2
	TypeAbort        MessageType = 3
	TypeChallenge    MessageType = 4
	TypeAuthenticate MessageType = 5
	TypeGoodbye      MessageType = 6
	TypeError        MessageType = 8
	TypePublish      MessageType = 16
	TypePublished    MessageType = 17
	TypeSubscribe    MessageType = 32
	TypeSubscribed   MessageType = 33
	TypeUnsubscribe  MessageType = 34
	TypeUnsubscribed MessageType = 35
	TypeEvent        MessageType = 36
	TypeCall         MessageType = 48
	TypeCancel       MessageType = 49
	TypeResult       MessageType = 50
	TypeRegister     MessageType = 64
	TypeRegistered   MessageType = 65
	TypeUnregister   MessageType = 66
	TypeUnregistered MessageType = 67
	TypeInvocation   MessageType = 68
	TypeInterrupt    MessageType = 69
	TypeYield        MessageType = 70
)

var typeNames = map[MessageType]string{
	TypeHello: "HELLO", TypeWelcome: "WELCOME", TypeAbort: "ABORT",
	TypeChallenge: "CHALLENGE", TypeAuthenticate: "AUTHENTICATE",
	TypeGoodbye: "GOODBYE", TypeError: "ERROR", TypePublish: "PUBLISH",
	TypePublished: "PUBLISHED", TypeSubscribe: "SUBSCRIBE",
	TypeSubscribed: "SUBSCRIBED", TypeUnsubscribe: "UNSUBSCRIBE",
	TypeUnsubscribed: "UNSUBSCRIBED", TypeEvent: "EVENT", TypeCall: "CALL",
	TypeCancel: "CANCEL", TypeResult: "RESULT", TypeRegister: "REGISTER",
	TypeRegistered: "REGISTERED", TypeUnregister: "UNREGISTER",
	TypeUnregistered: "UNREGISTERED", TypeInvocation: "INVOCATION",
	TypeInterrupt: "INTERRUPT", TypeYield: "YIELD",
}

// String returns the spec's upper-case name, or "UNKNOWN(n)".
func (t MessageType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "UNKNOWN(" + itoa(uint64(t)) + ")"
}

// ID is a WAMP identifier: a session, publication, subscription,
// registration or request ID, in [1, 2^53].
type ID uint64

// URI is a WAMP URI: a realm, topic, procedure or error.
type URI string

// Dict is a WAMP dictionary (Details, Options, ArgumentsKw).
type Dict = map[string]any

// List is a WAMP list (Arguments).
type List = []any

// Message is implemented by every WAMP message struct.
type Message interface {
	Type() MessageType
}

// Hello opens a session: [HELLO, Realm, Details].
type Hello struct {
	Realm   URI
	Details Dict
}

// Welcome accepts a session: [WELCOME, Session, Details].
type Welcome struct {
	Session ID
	Details Dict
}

// Abort refuses or ends a session without reply:
// [ABORT, Details, Reason, Arguments?, ArgumentsKw?].
type Abort struct {
	Details     Dict
	Reason      URI
	Arguments   List
	ArgumentsKw Dict
}

// Challenge asks the client to authenticate: [CHALLENGE, AuthMethod, Extra].
type Challenge struct {
	AuthMethod string
	Extra      Dict
}

// Authenticate answers a challenge: [AUTHENTICATE, Signature, Extra].
type Authenticate struct {
	Signature string
	Extra     Dict
}

// Goodbye ends a session and must be echoed: [GOODBYE, Details, Reason].
type Goodbye struct {
	Details Dict
	Reason  URI
}

// Error answers a request with an error:
// [ERROR, REQUEST.Type, REQUEST.Request, Details, Error, Arguments?, ArgumentsKw?].
type Error struct {
	RequestType MessageType
	Request     ID
	Details     Dict
	Error       URI
	Arguments   List
	ArgumentsKw Dict
	// Raw, when set, holds the payload undecoded (see [Raw]).
	Raw Raw
}

// Publish: [PUBLISH, Request, Options, Topic, Arguments?, ArgumentsKw?].
type Publish struct {
	Request     ID
	Options     Dict
	Topic       URI
	Arguments   List
	ArgumentsKw Dict
	// Raw, when set, holds the payload undecoded (see [Raw]).
	Raw Raw
}

// Published acknowledges a publication: [PUBLISHED, PUBLISH.Request, Publication].
type Published struct {
	Request     ID
	Publication ID
}

// Subscribe: [SUBSCRIBE, Request, Options, Topic].
type Subscribe struct {
	Request ID
	Options Dict
	Topic   URI
}

// Subscribed: [SUBSCRIBED, SUBSCRIBE.Request, Subscription].
type Subscribed struct {
	Request      ID
	Subscription ID
}

// Unsubscribe: [UNSUBSCRIBE, Request, SUBSCRIBED.Subscription].
type Unsubscribe struct {
	Request      ID
	Subscription ID
}

// Unsubscribed: [UNSUBSCRIBED, UNSUBSCRIBE.Request], or the revocation form
// [UNSUBSCRIBED, 0, Details] when Details is not nil.
type Unsubscribed struct {
	Request ID
	Details Dict
}

// Event: [EVENT, Subscription, Publication, Details, Arguments?, ArgumentsKw?].
type Event struct {
	Subscription ID
	Publication  ID
	Details      Dict
	Arguments    List
	ArgumentsKw  Dict
	// Raw, when set, holds the payload undecoded (see [Raw]).
	Raw Raw
}

// Call: [CALL, Request, Options, Procedure, Arguments?, ArgumentsKw?].
type Call struct {
	Request     ID
	Options     Dict
	Procedure   URI
	Arguments   List
	ArgumentsKw Dict
	// Raw, when set, holds the payload undecoded (see [Raw]).
	Raw Raw
}

// Cancel: [CANCEL, CALL.Request, Options].
type Cancel struct {
	Request ID
	Options Dict
}

// Result: [RESULT, CALL.Request, Details, Arguments?, ArgumentsKw?].
type Result struct {
	Request     ID
	Details     Dict
	Arguments   List
	ArgumentsKw Dict
	// Raw, when set, holds the payload undecoded (see [Raw]).
	Raw Raw
}

// Register: [REGISTER, Request, Options, Procedure].
type Register struct {
	Request   ID
	Options   Dict
	Procedure URI
}

// Registered: [REGISTERED, REGISTER.Request, Registration].
type Registered struct {
	Request      ID
	Registration ID
}

// Unregister: [UNREGISTER, Request, REGISTERED.Registration].
type Unregister struct {
	Request      ID
	Registration ID
}

// Unregistered: [UNREGISTERED, UNREGISTER.Request], or the revocation form
// [UNREGISTERED, 0, Details] when Details is not nil.
type Unregistered struct {
	Request ID
	Details Dict
}

// Invocation: [INVOCATION, Request, Registration, Details, Arguments?, ArgumentsKw?].
type Invocation struct {
	Request      ID
	Registration ID
	Details      Dict
	Arguments    List
	ArgumentsKw  Dict
	// Raw, when set, holds the payload undecoded (see [Raw]).
	Raw Raw
}

// Interrupt: [INTERRUPT, INVOCATION.Request, Options].
type Interrupt struct {
	Request ID
	Options Dict
}

// Yield: [YIELD, INVOCATION.Request, Options, Arguments?, ArgumentsKw?].
type Yield struct {
	Request     ID
	Options     Dict
	Arguments   List
	ArgumentsKw Dict
	// Raw, when set, holds the payload undecoded (see [Raw]).
	Raw Raw
}

func (*Hello) Type() MessageType        { return TypeHello }
func (*Welcome) Type() MessageType      { return TypeWelcome }
func (*Abort) Type() MessageType        { return TypeAbort }
func (*Challenge) Type() MessageType    { return TypeChallenge }
func (*Authenticate) Type() MessageType { return TypeAuthenticate }
func (*Goodbye) Type() MessageType      { return TypeGoodbye }
func (*Error) Type() MessageType        { return TypeError }
func (*Publish) Type() MessageType      { return TypePublish }
func (*Published) Type() MessageType    { return TypePublished }
func (*Subscribe) Type() MessageType    { return TypeSubscribe }
func (*Subscribed) Type() MessageType   { return TypeSubscribed }
func (*Unsubscribe) Type() MessageType  { return TypeUnsubscribe }
func (*Unsubscribed) Type() MessageType { return TypeUnsubscribed }
func (*Event) Type() MessageType        { return TypeEvent }
func (*Call) Type() MessageType         { return TypeCall }
func (*Cancel) Type() MessageType       { return TypeCancel }
func (*Result) Type() MessageType       { return TypeResult }
func (*Register) Type() MessageType     { return TypeRegister }
func (*Registered) Type() MessageType   { return TypeRegistered }
func (*Unregister) Type() MessageType   { return TypeUnregister }
func (*Unregistered) Type() MessageType { return TypeUnregistered }
func (*Invocation) Type() MessageType   { return TypeInvocation }
func (*Interrupt) Type() MessageType    { return TypeInterrupt }
func (*Yield) Type() MessageType        { return TypeYield }

// itoa formats n without fmt, for use in error text on hot-ish paths.
func itoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
