package auth

import (
	"context"
	"crypto/ed25519"
	"os"
	"testing"

	"github.com/switchyard/switchyard/spec"
)

// Native fuzz tests: no input may panic the config parser or the parsers of
// AUTHENTICATE signatures, and no random answer may be admitted.

func FuzzParseConfig(f *testing.F) {
	if b, err := os.ReadFile("testdata/example.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(base))
	f.Add([]byte(base + "    principals:\n      - {authid: joe, role: anon, ticket: x, extra: {a: [1, 2.5, !!binary aGk=, null]}}\n"))
	f.Add([]byte("a: &a [x]\nb: *a\nrealms: *a\n"))
	f.Add([]byte("realms:\n  - name: r\n    x: @foo\n"))
	f.Add([]byte("- - - [{]}\n"))
	caller := CallerFunc(func(context.Context, spec.URI, spec.List, spec.Dict) (spec.List, spec.Dict, error) {
		return spec.List{false}, nil, nil
	})
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := ParseConfig(doc, "fuzz.yaml")
		if err != nil {
			if c != nil {
				t.Fatal("config and error")
			}
			return
		}
		for _, r := range c.Realms {
			if _, err := c.Authorizer(r.Name, BuildOptions{Caller: caller}); err != nil {
				t.Fatalf("valid config, authorizer fails: %v", err)
			}
			if _, err := c.Authenticators(r.Name, "", BuildOptions{Caller: caller}); err != nil {
				t.Fatalf("valid config, authenticators fail: %v", err)
			}
		}
	})
}

func FuzzTicketHash(f *testing.F) {
	f.Add(abArgon2PHC, "ticket-xyz")
	f.Add(fastHash("x"), "x")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "")
	f.Add("$sha256$$", "")
	f.Fuzz(func(t *testing.T, hash, ticket string) {
		s, err := ParseTicketHash(hash)
		if err != nil || s.kind == ticketArgon2id && (s.memory > 1024 || s.time > 4) {
			return // keep the fuzzer fast
		}
		if _, err := s.Verify(context.Background(), ticket); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzWampcraSignature(f *testing.F) {
	f.Add(abCraPlainSig)
	f.Add("")
	f.Add("====")
	f.Add("AAAA\n")
	a := NewWampCRAAuthenticator(WampCRAOptions{Principals: mustPrincipals(&testing.T{}, Principal{AuthID: "joe", Role: "r", WampCRA: PlainWampCRA("secret1")})})
	f.Fuzz(func(t *testing.T, sig string) {
		parseWampcraSignature(sig)
		if _, err := a.Authenticate(context.Background(), hello("joe", nil), answer(sig)); err == nil {
			t.Fatalf("random signature %q admitted", sig)
		}
	})
}

func FuzzCryptosignSignature(f *testing.F) {
	k := ed25519.NewKeyFromSeed(make([]byte, 32))
	pub := pubHex(k)
	f.Add(abCsSigNoCB, pub, "")
	f.Add(abCsSigCB[:128], pub, "tls-unique")
	f.Add("", "", "x")
	f.Add("zz", pub[:10], "tls-exporter")
	a := NewCryptosignAuthenticator(CryptosignOptions{Principals: mustPrincipals(&testing.T{}, Principal{AuthID: "a", Role: "r", Cryptosign: []ed25519.PublicKey{k.Public().(ed25519.PublicKey)}})})
	f.Fuzz(func(t *testing.T, sig, pubkey, binding string) {
		parseCryptosignSignature(sig)
		ex := spec.Dict{"pubkey": pubkey}
		if binding != "" {
			ex["channel_binding"] = binding
		}
		if _, err := a.Authenticate(context.Background(), hello("", ex), answer(sig)); err == nil {
			t.Fatalf("random signature %q admitted", sig)
		}
	})
}

func FuzzScramProof(f *testing.F) {
	cred, err := DeriveScramCredential("pw", ScramParams{KDF: KDFPBKDF2, Iterations: 1, Salt: []byte("saltsalt")})
	if err != nil {
		f.Fatal(err)
	}
	ps := mustPrincipals(&testing.T{}, Principal{AuthID: "u", Role: "r", Scram: cred})
	ab, _ := NewScramAuthenticator(ScramOptions{Principals: ps})
	sp, _ := NewScramAuthenticator(ScramOptions{Principals: ps, Method: MethodWampScram})
	f.Add(abScramArgonProof, "u", abScramClientNonce, "", "", true)
	f.Add("", "", "", "tls-unique", "AAAA", false)
	f.Add("=", "u\u0000", "AAAAAAAAAAAAAAAAAAAAAA==", "x", "!", true)
	f.Fuzz(func(t *testing.T, proof, authid, nonce, binding, cbind string, keepNonce bool) {
		parseScramProof(proof)
		for _, a := range []*Scram{ab, sp} {
			ex := spec.Dict{"nonce": nonce}
			if binding != "" {
				ex["channel_binding"] = binding
			}
			_, err := a.Authenticate(context.Background(), hello(authid, ex), challengerFunc(func(_ context.Context, _ string, extra spec.Dict) (*spec.Authenticate, error) {
				fin := spec.Dict{"channel_binding": binding, "cbind_data": cbind}
				if keepNonce {
					fin["nonce"] = extra["nonce"]
				}
				return &spec.Authenticate{Signature: proof, Extra: fin}, nil
			}))
			if err == nil {
				t.Fatalf("random proof %q admitted", proof)
			}
		}
	})
}
