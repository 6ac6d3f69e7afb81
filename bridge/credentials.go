package bridge

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/auth"
)

// principal is whom an HTTP request acts for.
type principal struct {
	authID, authRole string
}

// errNoCredentials: the request carries neither a token nor a signature.
var errNoCredentials = errors.New("no credentials")

// tokenCache remembers which configured token a presented token matched,
// keyed by the presented token's SHA-256, so a slow (Argon2id) hash is
// computed once per token rather than once per request. Only successes are
// kept, and at most maxCachedTokens of them.
type tokenCache struct {
	mu sync.Mutex
	m  map[[32]byte]int
}

const maxCachedTokens = 4096

// bearer authenticates "Authorization: Bearer TOKEN" against tokens.
func (tc *tokenCache) bearer(ctx context.Context, r *http.Request, tokens []auth.HTTPToken) (principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return principal{}, errNoCredentials
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return principal{}, errors.New("the Authorization header is not a bearer token")
	}
	token = strings.TrimSpace(token)
	sum := sha256.Sum256([]byte(token))
	tc.mu.Lock()
	i, hit := tc.m[sum]
	tc.mu.Unlock()
	if hit {
		return principal{tokens[i].AuthID, tokens[i].AuthRole}, nil
	}
	for i, t := range tokens {
		ok, err := t.Secret.Verify(ctx, token)
		if err != nil {
			return principal{}, err
		}
		if ok {
			tc.mu.Lock()
			if tc.m == nil {
				tc.m = make(map[[32]byte]int)
			}
			if len(tc.m) < maxCachedTokens {
				tc.m[sum] = i
			}
			tc.mu.Unlock()
			return principal{t.AuthID, t.AuthRole}, nil
		}
	}
	return principal{}, errors.New("unknown bearer token")
}

// Signed requests, as Crossbar's HTTP bridge signs them: the query carries
// key, timestamp (RFC 3339 UTC, e.g. 2026-12-06T04:05:06.789Z), seq (an
// integer), nonce (an integer) and signature, the unpadded-or-padded URL-safe
// base64 of HMAC-SHA256(secret, key ‖ timestamp ‖ seq ‖ nonce ‖ body).
// A timestamp further than MaxSkew from the router's clock is stale; a
// nonce seen for the same key within that window is a replay.
const MaxSkew = 5 * time.Minute

// signedParams reports whether the request carries signature parameters.
func signedParams(q url.Values) bool {
	return q.Has("signature") || q.Has("key")
}

// Sign returns the signature of a request: a helper for clients and tests.
func Sign(secret, key, timestamp, seq, nonce string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(key))
	m.Write([]byte(timestamp))
	m.Write([]byte(seq))
	m.Write([]byte(nonce))
	m.Write(body)
	return base64.URLEncoding.EncodeToString(m.Sum(nil))
}

// nonceCache holds the nonces seen per key until their timestamp window
// passes. It is bounded: past maxNonces entries, signed requests are
// refused (429 at the caller) rather than memory growing without end.
type nonceCache struct {
	mu   sync.Mutex
	seen map[string]time.Time // key + "\x00" + nonce → expiry
}

const maxNonces = 1 << 16

var errNonceCacheFull = errors.New("too many signed requests in the replay window")

// use records nonce for key, or reports that it was seen already.
func (nc *nonceCache) use(key, nonce string, now time.Time) (fresh bool, err error) {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if nc.seen == nil {
		nc.seen = make(map[string]time.Time)
	}
	id := key + "\x00" + nonce
	if exp, ok := nc.seen[id]; ok && now.Before(exp) {
		return false, nil
	}
	if len(nc.seen) >= maxNonces {
		for k, exp := range nc.seen {
			if !now.Before(exp) {
				delete(nc.seen, k)
			}
		}
		if len(nc.seen) >= maxNonces {
			return false, errNonceCacheFull
		}
	}
	nc.seen[id] = now.Add(2 * MaxSkew)
	return true, nil
}

// verifySignature authenticates a signed request.
func verifySignature(q url.Values, body []byte, keys []auth.HTTPSignatureKey, nonces *nonceCache, now time.Time) (principal, error) {
	key, ts, seq, nonce, sig := q.Get("key"), q.Get("timestamp"), q.Get("seq"), q.Get("nonce"), q.Get("signature")
	if key == "" || ts == "" || seq == "" || nonce == "" || sig == "" {
		return principal{}, errors.New("a signed request needs key, timestamp, seq, nonce and signature")
	}
	var k *auth.HTTPSignatureKey
	for i := range keys {
		if keys[i].Key == key {
			k = &keys[i]
			break
		}
	}
	if k == nil {
		return principal{}, errors.New("unknown signature key")
	}
	got, err := base64.URLEncoding.DecodeString(padBase64(sig))
	if err != nil {
		return principal{}, errors.New("the signature is not URL-safe base64")
	}
	want, _ := base64.URLEncoding.DecodeString(Sign(k.Secret, key, ts, seq, nonce, body))
	if !hmac.Equal(got, want) {
		return principal{}, errors.New("wrong signature")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return principal{}, errors.New("the timestamp is not RFC 3339")
	}
	if d := now.Sub(t); d > MaxSkew || d < -MaxSkew {
		return principal{}, errors.New("stale timestamp")
	}
	fresh, err := nonces.use(key, nonce, now)
	if err != nil {
		return principal{}, err
	}
	if !fresh {
		return principal{}, errors.New("replayed nonce")
	}
	return principal{k.AuthID, k.AuthRole}, nil
}

func padBase64(s string) string {
	if n := len(s) % 4; n != 0 {
		s += strings.Repeat("=", 4-n)
	}
	return s
}

// checkHubSignature verifies GitHub's X-Hub-Signature-256: "sha256=" and the
// hex HMAC-SHA256 of the body under the hook's secret.
func checkHubSignature(header, secret string, body []byte) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}
