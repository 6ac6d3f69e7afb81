package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Secrets in this package follow three rules: they are compared in constant
// time (hmac.Equal on equal-length digests, so even the length does not
// leak), every nonce and challenge comes from crypto/rand, and no secret is
// ever formatted into an error or a log line.

// randomBytes returns n bytes from crypto/rand (which never fails: since Go
// 1.24 a broken system source crashes the process rather than returning
// predictable bytes).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// equalSecret compares two secrets in constant time, whatever their lengths.
func equalSecret(a, b []byte) bool {
	ha, hb := sha256.Sum256(a), sha256.Sum256(b)
	return hmac.Equal(ha[:], hb[:])
}

// kdfSlots bounds how many expensive key derivations (Argon2id ticket hashes,
// salted WAMP-CRA keys derived on the fly) run at once. Each Argon2id
// verification takes ~19 MiB for some tens of milliseconds; without a bound a
// flood of HELLOs would turn into a flood of allocations. Waiting for a slot
// honours the handshake's context.
var kdfSlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

func withKDFSlot(ctx context.Context, fn func()) error {
	select {
	case kdfSlots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting to verify a secret: %w", ctx.Err())
	}
	defer func() { <-kdfSlots }()
	fn()
	return nil
}

// Argon2id parameters HashTicket uses: OWASP's first recommendation for
// Argon2id (19 MiB, 2 passes, 1 lane), some tens of milliseconds per
// verification on a small server.
const (
	TicketArgon2Time    = 2
	TicketArgon2Memory  = 19456 // KiB
	TicketArgon2Threads = 1
)

// Bounds on hash parameters read from a config file, so a typo cannot make
// the router allocate gigabytes or spin for minutes at the first login.
const (
	maxArgon2Memory = 1 << 20 // KiB (1 GiB)
	maxArgon2Time   = 10_000  // autobahn's derive_scram_credential uses 4096
	maxKDFIter      = 10_000_000
)

type ticketKind uint8

const (
	ticketPlain ticketKind = iota
	ticketSHA256
	ticketArgon2id
)

// TicketSecret is how a principal's ticket is stored: the ticket itself, or
// a one-way hash of it, so that a leaked config file does not leak tickets.
//
// Two hashed forms are understood:
//
//   - "$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>", the PHC
//     string format that HashTicket writes and that argon2-cffi, the argon2
//     command-line tool and most password libraries read and write. Use it
//     for tickets a person chose.
//   - "$sha256$<salt>$<hash>" with hash = SHA-256(salt ‖ ticket): fast, for
//     machine-generated tickets with at least 128 bits of randomness, where
//     a slow hash adds nothing but CPU time per login.
//
// Salts and hashes are standard base64, with or without padding.
type TicketSecret struct {
	kind    ticketKind
	plain   []byte
	salt    []byte
	hash    []byte
	time    uint32
	memory  uint32
	threads uint8
}

// PlainTicket stores a ticket as is (a config file's "ticket" key).
func PlainTicket(ticket string) *TicketSecret {
	return &TicketSecret{kind: ticketPlain, plain: []byte(ticket)}
}

// HashTicket returns the Argon2id PHC string of ticket with a fresh random
// salt, for a config file's "ticket_hash" key.
func HashTicket(ticket string) string {
	salt := randomBytes(16)
	hash := argon2.IDKey([]byte(ticket), salt, TicketArgon2Time, TicketArgon2Memory, TicketArgon2Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		TicketArgon2Memory, TicketArgon2Time, TicketArgon2Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(hash))
}

// ParseTicketHash parses a hashed ticket in one of the forms TicketSecret
// describes. Errors describe the form, never the value.
func ParseTicketHash(s string) (*TicketSecret, error) {
	parts := strings.Split(s, "$")
	if len(parts) < 2 || parts[0] != "" {
		return nil, errors.New(`not a hashed ticket: want "$argon2id$..." or "$sha256$<salt>$<hash>"`)
	}
	switch parts[1] {
	case "sha256":
		if len(parts) != 4 {
			return nil, errors.New(`"$sha256$" hash: want "$sha256$<base64 salt>$<base64 hash>"`)
		}
		salt, err1 := decodeB64(parts[2])
		hash, err2 := decodeB64(parts[3])
		if err1 != nil || err2 != nil {
			return nil, errors.New(`"$sha256$" hash: salt and hash must be base64`)
		}
		if len(salt) < 8 || len(hash) != sha256.Size {
			return nil, errors.New(`"$sha256$" hash: want a salt of at least 8 bytes and a 32-byte hash`)
		}
		return &TicketSecret{kind: ticketSHA256, salt: salt, hash: hash}, nil
	case "argon2id":
		if len(parts) != 6 {
			return nil, errors.New(`"$argon2id$" hash: want "$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>"`)
		}
		if parts[2] != "v="+strconv.Itoa(argon2.Version) {
			return nil, fmt.Errorf(`"$argon2id$" hash: only version v=%d is supported`, argon2.Version)
		}
		t := &TicketSecret{kind: ticketArgon2id}
		var seen int
		for _, kv := range strings.Split(parts[3], ",") {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return nil, fmt.Errorf(`"$argon2id$" hash: parameter %q is not a number`, k)
			}
			switch k {
			case "m":
				t.memory, seen = uint32(n), seen|1
			case "t":
				t.time, seen = uint32(n), seen|2
			case "p":
				if n > 255 {
					return nil, errors.New(`"$argon2id$" hash: p must be at most 255`)
				}
				t.threads, seen = uint8(n), seen|4
			default:
				return nil, fmt.Errorf(`"$argon2id$" hash: unknown parameter %q`, k)
			}
		}
		if seen != 7 {
			return nil, errors.New(`"$argon2id$" hash: parameters m, t and p are all required`)
		}
		if t.time < 1 || t.time > maxArgon2Time || t.threads < 1 || t.memory < 8*uint32(t.threads) || t.memory > maxArgon2Memory {
			return nil, fmt.Errorf(`"$argon2id$" hash: parameters out of range (1 ≤ t ≤ %d, 1 ≤ p, 8·p ≤ m ≤ %d KiB)`, maxArgon2Time, maxArgon2Memory)
		}
		var err1, err2 error
		t.salt, err1 = decodeB64(parts[4])
		t.hash, err2 = decodeB64(parts[5])
		if err1 != nil || err2 != nil {
			return nil, errors.New(`"$argon2id$" hash: salt and hash must be base64`)
		}
		if len(t.salt) < 8 || len(t.hash) < 16 || len(t.hash) > 64 {
			return nil, errors.New(`"$argon2id$" hash: want a salt of at least 8 bytes and a hash of 16 to 64 bytes`)
		}
		return t, nil
	}
	// The scheme is not echoed: a ticket pasted here by mistake would be.
	return nil, errors.New(`unknown ticket hash scheme: want "$argon2id$..." or "$sha256$<salt>$<hash>"`)
}

// Verify reports whether ticket matches the stored secret. It waits for a
// KDF slot for Argon2id hashes, so it returns an error only when ctx ends.
func (t *TicketSecret) Verify(ctx context.Context, ticket string) (bool, error) {
	switch t.kind {
	case ticketPlain:
		return equalSecret(t.plain, []byte(ticket)), nil
	case ticketSHA256:
		h := sha256.New()
		h.Write(t.salt)
		h.Write([]byte(ticket))
		return hmac.Equal(h.Sum(nil), t.hash), nil
	default:
		var got []byte
		if err := withKDFSlot(ctx, func() {
			got = argon2.IDKey([]byte(ticket), t.salt, t.time, t.memory, t.threads, uint32(len(t.hash)))
		}); err != nil {
			return false, err
		}
		return hmac.Equal(got, t.hash), nil
	}
}

// Hashed reports whether the secret is stored hashed.
func (t *TicketSecret) Hashed() bool { return t.kind != ticketPlain }

// dummyTicket is checked when a client names an unknown authid, so that the
// answer takes as long as for a known one hashed with HashTicket's
// parameters.
var dummyTicket = sync.OnceValue(func() *TicketSecret {
	t, err := ParseTicketHash(HashTicket(rand.Text()))
	if err != nil {
		panic("auth: HashTicket output does not parse: " + err.Error())
	}
	return t
})

// decodeB64 decodes standard base64 with or without padding.
func decodeB64(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}
