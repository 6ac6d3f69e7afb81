package spec

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	roles := Dict{"caller": Dict{}}
	pub := func(o Dict) Message { return &Publish{Request: 1, Options: o, Topic: "t"} }
	sub := func(o Dict) Message { return &Subscribe{Request: 1, Options: o, Topic: "t"} }
	ev := func(d Dict) Message { return &Event{Subscription: 1, Publication: 2, Details: d} }
	call := func(o Dict) Message { return &Call{Request: 1, Options: o, Procedure: "p"} }
	reg := func(o Dict) Message { return &Register{Request: 1, Options: o, Procedure: "p"} }
	inv := func(d Dict) Message { return &Invocation{Request: 1, Registration: 2, Details: d} }
	res := func(d Dict) Message { return &Result{Request: 1, Details: d} }
	yld := func(o Dict) Message { return &Yield{Request: 1, Options: o} }
	cancel := func(o Dict) Message { return &Cancel{Request: 1, Options: o} }
	intr := func(o Dict) Message { return &Interrupt{Request: 1, Options: o} }
	hello := func(d Dict) Message { return &Hello{Realm: "r", Details: d} }

	valid := []Message{
		pub(nil), pub(Dict{}), pub(Dict{"unknown_key": struct{}{}, "_x_impl": 1}),
		pub(Dict{"acknowledge": true, "exclude_me": false, "disclose_me": true, "retain": false}),
		pub(Dict{"exclude": List{int64(1), int64(MaxID)}, "eligible": List{}, "exclude_authid": List{"a"}, "eligible_authrole": List{}}),
		pub(Dict{"ppt_scheme": "wamp.eth", "ppt_serializer": "cbor", "ppt_cipher": "xsalsa20poly1305", "ppt_keyid": "k"}),
		pub(Dict{"enc_algo": "x_custom", "enc_serializer": "flatbuffers", "enc_key": "k"}),
		pub(Dict{"enc_algo": "xbr"}), pub(Dict{"enc_algo": "x_"}),
		pub(Dict{"forward_for": List{Dict{"session": int64(1), "authid": "a", "authrole": "r"}, Dict{}}}),
		call(Dict{"timeout": uint64(1) << 63}),
		sub(Dict{"match": "exact"}), sub(Dict{"match": "prefix", "get_retained": true, "nkey": "n"}),
		ev(Dict{"publisher": int64(7), "publisher_authid": "a", "trustlevel": int64(0), "retained": true, "topic": "a.b"}),
		call(Dict{"receive_progress": true, "progress": false, "timeout": int64(0), "disclose_me": false}),
		call(Dict{"timeout": int64(30000), "runmode": "partition", "rkey": "k"}),
		reg(Dict{"match": "wildcard", "invoke": "roundrobin", "disclose_caller": true, "force_reregister": false, "concurrency": int64(4)}),
		reg(Dict{"invoke": "single"}), reg(Dict{"invoke": "random"}), reg(Dict{"invoke": "first"}), reg(Dict{"invoke": "last"}),
		inv(Dict{"caller": int64(9), "procedure": "a.b.c", "receive_progress": true, "timeout": int64(10)}),
		res(Dict{"progress": true, "callee": int64(3)}),
		yld(Dict{"progress": true}),
		cancel(Dict{"mode": "skip"}), cancel(Dict{"mode": "kill"}), cancel(Dict{"mode": "killnowait"}),
		intr(Dict{"mode": "killnowait", "reason": "wamp.error.canceled"}),
		hello(Dict{"roles": roles, "authmethods": List{"ticket"}, "authid": "joe", "authextra": Dict{}}),
		&Welcome{Session: 1, Details: Dict{"roles": Dict{}, "authrole": "user"}},
		&Goodbye{Details: Dict{"message": "bye"}, Reason: CloseNormal},
		&Abort{Details: Dict{"message": "no"}, Reason: ErrNoSuchRealm},
		&Error{RequestType: TypeInvocation, Request: 1, Details: Dict{}, Error: "e"},
		&Unsubscribed{Details: Dict{"subscription": int64(3), "reason": "r"}},
		&Unregistered{Details: Dict{"registration": int64(3)}},
		&Published{Request: 1, Publication: 2}, &Challenge{AuthMethod: "x", Extra: Dict{"anything": 1}},
	}
	for _, m := range valid {
		if err := Validate(m); err != nil {
			t.Errorf("Validate(%#v) = %v", m, err)
		}
		if err := CheckOptions(m); err != nil {
			t.Errorf("CheckOptions(%#v) = %v", m, err)
		}
	}

	invalid := []struct {
		m       Message
		mention string
	}{
		{ev(Dict{"publisher": "me"}), "publisher"},
		{ev(Dict{"publisher": int64(0)}), "publisher"},
		{ev(Dict{"publisher_authrole": int64(1)}), "publisher_authrole"},
		{ev(Dict{"topic": List{}}), "topic"},
		{ev(Dict{"trustlevel": int64(-1)}), "trustlevel"},
		{ev(Dict{"x_acknowledged_delivery": "y"}), "x_acknowledged_delivery"},
		{inv(Dict{"caller": "x"}), "caller"},
		{inv(Dict{"procedure": int64(1)}), "procedure"},
		{res(Dict{"progress": int64(1)}), "progress"},
		{yld(Dict{"progress": "yes"}), "progress"},
		{cancel(Dict{"mode": "abort"}), "mode"},
		{intr(Dict{"mode": true}), "mode"},
		{hello(Dict{}), "roles"},
		{hello(Dict{"roles": List{}}), "roles"},
		{hello(Dict{"roles": roles, "authmethods": "ticket"}), "authmethods"},
		{&Welcome{Session: 1, Details: Dict{"authextra": "x"}}, "authextra"},
		{&Goodbye{Details: Dict{"message": int64(1)}, Reason: CloseNormal}, "message"},
		{&Error{RequestType: TypeEvent, Request: 1, Details: Dict{}, Error: "e"}, "ERROR"},
		{&Error{RequestType: TypeCall, Request: 1, Details: Dict{"callee": "x"}, Error: "e"}, "callee"},
		{&Unsubscribed{Details: Dict{"subscription": "x"}}, "subscription"},
		{&Unregistered{Details: Dict{"registration": int64(0)}}, "registration"},
		{nil, "nil"},
	}
	for _, c := range invalid {
		err := Validate(c.m)
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("Validate(%#v) = %v, want *ProtocolError", c.m, err)
			continue
		}
		if !strings.Contains(err.Error(), c.mention) {
			t.Errorf("Validate(%#v) = %q, should mention %q", c.m, err, c.mention)
		}
	}
}

// TestCheckOptions: a request's option values that the router cannot
// honour are an *OptionError naming the option, never a protocol
// violation; Validate lets the same requests through.
func TestCheckOptions(t *testing.T) {
	pub := func(o Dict) Message { return &Publish{Request: 1, Options: o, Topic: "t"} }
	sub := func(o Dict) Message { return &Subscribe{Request: 1, Options: o, Topic: "t"} }
	call := func(o Dict) Message { return &Call{Request: 1, Options: o, Procedure: "p"} }
	reg := func(o Dict) Message { return &Register{Request: 1, Options: o, Procedure: "p"} }
	invalid := []struct {
		m       Message
		mention string
	}{
		{pub(Dict{"acknowledge": "yes"}), "acknowledge"},
		{pub(Dict{"acknowledge": int64(1)}), "acknowledge"},
		{pub(Dict{"exclude_me": nil}), "exclude_me"}, // FromList drops decoded nulls; Go code must not write them
		{pub(Dict{"exclude": List{int64(0)}}), "exclude"},
		{pub(Dict{"exclude": List{"1"}}), "exclude"},
		{pub(Dict{"exclude": int64(1)}), "exclude"},
		{pub(Dict{"eligible": List{int64(MaxID) + 1}}), "eligible"},
		{pub(Dict{"exclude_authid": List{int64(1)}}), "exclude_authid"},
		{pub(Dict{"eligible_authrole": "admin"}), "eligible_authrole"},
		{pub(Dict{"retain": "true"}), "retain"},
		{pub(Dict{"transaction_hash": int64(1)}), "transaction_hash"},
		{pub(Dict{"forward_for": Dict{}}), "forward_for"},
		{pub(Dict{"forward_for": List{"x"}}), "forward_for"},
		{pub(Dict{"forward_for": List{Dict{"session": "1"}}}), "forward_for"},
		{pub(Dict{"forward_for": List{Dict{"authid": int64(1)}}}), "forward_for"},
		{pub(Dict{"enc_algo": "aes256"}), "enc_algo"},
		{pub(Dict{"enc_algo": "x_A"}), "enc_algo"},
		{pub(Dict{"enc_serializer": "yaml"}), "enc_serializer"},
		{pub(Dict{"ppt_scheme": int64(1)}), "ppt_scheme"},
		{sub(Dict{"match": "regex"}), "match"},
		{sub(Dict{"match": int64(1)}), "match"},
		{sub(Dict{"get_retained": int64(0)}), "get_retained"},
		{call(Dict{"timeout": int64(-1)}), "timeout"},
		{call(Dict{"timeout": 1.5}), "timeout"},
		{call(Dict{"timeout": "10"}), "timeout"},
		{call(Dict{"receive_progress": int64(1)}), "receive_progress"},
		{call(Dict{"progress": "true"}), "progress"},
		{call(Dict{"disclose_me": int64(1)}), "disclose_me"},
		{reg(Dict{"invoke": "all"}), "invoke"},
		{reg(Dict{"match": "glob"}), "match"},
		{reg(Dict{"disclose_caller": "yes"}), "disclose_caller"},
		{reg(Dict{"force_reregister": int64(1)}), "force_reregister"},
		{reg(Dict{"concurrency": int64(-2)}), "concurrency"},
	}
	for _, c := range invalid {
		if err := Validate(c.m); err != nil {
			t.Errorf("Validate(%#v) = %v, want nil (options are CheckOptions' job)", c.m, err)
		}
		oe := CheckOptions(c.m)
		if oe == nil {
			t.Errorf("CheckOptions(%#v) = nil, want an *OptionError", c.m)
			continue
		}
		if oe.Option != c.mention || oe.Request != c.m.Type() {
			t.Errorf("CheckOptions(%#v) names %s.%s, want %s.%s", c.m, oe.Request, oe.Option, c.m.Type(), c.mention)
		}
		if want := c.m.Type().String() + ".Options." + c.mention + " must be "; !strings.HasPrefix(oe.Error(), want) {
			t.Errorf("CheckOptions(%#v).Error() = %q, want it to start %q", c.m, oe.Error(), want)
		}
	}
	// Messages other than the four requests have no OptionError.
	for _, m := range []Message{&Yield{Request: 1, Options: Dict{"progress": "x"}}, &Cancel{Request: 1, Options: Dict{"mode": "x"}}, nil} {
		if oe := CheckOptions(m); oe != nil {
			t.Errorf("CheckOptions(%#v) = %v", m, oe)
		}
	}
}

func TestIsCustomAttribute(t *testing.T) {
	for s, want := range map[string]bool{"x_": true, "x_ab": true, "x_a1_": true, "x_a": false, "x_1a": false, "x_Ab": false, "y_ab": false, "x": false, "": false, "x_ab-c": false} {
		if got := isCustomAttribute(s); got != want {
			t.Errorf("isCustomAttribute(%q) = %v", s, got)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	msgs := []Message{
		&Event{Subscription: 1, Publication: 2, Details: Dict{}},
		&Publish{Request: 1, Options: Dict{"acknowledge": true, "exclude_me": false}, Topic: "t"},
		&Call{Request: 1, Options: Dict{"timeout": int64(1000), "receive_progress": true}, Procedure: "p"},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := Validate(msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
	}
}
