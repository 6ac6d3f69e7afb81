package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/spec"
)

func TestAnonymous(t *testing.T) {
	a := NewAnonymousAuthenticator(AnonymousOptions{Role: "public"})
	id, err := a.Authenticate(ctxT(t), hello("kiosk-1", nil), noChallenge(t))
	if err != nil {
		t.Fatal(err)
	}
	if id.AuthID != "kiosk-1" || id.AuthRole != "public" || id.AuthMethod != "anonymous" || id.AuthProvider != "static" {
		t.Fatalf("identity %+v", id)
	}
	// No authid: a random one, different each time.
	id1, _ := a.Authenticate(ctxT(t), hello("", nil), noChallenge(t))
	id2, _ := a.Authenticate(ctxT(t), hello("", nil), noChallenge(t))
	if len(id1.AuthID) < 20 || id1.AuthID == id2.AuthID {
		t.Fatalf("random authids %q %q", id1.AuthID, id2.AuthID)
	}
	// RandomAuthID ignores the client's.
	r := NewAnonymousAuthenticator(AnonymousOptions{RandomAuthID: true})
	id, _ = r.Authenticate(ctxT(t), hello("admin", nil), noChallenge(t))
	if id.AuthID == "admin" || id.AuthRole != "anonymous" {
		t.Fatalf("identity %+v", id)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Authenticate(ctx, hello("", nil), noChallenge(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled ctx: %v", err)
	}
}

// fastHash returns a "$sha256$" hash of ticket.
func fastHash(ticket string) string {
	salt := []byte("0123456789")
	h := sha256.Sum256(append(salt, ticket...))
	return "$sha256$" + base64.StdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(h[:])
}

func TestTicket(t *testing.T) {
	hashed, err := ParseTicketHash(abArgon2PHC) // "ticket-xyz", hashed by argon2-cffi
	if err != nil {
		t.Fatal(err)
	}
	fast, err := ParseTicketHash(fastHash("machine-token-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	ps := mustPrincipals(t,
		Principal{AuthID: "joe", Role: "user", Ticket: PlainTicket("s3cret"), Extra: spec.Dict{"x": int64(1)}},
		Principal{AuthID: "ann", Role: "admin", Ticket: hashed},
		Principal{AuthID: "bot", Role: "backend", Ticket: fast},
		Principal{AuthID: "kim", Role: "user", Cryptosign: nil, WampCRA: PlainWampCRA("other")},
	)
	a := NewTicketAuthenticator(TicketOptions{Principals: ps})
	if a.Method() != "ticket" {
		t.Fatal(a.Method())
	}
	ok := []struct{ authid, ticket, role string }{
		{"joe", "s3cret", "user"}, {"ann", "ticket-xyz", "admin"}, {"bot", "machine-token-0123456789abcdef", "backend"},
	}
	for _, c := range ok {
		rec := &recorder{client: answer(c.ticket)}
		id, err := a.Authenticate(ctxT(t), hello(c.authid, nil), rec)
		if err != nil {
			t.Fatalf("%s: %v", c.authid, err)
		}
		if id.AuthID != c.authid || id.AuthRole != c.role || id.AuthMethod != "ticket" || id.AuthProvider != "static" {
			t.Fatalf("%s: identity %+v", c.authid, id)
		}
		if len(rec.challenges) != 1 || rec.challenges[0].method != "ticket" || len(rec.challenges[0].extra) != 0 {
			t.Fatalf("%s: challenges %+v", c.authid, rec.challenges)
		}
	}
	id, _ := a.Authenticate(ctxT(t), hello("joe", nil), answer("s3cret"))
	if id.AuthExtra["x"] != int64(1) {
		t.Fatalf("extra %+v", id.AuthExtra)
	}

	t.Run("wrong ticket", func(t *testing.T) {
		for _, c := range []struct{ authid, ticket string }{{"joe", "s3cret "}, {"joe", "S3cret"}, {"ann", "ticket-xy"}, {"bot", "x"}} {
			_, err := a.Authenticate(ctxT(t), hello(c.authid, nil), answer(c.ticket))
			wantRefused(t, err, ErrAuthenticationFailed, c.ticket)
		}
	})
	t.Run("unknown principal is challenged too", func(t *testing.T) {
		for _, authid := range []string{"nobody", "kim"} { // kim has no ticket
			rec := &recorder{client: answer("s3cret")}
			_, err := a.Authenticate(ctxT(t), hello(authid, nil), rec)
			wantRefused(t, err, ErrNoSuchPrincipal, "s3cret")
			if len(rec.challenges) != 1 {
				t.Fatal("unknown authid was not challenged: the flow would reveal it")
			}
			if reason, msg := Refusal(err); reason != spec.ErrAuthenticationFailed || msg != "authentication failed" {
				t.Fatalf("Refusal = %s %q", reason, msg)
			}
		}
	})
	t.Run("missing authid", func(t *testing.T) {
		_, err := a.Authenticate(ctxT(t), hello("", nil), noChallenge(t))
		wantRefused(t, err, ErrAuthenticationFailed)
	})
	t.Run("empty ticket", func(t *testing.T) {
		_, err := a.Authenticate(ctxT(t), hello("joe", nil), answer(""))
		wantRefused(t, err, ErrAuthenticationFailed)
	})
	t.Run("timeout", func(t *testing.T) {
		_, err := a.Authenticate(shortCtx(t), hello("joe", nil), blocking())
		wantTimeout(t, err)
	})
	t.Run("client gone", func(t *testing.T) {
		gone := errors.New("transport closed")
		_, err := a.Authenticate(ctxT(t), hello("joe", nil), challengerFunc(func(context.Context, string, spec.Dict) (*spec.Authenticate, error) {
			return nil, gone
		}))
		if !errors.Is(err, gone) || errors.Is(err, ErrAuthenticationFailed) {
			t.Fatalf("err %v", err)
		}
		if _, err := a.Authenticate(ctxT(t), hello("joe", nil), nil); err == nil {
			t.Fatal("nil challenger accepted")
		}
	})
}

func TestTicketHashes(t *testing.T) {
	h := HashTicket("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("HashTicket = %q", h)
	}
	if h == HashTicket("correct horse") {
		t.Fatal("HashTicket is not salted")
	}
	s, err := ParseTicketHash(h)
	if err != nil {
		t.Fatal(err)
	}
	for ticket, want := range map[string]bool{"correct horse": true, "correct hors": false, "": false} {
		if got, err := s.Verify(ctxT(t), ticket); err != nil || got != want {
			t.Fatalf("Verify(%q) = %v, %v", ticket, got, err)
		}
	}
	if !s.Hashed() || PlainTicket("x").Hashed() {
		t.Fatal("Hashed")
	}
	bad := []string{
		"plain", "$md5$abc$def", "$sha256$", "$sha256$!!!$AAAA", "$sha256$MDEyMzQ1Njc4OQ$AAAA",
		"$argon2id$v=16$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$QaXE+ODcItBTkyY+jtIou8ziD6LduaSiTf6yDEkafc8",
		"$argon2id$v=19$m=64,t=1$MDEyMzQ1Njc4OWFiY2RlZg$QaXE+ODcItBTkyY+jtIou8ziD6LduaSiTf6yDEkafc8",
		"$argon2id$v=19$m=64,t=1,p=1,k=2$MDEyMzQ1Njc4OWFiY2RlZg$QaXE+ODcItBTkyY+jtIou8ziD6LduaSiTf6yDEkafc8",
		"$argon2id$v=19$m=99999999,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$QaXE+ODcItBTkyY+jtIou8ziD6LduaSiTf6yDEkafc8",
		"$argon2id$v=19$m=64,t=0,p=1$MDEyMzQ1Njc4OWFiY2RlZg$QaXE+ODcItBTkyY+jtIou8ziD6LduaSiTf6yDEkafc8",
		"$argon2id$v=19$m=64,t=x,p=1$MDEyMzQ1Njc4OWFiY2RlZg$QaXE+ODcItBTkyY+jtIou8ziD6LduaSiTf6yDEkafc8",
		"$argon2id$v=19$m=64,t=1,p=1$MDEy$QaXE+ODcItBTkyY+jtIou8ziD6LduaSiTf6yDEkafc8",
		"$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$QaXE",
		"$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg",
	}
	for _, b := range bad {
		if _, err := ParseTicketHash(b); err == nil {
			t.Errorf("ParseTicketHash(%q) accepted", b)
		}
	}
	// A slot for the KDF is waited for with the context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range cap(kdfSlots) {
		kdfSlots <- struct{}{}
	}
	_, err = s.Verify(ctx, "correct horse")
	for range cap(kdfSlots) {
		<-kdfSlots
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify with all slots busy and ctx canceled: %v", err)
	}
}
