package spec

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// wire lists for every message type, in the form ToList writes them.
func wireSamples() map[string]struct {
	m Message
	l List
} {
	d := Dict{"k": "v"}
	args, kw := List{int64(1), "two"}, Dict{"x": true}
	big := int64(MaxID)
	return map[string]struct {
		m Message
		l List
	}{
		"hello":            {&Hello{Realm: "realm1", Details: d}, List{int64(1), "realm1", d}},
		"welcome":          {&Welcome{Session: MaxID, Details: d}, List{int64(2), big, d}},
		"abort":            {&Abort{Details: d, Reason: ErrNoSuchRealm}, List{int64(3), d, string(ErrNoSuchRealm)}},
		"abort+payload":    {&Abort{Details: d, Reason: "r", Arguments: args, ArgumentsKw: kw}, List{int64(3), d, "r", args, kw}},
		"challenge":        {&Challenge{AuthMethod: "ticket", Extra: d}, List{int64(4), "ticket", d}},
		"authenticate":     {&Authenticate{Signature: "s", Extra: d}, List{int64(5), "s", d}},
		"goodbye":          {&Goodbye{Details: d, Reason: CloseNormal}, List{int64(6), d, string(CloseNormal)}},
		"error":            {&Error{RequestType: TypeCall, Request: 7, Details: d, Error: "e"}, List{int64(8), int64(48), int64(7), d, "e"}},
		"error+args":       {&Error{RequestType: TypeInvocation, Request: 7, Details: d, Error: "e", Arguments: args}, List{int64(8), int64(68), int64(7), d, "e", args}},
		"publish":          {&Publish{Request: 1, Options: d, Topic: "t"}, List{int64(16), int64(1), d, "t"}},
		"publish+kwargs":   {&Publish{Request: 1, Options: d, Topic: "t", ArgumentsKw: kw}, List{int64(16), int64(1), d, "t", List{}, kw}},
		"published":        {&Published{Request: 1, Publication: MaxID}, List{int64(17), int64(1), big}},
		"subscribe":        {&Subscribe{Request: 2, Options: d, Topic: "t"}, List{int64(32), int64(2), d, "t"}},
		"subscribed":       {&Subscribed{Request: 2, Subscription: 3}, List{int64(33), int64(2), int64(3)}},
		"unsubscribe":      {&Unsubscribe{Request: 4, Subscription: 3}, List{int64(34), int64(4), int64(3)}},
		"unsubscribed":     {&Unsubscribed{Request: 4}, List{int64(35), int64(4)}},
		"unsubscribed/rev": {&Unsubscribed{Details: Dict{"subscription": int64(3)}}, List{int64(35), int64(0), Dict{"subscription": int64(3)}}},
		"event":            {&Event{Subscription: 3, Publication: 9, Details: d, Arguments: args, ArgumentsKw: kw}, List{int64(36), int64(3), int64(9), d, args, kw}},
		"call":             {&Call{Request: 5, Options: d, Procedure: "p", Arguments: args}, List{int64(48), int64(5), d, "p", args}},
		"cancel":           {&Cancel{Request: 5, Options: d}, List{int64(49), int64(5), d}},
		"result":           {&Result{Request: 5, Details: d}, List{int64(50), int64(5), d}},
		"register":         {&Register{Request: 6, Options: d, Procedure: "p"}, List{int64(64), int64(6), d, "p"}},
		"registered":       {&Registered{Request: 6, Registration: 8}, List{int64(65), int64(6), int64(8)}},
		"unregister":       {&Unregister{Request: 7, Registration: 8}, List{int64(66), int64(7), int64(8)}},
		"unregistered":     {&Unregistered{Request: 7}, List{int64(67), int64(7)}},
		"unregistered/rev": {&Unregistered{Details: Dict{"registration": int64(8)}}, List{int64(67), int64(0), Dict{"registration": int64(8)}}},
		"invocation":       {&Invocation{Request: 9, Registration: 8, Details: d, Arguments: args}, List{int64(68), int64(9), int64(8), d, args}},
		"interrupt":        {&Interrupt{Request: 9, Options: d}, List{int64(69), int64(9), d}},
		"yield":            {&Yield{Request: 9, Options: d, Arguments: args, ArgumentsKw: kw}, List{int64(70), int64(9), d, args, kw}},
	}
}

func TestToListFromList(t *testing.T) {
	seen := map[MessageType]bool{}
	for name, c := range wireSamples() {
		if got := ToList(c.m); !reflect.DeepEqual(got, c.l) {
			t.Errorf("%s: ToList = %#v, want %#v", name, got, c.l)
		}
		m, err := FromList(c.l)
		if err != nil {
			t.Errorf("%s: FromList: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(ToList(m), c.l) {
			t.Errorf("%s: FromList = %#v", name, m)
		}
		seen[m.Type()] = true
	}
	for t2 := range typeNames {
		if !seen[t2] {
			t.Errorf("no sample for %v", t2)
		}
	}
}

func TestToListNilDictsAndEmptyPayloads(t *testing.T) {
	l := ToList(&Event{Subscription: 1, Publication: 2, Arguments: List{}, ArgumentsKw: Dict{}})
	want := List{int64(36), int64(1), int64(2), Dict{}}
	if !reflect.DeepEqual(l, want) {
		t.Errorf("ToList = %#v, want %#v", l, want)
	}
}

func TestFromListAccepts(t *testing.T) {
	d := Dict{}
	cases := map[string]List{
		"float IDs":           {float64(16), 1.0, d, "t"},
		"uint64 ID":           {int64(17), uint64(1), uint64(MaxID)},
		"empty payloads":      {int64(16), int64(1), d, "t", List{}, Dict{}},
		"passthru bytes":      {int64(16), int64(1), d, "t", []byte{1, 2}},
		"passthru json text":  {int64(36), int64(1), int64(2), d, "\x00AQI="},
		"progress same ID":    {int64(48), int64(1), Dict{"progress": true}, "p", List{}},
		"abort with payload":  {int64(3), d, "r", List{"x"}},
		"error kwargs":        {int64(8), int64(48), int64(1), d, "e", List{}, Dict{"a": int64(1)}},
		"result kwargs only":  {int64(50), int64(1), d, List{}, Dict{}},
		"unregistered revoke": {int64(67), int64(0), Dict{"registration": int64(1), "reason": "x"}},
	}
	for name, l := range cases {
		if _, err := FromList(l); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	m, _ := FromList(List{int64(16), int64(1), d, "t", []byte{1, 2}})
	if args := m.(*Publish).Arguments; len(args) != 1 || !reflect.DeepEqual(args[0], []byte{1, 2}) {
		t.Errorf("passthru payload not wrapped: %#v", args)
	}
}

func TestFromListRejects(t *testing.T) {
	d := Dict{}
	cases := map[string]List{
		"empty":                 {},
		"type not int":          {"16", int64(1), d, "t"},
		"type negative":         {int64(-1)},
		"type fraction":         {1.5},
		"type huge":             {int64(70000)},
		"unknown type":          {int64(7), d},
		"unknown type 337":      {int64(337), int64(1)},
		"hello short":           {int64(1), "realm"},
		"hello long":            {int64(1), "realm", d, d},
		"hello realm not str":   {int64(1), int64(5), d},
		"hello details list":    {int64(1), "r", List{}},
		"welcome id 0":          {int64(2), int64(0), d},
		"welcome id too big":    {int64(2), int64(MaxID) + 1, d},
		"welcome id negative":   {int64(2), int64(-3), d},
		"welcome id string":     {int64(2), "1", d},
		"welcome id float frac": {int64(2), 1.5, d},
		"abort too long":        {int64(3), d, "r", List{}, d, d},
		"error short":           {int64(8), int64(48), int64(1), d},
		"error type string":     {int64(8), "CALL", int64(1), d, "e"},
		"publish args dict":     {int64(16), int64(1), d, "t", d},
		"publish args int":      {int64(16), int64(1), d, "t", int64(3)},
		"publish kwargs list":   {int64(16), int64(1), d, "t", List{}, List{}},
		"publish options nil":   {int64(16), int64(1), nil, "t"},
		"publish too long":      {int64(16), int64(1), d, "t", List{}, d, d},
		"published short":       {int64(17), int64(1)},
		"subscribe with args":   {int64(32), int64(1), d, "t", List{}},
		"unsubscribed 0 alone":  {int64(35), int64(0)},
		"unsubscribed id+dict":  {int64(35), int64(5), d},
		"unsubscribed 0 + list": {int64(35), int64(0), List{}},
		"unsubscribed long":     {int64(35), int64(0), d, d},
		"event short":           {int64(36), int64(1), int64(2)},
		"cancel no options":     {int64(49), int64(1)},
		"result short":          {int64(50), int64(1)},
		"register no uri":       {int64(64), int64(1), d},
		"unregistered id+dict":  {int64(67), int64(5), d},
		"unregistered 0 alone":  {int64(67), int64(0)},
		"invocation bad reg":    {int64(68), int64(1), "r", d},
		"interrupt long":        {int64(69), int64(1), d, d},
		"yield short":           {int64(70), int64(1)},
	}
	for name, l := range cases {
		m, err := FromList(l)
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("%s: FromList = %#v, %v; want *ProtocolError", name, m, err)
		}
	}
}

func TestProtocolErrorText(t *testing.T) {
	_, err := FromList(List{int64(2), int64(0), Dict{}})
	if err == nil || !strings.Contains(err.Error(), "WELCOME") || !strings.HasPrefix(err.Error(), "wamp protocol violation: ") {
		t.Errorf("error text %q", err)
	}
}

func TestMessageTypeString(t *testing.T) {
	if TypeEvent.String() != "EVENT" || MessageType(999).String() != "UNKNOWN(999)" || MessageType(0).String() != "UNKNOWN(0)" {
		t.Error("MessageType.String")
	}
}

// TestNullOptionsAreAbsent: a null in the top level of any message's
// Options, Details or Extra is as if the key were not there (wampy.js
// sends undefined for options it was not given), while nulls inside
// nested values and payloads travel unchanged.
func TestNullOptionsAreAbsent(t *testing.T) {
	withNulls := func() Dict {
		return Dict{"match": nil, "acknowledge": nil, "keep": "v", "nested": Dict{"inner": nil}}
	}
	want := Dict{"keep": "v", "nested": Dict{"inner": nil}}
	dicts := func(m Message) []Dict {
		switch m := m.(type) {
		case *Hello:
			return []Dict{m.Details}
		case *Welcome:
			return []Dict{m.Details}
		case *Abort:
			return []Dict{m.Details}
		case *Challenge:
			return []Dict{m.Extra}
		case *Authenticate:
			return []Dict{m.Extra}
		case *Goodbye:
			return []Dict{m.Details}
		case *Error:
			return []Dict{m.Details}
		case *Publish:
			return []Dict{m.Options}
		case *Subscribe:
			return []Dict{m.Options}
		case *Unsubscribed:
			return []Dict{m.Details}
		case *Event:
			return []Dict{m.Details}
		case *Call:
			return []Dict{m.Options}
		case *Cancel:
			return []Dict{m.Options}
		case *Result:
			return []Dict{m.Details}
		case *Register:
			return []Dict{m.Options}
		case *Unregistered:
			return []Dict{m.Details}
		case *Invocation:
			return []Dict{m.Details}
		case *Interrupt:
			return []Dict{m.Options}
		case *Yield:
			return []Dict{m.Options}
		}
		return nil
	}
	checked := 0
	for name, c := range wireSamples() {
		l := append(List(nil), c.l...)
		replaced := false
		for i := 1; i < len(l); i++ {
			// The first dict of a message is its Options/Details/Extra.
			if _, ok := l[i].(map[string]any); ok {
				l[i] = withNulls()
				replaced = true
				break
			}
		}
		if !replaced {
			continue
		}
		m, err := FromList(l)
		if err != nil {
			t.Fatalf("%s: FromList: %v", name, err)
		}
		ds := dicts(m)
		if len(ds) == 0 {
			t.Fatalf("%s: no dict found in %#v", name, m)
		}
		for _, d := range ds {
			if !reflect.DeepEqual(d, want) {
				t.Errorf("%s: dict = %#v, want %#v", name, d, want)
			}
		}
		checked++
	}
	if checked < 19 {
		t.Fatalf("only %d message types checked", checked)
	}
	// Payloads are the application's: nulls stay.
	m, err := FromList(List{int64(TypePublish), int64(1), Dict{"acknowledge": nil}, "t", List{nil}, Dict{"k": nil}})
	if err != nil {
		t.Fatal(err)
	}
	p := m.(*Publish)
	if _, ok := p.Options["acknowledge"]; ok || len(p.Arguments) != 1 || p.Arguments[0] != nil {
		t.Errorf("publish = %#v", p)
	}
	if v, ok := p.ArgumentsKw["k"]; !ok || v != nil {
		t.Errorf("ArgumentsKw lost its null: %#v", p.ArgumentsKw)
	}
	// A null option is absent for CheckOptions too: a match policy of null
	// is the default, exact.
	m, _ = FromList(List{int64(TypeSubscribe), int64(1), Dict{"match": nil, "get_retained": nil}, "a.b"})
	if err := Validate(m); err != nil {
		t.Fatal(err)
	}
	if oe := CheckOptions(m); oe != nil {
		t.Fatal(oe)
	}
}
