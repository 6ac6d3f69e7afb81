package auth

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// craSign is the client side of WAMP-CRA: base64(HMAC-SHA256(key, challenge)).
func craSign(key, challenge string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(challenge))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// craClient answers WAMP-CRA challenges with secret, deriving the salted
// key from the CHALLENGE's parameters when present.
func craClient(t *testing.T, secret string) challengerFunc {
	return func(_ context.Context, method string, extra spec.Dict) (*spec.Authenticate, error) {
		if method != "wampcra" {
			t.Errorf("method %q", method)
		}
		key := secret
		if salt, ok := extra["salt"].(string); ok {
			iter, _ := extra["iterations"].(int64)
			keylen, _ := extra["keylen"].(int64)
			k, err := pbkdf2.Key(sha256.New, secret, []byte(salt), int(iter), int(keylen))
			if err != nil {
				return nil, err
			}
			key = base64.StdEncoding.EncodeToString(k)
		}
		return &spec.Authenticate{Signature: craSign(key, extra["challenge"].(string)), Extra: spec.Dict{}}, nil
	}
}

func TestWampcraVectors(t *testing.T) {
	if got := DeriveWampcraKey("L3L1YUE8Txlw", "salt123", 1000, 32); got != abDeriveKey {
		t.Fatalf("DeriveWampcraKey = %s, want %s", got, abDeriveKey)
	}
	if got := DeriveWampcraKey("secret1", "salt123", 100, 32); got != abCraSaltedKey {
		t.Fatalf("DeriveWampcraKey = %s, want %s", got, abCraSaltedKey)
	}
	if got := craSign("L3L1YUE8Txlw", "[1, 2, 3]"); got != "1njQtmmeYO41N5EWEzD2kAjjEKRZ5kPZt/TzpYXOzR0=" {
		t.Fatalf("test client HMAC = %s", got)
	}
	if got := craSign("secret1", abCraChallenge); got != abCraPlainSig {
		t.Fatalf("test client signature = %s, autobahn's %s", got, abCraPlainSig)
	}
	// The router side accepts autobahn's own signatures.
	if err := verifyWampcra([]byte("secret1"), []byte(abCraChallenge), abCraPlainSig); err != nil {
		t.Fatal(err)
	}
	s, err := SaltedWampCRA("secret1", "salt123", 100, 32)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyWampcra(s.key, []byte(abCraChallenge), abCraSaltedSig); err != nil {
		t.Fatal(err)
	}
	d, err := DerivedWampCRA(abCraSaltedKey, "salt123", 100, 32)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyWampcra(d.key, []byte(abCraChallenge), abCraSaltedSig); err != nil {
		t.Fatal(err)
	}
	if err := verifyWampcra([]byte("secret2"), []byte(abCraChallenge), abCraPlainSig); err == nil {
		t.Fatal("wrong key accepted")
	}
	for _, bad := range [][3]int{{0, 32}, {1000, 0}, {1000, 5000}} {
		if DeriveWampcraKey("x", "y", bad[0], bad[1]) != "" {
			t.Fatalf("DeriveWampcraKey(%v) did not refuse", bad)
		}
	}
	if _, err := DerivedWampCRA(abCraSaltedKey, "salt123", 100, 16); err == nil {
		t.Fatal("key length mismatch accepted")
	}
	if _, err := DerivedWampCRA("not base64!", "salt123", 100, 32); err == nil {
		t.Fatal("bad base64 accepted")
	}
	if _, err := SaltedWampCRA("x", "", 100, 32); err == nil {
		t.Fatal("empty salt accepted")
	}
}

func TestWampcra(t *testing.T) {
	salted, _ := SaltedWampCRA("pass-salted", "pepper", 50, 32)
	derived, _ := DerivedWampCRA(DeriveWampcraKey("pass-derived", "s4lt", 60, 24), "s4lt", 60, 24)
	ps := mustPrincipals(t,
		Principal{AuthID: "joe", Role: "user", WampCRA: PlainWampCRA("secret1")},
		Principal{AuthID: "sal", Role: "user", WampCRA: salted},
		Principal{AuthID: "der", Role: "admin", WampCRA: derived},
		Principal{AuthID: "tic", Role: "user", Ticket: PlainTicket("t")},
	)
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.FixedZone("X", 3600))
	a := NewWampCRAAuthenticator(WampCRAOptions{Principals: ps, Now: func() time.Time { return now }})

	for _, c := range []struct{ authid, secret, role string }{{"joe", "secret1", "user"}, {"sal", "pass-salted", "user"}, {"der", "pass-derived", "admin"}} {
		rec := &recorder{client: craClient(t, c.secret)}
		id, err := a.Authenticate(ctxT(t), hello(c.authid, nil), rec)
		if err != nil {
			t.Fatalf("%s: %v", c.authid, err)
		}
		if id.AuthID != c.authid || id.AuthRole != c.role || id.AuthMethod != "wampcra" || id.AuthProvider != "static" {
			t.Fatalf("identity %+v", id)
		}
		extra := rec.challenges[0].extra
		var ch map[string]any
		if err := json.Unmarshal([]byte(extra["challenge"].(string)), &ch); err != nil {
			t.Fatal(err)
		}
		if ch["authid"] != c.authid || ch["authrole"] != c.role || ch["authmethod"] != "wampcra" || ch["authprovider"] != "static" ||
			ch["session"] != float64(4242) || ch["timestamp"] != "2026-07-01T11:00:00.000Z" || len(ch["nonce"].(string)) < 32 {
			t.Fatalf("challenge %v", ch)
		}
		_, hasSalt := extra["salt"]
		if hasSalt != (c.authid != "joe") {
			t.Fatalf("%s: extra %v", c.authid, extra)
		}
		if c.authid == "der" && (extra["salt"] != "s4lt" || extra["iterations"] != int64(60) || extra["keylen"] != int64(24)) {
			t.Fatalf("extra %v", extra)
		}
	}

	t.Run("nonces differ", func(t *testing.T) {
		r1, r2 := &recorder{client: craClient(t, "secret1")}, &recorder{client: craClient(t, "secret1")}
		a.Authenticate(ctxT(t), hello("joe", nil), r1)
		a.Authenticate(ctxT(t), hello("joe", nil), r2)
		if r1.challenges[0].extra["challenge"] == r2.challenges[0].extra["challenge"] {
			t.Fatal("two challenges are equal")
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		for authid, secret := range map[string]string{"joe": "secret2", "sal": "pass-derived", "der": "pass-salted"} {
			_, err := a.Authenticate(ctxT(t), hello(authid, nil), craClient(t, secret))
			wantRefused(t, err, ErrAuthenticationFailed, secret)
		}
	})
	t.Run("salted principal signing with the unsalted secret", func(t *testing.T) {
		_, err := a.Authenticate(ctxT(t), hello("sal", nil), challengerFunc(func(_ context.Context, _ string, extra spec.Dict) (*spec.Authenticate, error) {
			return &spec.Authenticate{Signature: craSign("pass-salted", extra["challenge"].(string))}, nil
		}))
		wantRefused(t, err, ErrAuthenticationFailed)
	})
	t.Run("unknown principal", func(t *testing.T) {
		for _, authid := range []string{"nobody", "tic"} {
			_, err := a.Authenticate(ctxT(t), hello(authid, nil), noChallenge(t))
			wantRefused(t, err, ErrNoSuchPrincipal)
		}
	})
	t.Run("missing authid", func(t *testing.T) {
		_, err := a.Authenticate(ctxT(t), hello("", nil), noChallenge(t))
		wantRefused(t, err, ErrAuthenticationFailed)
	})
	t.Run("malformed signature", func(t *testing.T) {
		short := base64.StdEncoding.EncodeToString(make([]byte, 31))
		long := base64.StdEncoding.EncodeToString(make([]byte, 33))
		for _, sig := range []string{"", "not base64 !!", short, long, "%%%%", string(make([]byte, 4096))} {
			_, err := a.Authenticate(ctxT(t), hello("joe", nil), answer(sig))
			wantRefused(t, err, ErrAuthenticationFailed)
		}
	})
	t.Run("unpadded signature accepted", func(t *testing.T) {
		_, err := a.Authenticate(ctxT(t), hello("joe", nil), challengerFunc(func(ctx context.Context, m string, extra spec.Dict) (*spec.Authenticate, error) {
			r, _ := craClient(t, "secret1")(ctx, m, extra)
			r.Signature = r.Signature[:len(r.Signature)-1]
			return r, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("replay", func(t *testing.T) {
		rec := &recorder{client: craClient(t, "secret1")}
		var captured string
		rec.client = func(ctx context.Context, m string, extra spec.Dict) (*spec.Authenticate, error) {
			r, err := craClient(t, "secret1")(ctx, m, extra)
			captured = r.Signature
			return r, err
		}
		if _, err := a.Authenticate(ctxT(t), hello("joe", nil), rec); err != nil {
			t.Fatal(err)
		}
		_, err := a.Authenticate(ctxT(t), hello("joe", nil), answer(captured))
		wantRefused(t, err, ErrAuthenticationFailed)
	})
	t.Run("timeout", func(t *testing.T) {
		_, err := a.Authenticate(shortCtx(t), hello("joe", nil), blocking())
		wantTimeout(t, err)
	})
}
