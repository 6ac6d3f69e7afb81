package client

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/spec"
)

// Ticket answers a "ticket" CHALLENGE with the ticket. Send tickets over
// TLS only: the router sees them in clear text.
func Ticket(ticket string) func(context.Context, *spec.Challenge) (*spec.Authenticate, error) {
	return func(_ context.Context, ch *spec.Challenge) (*spec.Authenticate, error) {
		if ch.AuthMethod != "ticket" {
			return nil, fmt.Errorf("client: ticket auth cannot answer a %q challenge", ch.AuthMethod)
		}
		return &spec.Authenticate{Signature: ticket, Extra: spec.Dict{}}, nil
	}
}

// WampCRA answers a "wampcra" CHALLENGE: the HMAC-SHA256 of the challenge
// keyed with the secret or, when the router sends salt parameters, with the
// base64 text of the PBKDF2-derived key (as autobahn does).
func WampCRA(secret string) func(context.Context, *spec.Challenge) (*spec.Authenticate, error) {
	return func(_ context.Context, ch *spec.Challenge) (*spec.Authenticate, error) {
		if ch.AuthMethod != "wampcra" {
			return nil, fmt.Errorf("client: wampcra auth cannot answer a %q challenge", ch.AuthMethod)
		}
		challenge, _ := ch.Extra["challenge"].(string)
		key := []byte(secret)
		if salt, ok := ch.Extra["salt"].(string); ok {
			iterations, _ := spec.AsInt(ch.Extra["iterations"])
			keylen, _ := spec.AsInt(ch.Extra["keylen"])
			if iterations <= 0 {
				iterations = 1000
			}
			if keylen <= 0 {
				keylen = 32
			}
			derived, err := pbkdf2.Key(sha256.New, secret, []byte(salt), int(iterations), int(keylen))
			if err != nil {
				return nil, fmt.Errorf("client: wampcra key derivation: %w", err)
			}
			key = []byte(base64.StdEncoding.EncodeToString(derived))
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(challenge))
		return &spec.Authenticate{Signature: base64.StdEncoding.EncodeToString(mac.Sum(nil)), Extra: spec.Dict{}}, nil
	}
}

// Cryptosign answers a "cryptosign" CHALLENGE by signing it with key. Put
// the public key in Config.AuthExtra["pubkey"] (hex); CryptosignExtra does.
func Cryptosign(key ed25519.PrivateKey) func(context.Context, *spec.Challenge) (*spec.Authenticate, error) {
	return func(_ context.Context, ch *spec.Challenge) (*spec.Authenticate, error) {
		if ch.AuthMethod != "cryptosign" {
			return nil, fmt.Errorf("client: cryptosign auth cannot answer a %q challenge", ch.AuthMethod)
		}
		hexChallenge, _ := ch.Extra["challenge"].(string)
		challenge, err := hex.DecodeString(hexChallenge)
		if err != nil || len(challenge) != 32 {
			return nil, errors.New("client: cryptosign challenge is not 32 bytes of hex")
		}
		sig := ed25519.Sign(key, challenge)
		return &spec.Authenticate{Signature: hex.EncodeToString(append(sig, challenge...)), Extra: spec.Dict{}}, nil
	}
}

// CryptosignExtra is the HELLO authextra announcing key's public half.
func CryptosignExtra(key ed25519.PrivateKey) spec.Dict {
	return spec.Dict{"pubkey": hex.EncodeToString(key.Public().(ed25519.PublicKey))}
}
