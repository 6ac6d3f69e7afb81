package ops

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

func TestParseValueTakesJSONElseTheWord(t *testing.T) {
	cases := []struct {
		in   string
		want any
	}{
		{"7", int64(7)},
		{"9007199254740993", int64(9007199254740993)}, // not rounded through float64
		{"2.5", 2.5},
		{"true", true},
		{"null", nil},
		{`"7"`, "7"},
		{"hello", "hello"},
		{"[1,\"a\"]", spec.List{int64(1), "a"}},
		{`{"a":{"b":1}}`, spec.Dict{"a": spec.Dict{"b": int64(1)}}},
		{"1 2", "1 2"}, // two values: a string
		{"{not json", "{not json"},
		{"", ""},
	}
	for _, c := range cases {
		if got := ParseValue(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseValue(%q) = %#v, want %#v", c.in, got, c.want)
		}
	}
	if _, err := ParseKwargs("[1]"); err == nil {
		t.Error("--kwargs [1] accepted")
	}
	if d, err := ParseKwargs(`{"x":1}`); err != nil || d["x"] != int64(1) {
		t.Errorf("ParseKwargs: %v %v", d, err)
	}
}

func TestFormatResultEventAndError(t *testing.T) {
	b, _ := FormatResult(&client.Result{Arguments: spec.List{int64(7)}})
	if string(b) != "[7]" {
		t.Errorf("args only: %s", b)
	}
	b, _ = FormatResult(&client.Result{})
	if string(b) != "[]" {
		t.Errorf("empty: %s", b)
	}
	b, _ = FormatResult(&client.Result{Arguments: spec.List{"a"}, ArgumentsKw: spec.Dict{"k": map[any]any{"x": 1}}})
	if string(b) != `{"args":["a"],"kwargs":{"k":{"x":1}}}` {
		t.Errorf("with kwargs: %s", b)
	}
	b, _ = FormatEvent(&client.Event{Topic: "a.b", Arguments: spec.List{1}, Details: spec.Dict{"publisher": int64(42)}}, true)
	if string(b) != `{"args":[1],"publisher":42,"topic":"a.b"}` {
		t.Errorf("event: %s", b)
	}
	s := FormatError(&client.Error{URI: "com.example.oops", Arguments: spec.List{"bad"}})
	if s != `com.example.oops ["bad"]` {
		t.Errorf("error: %s", s)
	}
}

func TestCommandHandlerRunsTheCommand(t *testing.T) {
	h := CommandHandler([]string{"sh", "-c", `read line; echo "$line"`}, 2)
	res, err := h(context.Background(), &client.Invocation{Arguments: spec.List{int64(1), "x"}, ArgumentsKw: spec.Dict{"k": true}})
	if err != nil {
		t.Fatal(err)
	}
	want := spec.Dict{"args": spec.List{int64(1), "x"}, "kwargs": spec.Dict{"k": true}}
	if !reflect.DeepEqual(res.Arguments, spec.List{want}) {
		t.Fatalf("echoed %#v", res.Arguments)
	}
	res, err = h(context.Background(), &client.Invocation{})
	if err != nil || !reflect.DeepEqual(res.Arguments, spec.List{spec.Dict{"args": spec.List{}, "kwargs": spec.Dict{}}}) {
		t.Fatalf("no args: %#v %v", res, err)
	}
	fail := CommandHandler([]string{"sh", "-c", "echo broken >&2; exit 3"}, 1)
	_, err = fail(context.Background(), &client.Invocation{})
	var we *client.Error
	if !errors.As(err, &we) || we.URI != ErrCommandFailed || we.Arguments[0] != "broken" || we.ArgumentsKw["exit_code"] != int64(3) {
		t.Fatalf("failing command: %#v", err)
	}
	text := CommandHandler([]string{"echo", "plain words"}, 1)
	res, err = text(context.Background(), &client.Invocation{})
	if err != nil || res.Arguments[0] != "plain words" {
		t.Fatalf("text output: %#v %v", res, err)
	}
}

func TestCommandHandlerBoundsConcurrency(t *testing.T) {
	h := CommandHandler([]string{"sleep", "0.3"}, 1)
	done := make(chan struct{})
	go func() {
		h(context.Background(), &client.Invocation{})
		close(done)
	}()
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := h(ctx, &client.Invocation{})
	var we *client.Error
	if !errors.As(err, &we) || we.URI != spec.ErrCanceled || !strings.Contains(we.Arguments[0].(string), "slot") {
		t.Fatalf("second invocation with the one slot busy: %v", err)
	}
	<-done
}

func TestConfigPicksTheAuthMethod(t *testing.T) {
	cfg, err := ConnectOptions{AuthID: "a", Ticket: "t"}.Config()
	if err != nil || cfg.AuthMethods[0] != "ticket" {
		t.Fatalf("ticket: %v %v", cfg.AuthMethods, err)
	}
	cfg, err = ConnectOptions{AuthID: "a", Secret: "s"}.Config()
	if err != nil || cfg.AuthMethods[0] != "wampcra" {
		t.Fatalf("wampcra: %v %v", cfg.AuthMethods, err)
	}
	cfg, err = ConnectOptions{PrivateKey: strings.Repeat("ab", 32)}.Config()
	if err != nil || cfg.AuthMethods[0] != "cryptosign" || cfg.AuthExtra["pubkey"] == nil {
		t.Fatalf("cryptosign: %v %v", cfg.AuthMethods, err)
	}
	if _, err := (ConnectOptions{AuthID: "a", Ticket: "t", Secret: "s"}).Config(); err == nil {
		t.Fatal("two methods accepted")
	}
	if _, err := (ConnectOptions{Ticket: "t"}).Config(); err == nil {
		t.Fatal("a ticket without authid accepted")
	}
	if _, err := (ConnectOptions{PrivateKey: "zz"}).Config(); err == nil {
		t.Fatal("a non-hex key accepted")
	}
}

// FuzzParseValue: whatever the word (or a command's output), parsing never
// panics and what it yields can be printed back.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"7", `{"a":[1,2.5,null]}`, "1e400", `"\u0000"`, "[[[[", "-0", "9007199254740993"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := ParseValue(s)
		if _, err := Marshal(spec.List{v}); err != nil {
			t.Fatalf("cannot print back %q: %v", s, err)
		}
	})
}
