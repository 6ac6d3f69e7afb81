package client

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/leakcheck"
	"github.com/switchyard/switchyard/spec"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestConnectRefusesBadURLsAndSerializers(t *testing.T) {
	ctx := context.Background()
	if _, err := Connect(ctx, "ftp://127.0.0.1:1", Config{}); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Fatalf("unknown scheme: %v", err)
	}
	if _, err := Connect(ctx, "ws://127.0.0.1:1/", Config{Serializer: "xml"}); err == nil || !strings.Contains(err.Error(), "serializer") {
		t.Fatalf("unknown serializer: %v", err)
	}
	if _, err := Connect(ctx, "rs://127.0.0.1:1", Config{}); err == nil {
		t.Fatal("connected to a closed port")
	}
}

// The vectors are autobahn-python's (test_wamp_auth.py), as WAMP-NOTES
// records them.
func TestWampCRAMatchesAutobahn(t *testing.T) {
	plain := WampCRA("L3L1YUE8Txlw")
	a, err := plain(context.Background(), &spec.Challenge{AuthMethod: "wampcra", Extra: spec.Dict{"challenge": "[1, 2, 3]"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Signature != "1njQtmmeYO41N5EWEzD2kAjjEKRZ5kPZt/TzpYXOzR0=" {
		t.Fatalf("signature %s", a.Signature)
	}
	salted := WampCRA("L3L1YUE8Txlw")
	a, err = salted(context.Background(), &spec.Challenge{AuthMethod: "wampcra", Extra: spec.Dict{
		"challenge": "x", "salt": "salt123", "iterations": int64(1000), "keylen": int64(32),
	}})
	if err != nil {
		t.Fatal(err)
	}
	// The derived key's base64 text is the HMAC key.
	mac := hmac.New(sha256.New, []byte("qzcdsr9uu/L5hnss3kjNTRe490ETgA70ZBaB5rvnJ5Y="))
	mac.Write([]byte("x"))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); a.Signature != want {
		t.Fatalf("salted signature %s, want %s", a.Signature, want)
	}
	if _, err := plain(context.Background(), &spec.Challenge{AuthMethod: "ticket"}); err == nil {
		t.Fatal("wampcra answered a ticket challenge")
	}
}

func TestCryptosignSignsTheChallenge(t *testing.T) {
	seed, _ := hex.DecodeString("4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510")
	key := ed25519.NewKeyFromSeed(seed)
	challenge := strings.Repeat("ff", 32)
	a, err := Cryptosign(key)(context.Background(), &spec.Challenge{AuthMethod: "cryptosign", Extra: spec.Dict{"challenge": challenge}})
	if err != nil {
		t.Fatal(err)
	}
	// The spec's first test vector.
	if !strings.HasPrefix(a.Signature, "b32675b221f08593") || !strings.HasSuffix(a.Signature, challenge) || len(a.Signature) != 192 {
		t.Fatalf("signature %s", a.Signature)
	}
	if _, err := Cryptosign(key)(context.Background(), &spec.Challenge{AuthMethod: "cryptosign", Extra: spec.Dict{"challenge": "zz"}}); err == nil {
		t.Fatal("signed a malformed challenge")
	}
	if CryptosignExtra(key)["pubkey"] != hex.EncodeToString(key.Public().(ed25519.PublicKey)) {
		t.Fatal("CryptosignExtra")
	}
}
