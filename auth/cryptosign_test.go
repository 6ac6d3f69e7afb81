package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/spec"
)

// csSign is the client side of WAMP-Cryptosign: hex(Ed25519(challenge XOR
// channel ID) ‖ the signed message).
func csSign(priv ed25519.PrivateKey, challengeHex string, channelID []byte) (string, error) {
	msg, err := hex.DecodeString(challengeHex)
	if err != nil {
		return "", err
	}
	for i := range channelID {
		msg[i] ^= channelID[i]
	}
	return hex.EncodeToString(ed25519.Sign(priv, msg)) + hex.EncodeToString(msg), nil
}

func csKey(t *testing.T, seedHex string) ed25519.PrivateKey {
	seed, err := hex.DecodeString(seedHex)
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func pubHex(k ed25519.PrivateKey) string { return hex.EncodeToString(k.Public().(ed25519.PublicKey)) }

// csClient answers cryptosign challenges; channel, if set, returns the
// channel ID the client sees on its side of the connection.
func csClient(t *testing.T, priv ed25519.PrivateKey, channelID func() []byte) challengerFunc {
	return func(_ context.Context, method string, extra spec.Dict) (*spec.Authenticate, error) {
		if method != "cryptosign" {
			t.Errorf("method %q", method)
		}
		var id []byte
		if channelID != nil {
			id = channelID()
		}
		sig, err := csSign(priv, extra["challenge"].(string), id)
		return &spec.Authenticate{Signature: sig, Extra: spec.Dict{}}, err
	}
}

func TestCryptosignSpecVectors(t *testing.T) {
	// The six vectors of the spec (rfc/text/advanced/authentication_cryptosign.md);
	// 1 and 4 are also what autobahn-python computes (vectors_test.go).
	vectors := []struct{ channelID, priv, challenge, signature string }{
		{"", abCsSeed, abCsChallenge, abCsSigNoCB},
		{"", "d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd", "b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d", "d4209ad10d5aff6bfbc009d7e924795de138a63515efc7afc6b01b7fe5201372190374886a70207b042294af5bd64ce725cd8dceb344e6d11c09d1aaaf4d660fb26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d"},
		{"", "6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b", "b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2", "7beb282184baadd08f166f16dd683b39cab53816ed81e6955def951cb2ddad1ec184e206746fd82bda075af03711d3d5658fc84a76196b0fa8d1ebc92ef9f30bb05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2"},
		{abCsChannelID, abCsSeed, abCsChallenge, abCsSigCB},
		{abCsChannelID, "d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd", "b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d", "305aaa3ac25e98f651427688b3fc43fe7d8a68a7ec1d7d61c61517c519bd4a427c3015599d83ca28b4c652333920223844ef0725eb5dc2febfd6af7677b73f01d0852a29b460fc92ec943242ac638a053bbacc200512b18b30d15083cbdc9282"},
		{abCsChannelID, "6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b", "b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2", "ee3c7644fd8070532bc1fde3d70d742267da545d8c8f03e63bda63f1ad4214f4d2c4bfdb4eb9526def42deeb7e31602a6ff99eba893e0a4ad4d45892ca75e608d2b75e24a189a7f78ca776ba36fc53f6c3e31c32f251f2c524f0a44202f2902d"},
	}
	for i, v := range vectors {
		priv := csKey(t, v.priv)
		id, _ := hex.DecodeString(v.channelID)
		got, err := csSign(priv, v.challenge, id)
		if err != nil || got != v.signature {
			t.Fatalf("vector %d: test client signed %s, want %s (%v)", i+1, got, v.signature, err)
		}
		// Router side, with the vector's challenge.
		if v.channelID == "" {
			chal, _ := hex.DecodeString(v.challenge)
			restore := cryptosignChallenge
			cryptosignChallenge = func() []byte { return chal }
			a := NewCryptosignAuthenticator(CryptosignOptions{Principals: mustPrincipals(t, Principal{AuthID: "v", Role: "r", Cryptosign: []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}})})
			_, err := a.Authenticate(ctxT(t), hello("", spec.Dict{"pubkey": pubHex(priv)}), answer(v.signature))
			cryptosignChallenge = restore
			if err != nil {
				t.Fatalf("vector %d: router refused the spec's signature: %v", i+1, err)
			}
		}
	}
	if pubHex(csKey(t, abCsSeed)) != abCsPub {
		t.Fatal("public key differs from autobahn's")
	}
	// autobahn's tls-unique channel ID: SHA-256 of the Finished message.
	finished, _ := hex.DecodeString(abTLSFinished)
	id, err := CryptosignChannelID(&tls.ConnectionState{TLSUnique: finished}, ChannelBindingTLSUnique)
	if err != nil || hex.EncodeToString(id) != abTLSChannelID {
		t.Fatalf("channel ID %x, %v; want %s", id, err, abTLSChannelID)
	}
}

func TestCryptosign(t *testing.T) {
	alice, bob, eve := csKey(t, abCsSeed), csKey(t, strings.Repeat("11", 32)), csKey(t, strings.Repeat("22", 32))
	alice2 := csKey(t, strings.Repeat("33", 32))
	ps := mustPrincipals(t,
		Principal{AuthID: "alice", Role: "user", Cryptosign: []ed25519.PublicKey{alice.Public().(ed25519.PublicKey), alice2.Public().(ed25519.PublicKey)}},
		Principal{AuthID: "bob", Role: "device", Cryptosign: []ed25519.PublicKey{bob.Public().(ed25519.PublicKey)}},
	)
	a := NewCryptosignAuthenticator(CryptosignOptions{Principals: ps})
	ok := []struct {
		authid string
		key    ed25519.PrivateKey
		want   string
	}{{"", alice, "alice"}, {"alice", alice, "alice"}, {"", alice2, "alice"}, {"bob", bob, "bob"}}
	for _, c := range ok {
		rec := &recorder{client: csClient(t, c.key, nil)}
		id, err := a.Authenticate(ctxT(t), hello(c.authid, spec.Dict{"pubkey": pubHex(c.key)}), rec)
		if err != nil {
			t.Fatal(err)
		}
		if id.AuthID != c.want || id.AuthMethod != "cryptosign" || id.AuthProvider != "static" {
			t.Fatalf("identity %+v", id)
		}
		ex := rec.challenges[0].extra
		if v, ok := ex["channel_binding"]; !ok || v != nil || len(ex["challenge"].(string)) != 64 {
			t.Fatalf("challenge extra %v", ex)
		}
	}
	t.Run("upper-case hex and signature-only answers", func(t *testing.T) {
		_, err := a.Authenticate(ctxT(t), hello("", spec.Dict{"pubkey": pubHex(bob)}), challengerFunc(func(ctx context.Context, m string, extra spec.Dict) (*spec.Authenticate, error) {
			r, err := csClient(t, bob, nil)(ctx, m, extra)
			r.Signature = strings.ToUpper(r.Signature[:128])
			return r, err
		}))
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		_, err := a.Authenticate(ctxT(t), hello("", spec.Dict{"pubkey": pubHex(eve)}), noChallenge(t))
		wantRefused(t, err, ErrNoSuchPrincipal)
	})
	t.Run("key of another principal", func(t *testing.T) {
		_, err := a.Authenticate(ctxT(t), hello("bob", spec.Dict{"pubkey": pubHex(alice)}), noChallenge(t))
		wantRefused(t, err, ErrAuthenticationFailed)
	})
	t.Run("bad pubkey", func(t *testing.T) {
		for _, ex := range []spec.Dict{nil, {}, {"pubkey": 12}, {"pubkey": "zz" + pubHex(alice)[2:]}, {"pubkey": pubHex(alice)[2:]}} {
			_, err := a.Authenticate(ctxT(t), hello("alice", ex), noChallenge(t))
			wantRefused(t, err, ErrAuthenticationFailed)
		}
	})
	t.Run("wrong private key", func(t *testing.T) {
		_, err := a.Authenticate(ctxT(t), hello("", spec.Dict{"pubkey": pubHex(alice)}), csClient(t, eve, nil))
		wantRefused(t, err, ErrAuthenticationFailed)
	})
	t.Run("malformed signature", func(t *testing.T) {
		good, _ := csSign(alice, strings.Repeat("00", 32), nil)
		for _, sig := range []string{"", "xyz", strings.Repeat("g", 192), good[:190], good + "00", strings.Repeat("0", 192)} {
			_, err := a.Authenticate(ctxT(t), hello("", spec.Dict{"pubkey": pubHex(alice)}), answer(sig))
			wantRefused(t, err, ErrAuthenticationFailed)
		}
	})
	t.Run("replay", func(t *testing.T) {
		var captured string
		_, err := a.Authenticate(ctxT(t), hello("", spec.Dict{"pubkey": pubHex(alice)}), challengerFunc(func(ctx context.Context, m string, extra spec.Dict) (*spec.Authenticate, error) {
			r, err := csClient(t, alice, nil)(ctx, m, extra)
			captured = r.Signature
			return r, err
		}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Authenticate(ctxT(t), hello("", spec.Dict{"pubkey": pubHex(alice)}), answer(captured))
		wantRefused(t, err, ErrAuthenticationFailed)
		// The signature alone, verified against the new challenge, fails too.
		_, err = a.Authenticate(ctxT(t), hello("", spec.Dict{"pubkey": pubHex(alice)}), answer(captured[:128]))
		wantRefused(t, err, ErrAuthenticationFailed)
	})
	t.Run("timeout", func(t *testing.T) {
		_, err := a.Authenticate(shortCtx(t), hello("", spec.Dict{"pubkey": pubHex(alice)}), blocking())
		wantTimeout(t, err)
	})
}

func TestCryptosignChannelBinding(t *testing.T) {
	alice := csKey(t, abCsSeed)
	a := NewCryptosignAuthenticator(CryptosignOptions{Principals: mustPrincipals(t,
		Principal{AuthID: "alice", Role: "user", Cryptosign: []ed25519.PublicKey{alice.Public().(ed25519.PublicKey)}})})
	req := func(binding string, state *tls.ConnectionState) *Request {
		r := hello("", spec.Dict{"pubkey": pubHex(alice), "channel_binding": binding})
		r.TLS = state
		return r
	}
	for _, c := range []struct {
		binding string
		version uint16
	}{{ChannelBindingTLSUnique, tls.VersionTLS12}, {ChannelBindingTLSExporter, tls.VersionTLS13}, {ChannelBindingTLSExporter, tls.VersionTLS12}} {
		srv, cli := tlsPair(t, c.version, nil)
		_, other := tlsPair(t, c.version, nil)
		clientID := func(state tls.ConnectionState) func() []byte {
			return func() []byte {
				id, err := CryptosignChannelID(&state, c.binding)
				if err != nil {
					t.Fatal(err)
				}
				return id
			}
		}
		rec := &recorder{client: csClient(t, alice, clientID(cli))}
		if _, err := a.Authenticate(ctxT(t), req(c.binding, &srv), rec); err != nil {
			t.Fatalf("%s: %v", c.binding, err)
		}
		if rec.challenges[0].extra["channel_binding"] != c.binding {
			t.Fatalf("challenge %v", rec.challenges[0].extra)
		}
		// Signed for another connection (a relayed answer): refused.
		_, err := a.Authenticate(ctxT(t), req(c.binding, &srv), csClient(t, alice, clientID(other)))
		wantRefused(t, err, ErrAuthenticationFailed)
		// Signed without binding although the client asked for it: refused.
		_, err = a.Authenticate(ctxT(t), req(c.binding, &srv), csClient(t, alice, nil))
		wantRefused(t, err, ErrAuthenticationFailed)
	}
	t.Run("unavailable binding is refused up front", func(t *testing.T) {
		srv13, _ := tlsPair(t, tls.VersionTLS13, nil)
		for _, r := range []*Request{
			req(ChannelBindingTLSUnique, nil),    // plain connection
			req(ChannelBindingTLSUnique, &srv13), // no tls-unique in TLS 1.3
			req("tls-server-end-point", &srv13),  // unsupported type
			req("", &srv13),                      // not a type
		} {
			_, err := a.Authenticate(ctxT(t), r, noChallenge(t))
			wantRefused(t, err, ErrAuthenticationFailed)
		}
		r := hello("", spec.Dict{"pubkey": pubHex(alice), "channel_binding": true})
		_, err := a.Authenticate(ctxT(t), r, noChallenge(t))
		wantRefused(t, err, ErrAuthenticationFailed)
	})
}

func TestGenerateCryptosignKey(t *testing.T) {
	pub, priv, err := GenerateCryptosignKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(pub) != 64 || len(priv) != 64 {
		t.Fatalf("pub %q priv %q", pub, priv)
	}
	k := csKey(t, priv)
	if pubHex(k) != pub {
		t.Fatal("public key does not match the seed")
	}
	pk, err := ParseCryptosignPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	a := NewCryptosignAuthenticator(CryptosignOptions{Principals: mustPrincipals(t, Principal{AuthID: "x", Role: "r", Cryptosign: []ed25519.PublicKey{pk}})})
	if _, err := a.Authenticate(ctxT(t), hello("", spec.Dict{"pubkey": pub}), csClient(t, k, nil)); err != nil {
		t.Fatal(err)
	}
	if p2, _, _ := GenerateCryptosignKey(); p2 == pub {
		t.Fatal("two keys are equal")
	}
}
