package auth

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// backend is a fake Caller: it records the call and answers with fn.
type backend struct {
	calls atomic.Int32
	last  atomic.Value // spec.List
	fn    func(args spec.List) (spec.List, spec.Dict, error)
}

func (b *backend) Call(ctx context.Context, proc spec.URI, args spec.List, kwargs spec.Dict) (spec.List, spec.Dict, error) {
	b.calls.Add(1)
	b.last.Store(args)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return b.fn(args)
}

func (b *backend) lastArgs() spec.List { l, _ := b.last.Load().(spec.List); return l }

func TestDynamicTicket(t *testing.T) {
	be := &backend{fn: func(args spec.List) (spec.List, spec.Dict, error) {
		details := args[2].(spec.Dict)
		switch details["ticket"] {
		case "tk-joe":
			return spec.List{"user"}, nil, nil // a bare role
		case "tk-ann":
			return spec.List{spec.Dict{"role": "admin", "authid": "ann@example", "extra": spec.Dict{"k": "v"}}}, nil, nil
		case "tk-kw":
			return nil, spec.Dict{"authrole": "user"}, nil // answer in kwargs
		case "tk-ghost":
			return spec.List{"ghost"}, nil, nil
		case "tk-bad":
			return spec.List{int64(42)}, nil, nil
		}
		return nil, nil, errors.New("wamp.error.not_authorized")
	}}
	d, err := NewDynamicAuthenticator(DynamicOptions{Method: "ticket", Procedure: "com.example.auth", Caller: be,
		RoleExists: func(r string) bool { return r == "user" || r == "admin" }})
	if err != nil {
		t.Fatal(err)
	}
	id, err := d.Authenticate(ctxT(t), hello("joe", spec.Dict{"x": "y"}), answer("tk-joe"))
	if err != nil {
		t.Fatal(err)
	}
	if id.AuthID != "joe" || id.AuthRole != "user" || id.AuthProvider != "dynamic" || id.AuthMethod != "ticket" {
		t.Fatalf("identity %+v", id)
	}
	args := be.lastArgs()
	details := args[2].(spec.Dict)
	if args[0] != "realm1" || args[1] != "joe" || details["session"] != int64(4242) || details["authmethod"] != "ticket" ||
		details["authextra"].(spec.Dict)["x"] != "y" || details["transport"].(spec.Dict)["peer"] != "192.0.2.7:50000" {
		t.Fatalf("call args %v", args)
	}
	id, err = d.Authenticate(ctxT(t), hello("ann", nil), answer("tk-ann"))
	if err != nil || id.AuthID != "ann@example" || id.AuthRole != "admin" || id.AuthExtra["k"] != "v" {
		t.Fatalf("identity %+v %v", id, err)
	}
	if id, err = d.Authenticate(ctxT(t), hello("kw", nil), answer("tk-kw")); err != nil || id.AuthRole != "user" {
		t.Fatalf("kwargs answer: %+v %v", id, err)
	}

	_, err = d.Authenticate(ctxT(t), hello("joe", nil), answer("wrong"))
	wantRefused(t, err, ErrAuthenticationFailed)
	if reason, msg := Refusal(err); reason != spec.ErrAuthenticationFailed || strings.Contains(msg, "not_authorized") {
		t.Fatalf("Refusal = %s %q: the backend's error must stay in the log", reason, msg)
	}
	_, err = d.Authenticate(ctxT(t), hello("joe", nil), answer("tk-ghost"))
	wantRefused(t, err, ErrNoSuchRole)
	if reason, _ := Refusal(err); reason != spec.ErrNoSuchRole {
		t.Fatal(reason)
	}
	_, err = d.Authenticate(ctxT(t), hello("joe", nil), answer("tk-bad"))
	if err == nil || errors.Is(err, ErrAuthenticationFailed) {
		t.Fatalf("malformed answer: %v", err)
	}
	n := be.calls.Load()
	_, err = d.Authenticate(ctxT(t), hello("", nil), noChallenge(t))
	wantRefused(t, err, ErrAuthenticationFailed)
	if be.calls.Load() != n {
		t.Fatal("backend called without an authid")
	}
	_, err = d.Authenticate(shortCtx(t), hello("joe", nil), blocking())
	wantTimeout(t, err)
	// A backend that hangs: the handshake context ends the call.
	slow := &backend{fn: func(spec.List) (spec.List, spec.Dict, error) {
		time.Sleep(50 * time.Millisecond)
		return nil, nil, context.DeadlineExceeded
	}}
	ds, _ := NewDynamicAuthenticator(DynamicOptions{Method: "ticket", Procedure: "p", Caller: slow})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = ds.Authenticate(ctx, hello("joe", nil), answer("x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow backend: %v", err)
	}
}

func TestDynamicWampcraAndCryptosign(t *testing.T) {
	alice := csKey(t, abCsSeed)
	be := &backend{fn: func(args spec.List) (spec.List, spec.Dict, error) {
		details := args[2].(spec.Dict)
		switch details["authmethod"] {
		case "wampcra":
			switch args[1] {
			case "joe":
				return spec.List{spec.Dict{"role": "user", "secret": "s3"}}, nil, nil
			case "sal":
				return spec.List{spec.Dict{"role": "user", "secret": "pw", "salt": "na", "iterations": int64(10), "keylen": int64(32)}}, nil, nil
			case "bad":
				return spec.List{spec.Dict{"role": "user"}}, nil, nil
			}
		case "cryptosign":
			if details["authextra"].(spec.Dict)["pubkey"] == pubHex(alice) {
				return spec.List{spec.Dict{"role": "device"}}, nil, nil
			}
		}
		return nil, nil, errors.New("denied")
	}}
	cra, err := NewDynamicAuthenticator(DynamicOptions{Method: "wampcra", Procedure: "p", Caller: be})
	if err != nil {
		t.Fatal(err)
	}
	for authid, secret := range map[string]string{"joe": "s3", "sal": "pw"} {
		id, err := cra.Authenticate(ctxT(t), hello(authid, nil), craClient(t, secret))
		if err != nil || id.AuthID != authid || id.AuthProvider != "dynamic" {
			t.Fatalf("%s: %+v %v", authid, id, err)
		}
	}
	_, err = cra.Authenticate(ctxT(t), hello("joe", nil), craClient(t, "wrong"))
	wantRefused(t, err, ErrAuthenticationFailed)
	_, err = cra.Authenticate(ctxT(t), hello("nobody", nil), noChallenge(t))
	wantRefused(t, err, ErrAuthenticationFailed)
	if _, err = cra.Authenticate(ctxT(t), hello("bad", nil), noChallenge(t)); err == nil {
		t.Fatal("answer without secret accepted")
	}

	cs, err := NewDynamicAuthenticator(DynamicOptions{Method: "cryptosign", Procedure: "p", Caller: be})
	if err != nil {
		t.Fatal(err)
	}
	id, err := cs.Authenticate(ctxT(t), hello("", spec.Dict{"pubkey": pubHex(alice)}), csClient(t, alice, nil))
	if err != nil || id.AuthID != pubHex(alice) || id.AuthRole != "device" {
		t.Fatalf("%+v %v", id, err)
	}
	id, err = cs.Authenticate(ctxT(t), hello("sensor", spec.Dict{"pubkey": pubHex(alice)}), csClient(t, alice, nil))
	if err != nil || id.AuthID != "sensor" {
		t.Fatalf("%+v %v", id, err)
	}
	eve := csKey(t, strings.Repeat("44", 32))
	_, err = cs.Authenticate(ctxT(t), hello("", spec.Dict{"pubkey": pubHex(alice)}), csClient(t, eve, nil))
	wantRefused(t, err, ErrAuthenticationFailed) // the backend said yes, the signature says no
	_, err = cs.Authenticate(ctxT(t), hello("", spec.Dict{"pubkey": pubHex(eve)}), noChallenge(t))
	wantRefused(t, err, ErrAuthenticationFailed)

	for _, o := range []DynamicOptions{{Method: "scram", Procedure: "p", Caller: be}, {Method: "ticket", Caller: be}, {Method: "ticket", Procedure: "p"}} {
		if _, err := NewDynamicAuthenticator(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
