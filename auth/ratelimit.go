package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// RateLimitOptions configures NewRateLimiter. The zero value gives the
// defaults noted on each field.
type RateLimitOptions struct {
	// Free is how many recent failures an address may have before its
	// attempts are slowed down. Default 3.
	Free int
	// BaseDelay is the wait imposed for the first failure beyond Free; each
	// further failure doubles it. Default 500ms.
	BaseDelay time.Duration
	// MaxDelay caps the wait. Default 30s (longer than a typical handshake
	// timeout, so a persistent guesser mostly times out).
	MaxDelay time.Duration
	// Decay is how long an address must stay quiet for one failure to be
	// forgotten. Default 1 minute.
	Decay time.Duration
	// MaxAddresses bounds how many addresses are tracked; when full, the
	// one that failed least recently is forgotten. Default 10,000.
	MaxAddresses int
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// RateLimiter slows down remote addresses whose authentication attempts
// keep failing: after Free failures each further attempt from that address
// waits BaseDelay, doubling per failure up to MaxDelay, and failures are
// forgotten one per Decay of quiet. Successes do not reset the count, so a
// client with one valid account cannot use it to clear its record.
//
// Addresses are IPs; IPv6 addresses count per /64, since a single host often
// owns a whole /64. Addresses that are not IPs (Unix sockets) are not
// limited. Memory is bounded by MaxAddresses.
//
// Wrap it around authenticators (Wrap), or call Wait and Failure yourself.
// Safe for concurrent use; one RateLimiter is meant to be shared by all
// authenticators of a router, so failures count across methods and realms.
type RateLimiter struct {
	o  RateLimitOptions
	mu sync.Mutex
	m  *lru[netip.Prefix, failState]
}

type failState struct {
	count int
	last  time.Time
}

// NewRateLimiter returns a rate limiter.
func NewRateLimiter(o RateLimitOptions) *RateLimiter {
	if o.Free <= 0 {
		o.Free = 3
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = 500 * time.Millisecond
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 30 * time.Second
	}
	if o.MaxDelay < o.BaseDelay {
		o.MaxDelay = o.BaseDelay
	}
	if o.Decay <= 0 {
		o.Decay = time.Minute
	}
	if o.MaxAddresses <= 0 {
		o.MaxAddresses = 10_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &RateLimiter{o: o, m: newLRU[netip.Prefix, failState](o.MaxAddresses)}
}

// addrKey maps a remote address ("ip:port", "[ip6]:port" or a bare IP) to
// the prefix failures are counted under; ok is false for non-IP addresses.
func addrKey(remote string) (netip.Prefix, bool) {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap().WithZone("")
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p, true
}

// current returns the decayed failure count of key; caller holds mu.
func (l *RateLimiter) current(key netip.Prefix, now time.Time) int {
	st, ok := l.m.get(key)
	if !ok {
		return 0
	}
	n := st.count - int(now.Sub(st.last)/l.o.Decay)
	if n <= 0 {
		l.m.remove(key)
		return 0
	}
	return n
}

// Delay returns how long an attempt from remoteAddr has to wait now.
func (l *RateLimiter) Delay(remoteAddr string) time.Duration {
	key, ok := addrKey(remoteAddr)
	if !ok {
		return 0
	}
	l.mu.Lock()
	n := l.current(key, l.o.Now())
	l.mu.Unlock()
	return l.delayFor(n)
}

func (l *RateLimiter) delayFor(failures int) time.Duration {
	over := failures - l.o.Free
	if over <= 0 {
		return 0
	}
	d := l.o.BaseDelay
	for i := 1; i < over && d < l.o.MaxDelay; i++ {
		d *= 2
	}
	return min(d, l.o.MaxDelay)
}

// Failure records a failed attempt from remoteAddr.
func (l *RateLimiter) Failure(remoteAddr string) {
	key, ok := addrKey(remoteAddr)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.o.Now()
	n := l.current(key, now)
	l.m.put(key, failState{count: n + 1, last: now})
}

// Wait blocks for remoteAddr's current delay, or until ctx ends (then it
// returns an error wrapping ctx.Err()). A ctx whose deadline falls before
// the delay ends fails at once with context.DeadlineExceeded.
func (l *RateLimiter) Wait(ctx context.Context, remoteAddr string) error {
	d := l.Delay(remoteAddr)
	if d <= 0 {
		return nil
	}
	// An attempt whose deadline comes before the wait ends would only hold
	// a goroutine to fail later; it fails now.
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return fmt.Errorf("auth: slowed down after repeated failures from %s: %w", remoteAddr, context.DeadlineExceeded)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: slowed down after repeated failures from %s: %w", remoteAddr, ctx.Err())
	}
}

// Tracked returns how many addresses have failures on record.
func (l *RateLimiter) Tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.len()
}

// Wrap returns a's method, slowed down per remote address by l. A refusal
// (ErrAuthenticationFailed or ErrNoSuchPrincipal) counts as a failure;
// technical errors and ErrNoSuchRole (a configuration problem) do not.
func (l *RateLimiter) Wrap(a Authenticator) Authenticator {
	return &limited{Authenticator: a, l: l}
}

type limited struct {
	Authenticator
	l *RateLimiter
}

func (x *limited) Authenticate(ctx context.Context, req *Request, ch Challenger) (Identity, error) {
	if err := x.l.Wait(ctx, req.RemoteAddr); err != nil {
		return Identity{}, err
	}
	id, err := x.Authenticator.Authenticate(ctx, req, ch)
	if errors.Is(err, ErrAuthenticationFailed) || errors.Is(err, ErrNoSuchPrincipal) {
		x.l.Failure(req.RemoteAddr)
	}
	return id, err
}
