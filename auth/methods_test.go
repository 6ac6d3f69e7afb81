package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/switchyard/switchyard/spec"
)

func TestMethodsSelect(t *testing.T) {
	anon := NewAnonymousAuthenticator(AnonymousOptions{})
	tick := NewTicketAuthenticator(TicketOptions{})
	cra := NewWampCRAAuthenticator(WampCRAOptions{})
	m, err := NewMethods(anon, tick, cra)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		requested []string
		want      string
	}{
		{[]string{"wampcra", "ticket"}, "wampcra"}, // the client's order decides
		{[]string{"ticket", "wampcra"}, "ticket"},
		{[]string{"cookie", "cryptosign", "anonymous"}, "anonymous"}, // unknown and unavailable skipped
	} {
		a, err := m.Select(c.requested)
		if err != nil || a.Method() != c.want {
			t.Errorf("%v: %v %v", c.requested, a, err)
		}
	}
	_, err = m.Select([]string{"cryptosign", "scram"})
	if !errors.Is(err, ErrNoAuthMethod) {
		t.Fatal(err)
	}
	if reason, _ := Refusal(err); reason != spec.ErrNoAuthMethod {
		t.Fatal(reason)
	}
	if !slices.Equal(m.Names(), []string{"anonymous", "ticket", "wampcra"}) {
		t.Fatal(m.Names())
	}
	if _, ok := m.Get("ticket"); !ok {
		t.Fatal("Get")
	}
	if _, err := NewMethods(anon, NewAnonymousAuthenticator(AnonymousOptions{})); err == nil {
		t.Fatal("duplicate method accepted")
	}
	var nilMethods *Methods
	if _, err := nilMethods.Select([]string{"anonymous"}); !errors.Is(err, ErrNoAuthMethod) {
		t.Fatal(err)
	}
}

func TestRequestedMethodsAndRequest(t *testing.T) {
	for _, c := range []struct {
		details spec.Dict
		want    []string
	}{
		{spec.Dict{}, []string{"anonymous"}},
		{spec.Dict{"authmethods": []any{}}, []string{"anonymous"}},
		{spec.Dict{"authmethods": "ticket"}, []string{"anonymous"}},
		{spec.Dict{"authmethods": []any{"ticket", 3, "", "wampcra"}}, []string{"ticket", "wampcra"}},
	} {
		if got := RequestedMethods(c.details); !slices.Equal(got, c.want) {
			t.Errorf("%v: %v", c.details, got)
		}
	}
	r := NewRequest("realm1", spec.Dict{"authid": "joe", "authextra": map[string]any{"pubkey": "ab"}}, 9, "1.2.3.4:5", nil)
	if r.AuthID != "joe" || r.AuthExtra["pubkey"] != "ab" || r.SessionID != 9 || r.Realm != "realm1" || r.RemoteAddr != "1.2.3.4:5" {
		t.Fatalf("%+v", r)
	}
	r = NewRequest("realm1", spec.Dict{"authid": 5, "authextra": "x"}, 9, "", nil)
	if r.AuthID != "" || r.AuthExtra != nil {
		t.Fatalf("%+v", r)
	}
}

func TestRefusalAndWelcome(t *testing.T) {
	for _, c := range []struct {
		err    error
		reason spec.URI
		msg    string
	}{
		{nil, "", ""},
		{fmt.Errorf("%w: ticket: wrong", ErrAuthenticationFailed), spec.ErrAuthenticationFailed, "authentication failed"},
		{fmt.Errorf("%w: ticket: authid \"x\"", ErrNoSuchPrincipal), spec.ErrAuthenticationFailed, "authentication failed"},
		{fmt.Errorf("%w: role", ErrNoSuchRole), spec.ErrNoSuchRole, "the role this principal maps to does not exist in the realm"},
		{fmt.Errorf("x: %w", ErrNoAuthMethod), spec.ErrNoAuthMethod, "no acceptable authentication method"},
		{fmt.Errorf("challenge: %w", context.DeadlineExceeded), spec.ErrAuthenticationFailed, "authentication timed out"},
		{errors.New("backend down"), spec.ErrAuthenticationFailed, "authentication could not be completed"},
	} {
		reason, msg := Refusal(c.err)
		if reason != c.reason || msg != c.msg {
			t.Errorf("%v: %s %q", c.err, reason, msg)
		}
	}
	d := Identity{AuthID: "a", AuthRole: "r", AuthMethod: "scram", AuthProvider: "static", AuthExtra: spec.Dict{"scram_server_signature": "x"}}.WelcomeDetails()
	if d["authid"] != "a" || d["authrole"] != "r" || d["authmethod"] != "scram" || d["authprovider"] != "static" || d["authextra"].(spec.Dict)["scram_server_signature"] != "x" {
		t.Fatal(d)
	}
	if _, ok := (Identity{}).WelcomeDetails()["authextra"]; ok {
		t.Fatal("empty authextra sent")
	}
}

func TestPrincipalsIndex(t *testing.T) {
	k := csKey(t, abCsSeed)
	pub := []byte(k.Public().(ed25519.PublicKey))
	for name, list := range map[string][]Principal{
		"no authid":  {{Role: "r", Ticket: PlainTicket("x")}},
		"no role":    {{AuthID: "a", Ticket: PlainTicket("x")}},
		"dup authid": {{AuthID: "a", Role: "r"}, {AuthID: "a", Role: "r"}},
		"dup key":    {{AuthID: "a", Role: "r", Cryptosign: keys(pub)}, {AuthID: "b", Role: "r", Cryptosign: keys(pub)}},
		"short key":  {{AuthID: "a", Role: "r", Cryptosign: keys([]byte{1, 2})}},
		"bad fp":     {{AuthID: "a", Role: "r", TLSFingerprints: []string{"xyz"}}},
		"dup fp":     {{AuthID: "a", Role: "r", TLSFingerprints: []string{fp40}}, {AuthID: "b", Role: "r", TLSFingerprints: []string{fp40}}},
	} {
		if _, err := NewPrincipals(list); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	var nilP *Principals
	if _, ok := nilP.ByAuthID("a"); ok || nilP.Len() != 0 {
		t.Fatal("nil Principals")
	}
	if _, ok := nilP.ByCryptosignKey(nil); ok {
		t.Fatal("nil Principals")
	}
	if _, ok := nilP.ByCertificate(nil); ok {
		t.Fatal("nil Principals")
	}
}

const fp40 = "0123456789abcdef0123456789abcdef01234567"

func keys(ks ...[]byte) (out []ed25519.PublicKey) {
	for _, k := range ks {
		out = append(out, k)
	}
	return out
}

func TestLRU(t *testing.T) {
	c := newLRU[int, string](2)
	c.put(1, "a")
	c.put(2, "b")
	c.get(1) // 2 is now the least recently used
	c.put(3, "c")
	if _, ok := c.get(2); ok {
		t.Fatal("2 not evicted")
	}
	if v, ok := c.get(1); !ok || v != "a" {
		t.Fatal("1 evicted")
	}
	c.put(1, "A")
	c.remove(3)
	c.remove(42)
	if c.len() != 1 {
		t.Fatal(c.len())
	}
	if v, _ := c.get(1); v != "A" {
		t.Fatal(v)
	}
	c.remove(1)
	if c.head != nil || c.tail != nil {
		t.Fatal("list not empty")
	}
	if newLRU[int, int](0).max != 1 {
		t.Fatal("max clamp")
	}
}
