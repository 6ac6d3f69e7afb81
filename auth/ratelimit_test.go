package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/spec"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestAddrKey(t *testing.T) {
	same := [][2]string{
		{"192.0.2.1:5000", "192.0.2.1:6000"},
		{"192.0.2.1:5000", "192.0.2.1"},
		{"[2001:db8:1:2::1]:80", "[2001:db8:1:2:ffff::9]:443"}, // one /64
		{"[::ffff:192.0.2.1]:1", "192.0.2.1:2"},
		{"[fe80::1%eth0]:1", "fe80::2"},
	}
	for _, p := range same {
		a, ok1 := addrKey(p[0])
		b, ok2 := addrKey(p[1])
		if !ok1 || !ok2 || a != b {
			t.Errorf("%s and %s: %v %v", p[0], p[1], a, b)
		}
	}
	a, _ := addrKey("192.0.2.1:1")
	b, _ := addrKey("192.0.2.2:1")
	if a == b {
		t.Error("two IPv4 hosts share a key")
	}
	for _, s := range []string{"", "@", "/run/switchyard.sock", "pipe", "example.com:80"} {
		if _, ok := addrKey(s); ok {
			t.Errorf("%q is limited", s)
		}
	}
}

func TestRateLimiterDelays(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	l := NewRateLimiter(RateLimitOptions{Free: 2, BaseDelay: 10 * time.Millisecond, MaxDelay: 40 * time.Millisecond, Decay: time.Minute, Now: clk.Now})
	const ip = "198.51.100.9:1234"
	want := []time.Duration{0, 0, 10, 20, 40, 40}
	for i, w := range want {
		l.Failure(ip)
		if got := l.Delay(ip); got != w*time.Millisecond {
			t.Fatalf("after %d failures: delay %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if l.Delay("198.51.100.10:1") != 0 || l.Delay("/sock") != 0 {
		t.Fatal("other addresses are slowed")
	}
	// One failure forgotten per minute of quiet: 6 → 5 → 4.
	clk.Add(2 * time.Minute)
	if got := l.Delay(ip); got != 20*time.Millisecond {
		t.Fatalf("after decay: %v", got)
	}
	clk.Add(time.Hour)
	if l.Delay(ip) != 0 || l.Tracked() != 0 {
		t.Fatalf("not forgotten: delay %v, tracked %d", l.Delay(ip), l.Tracked())
	}
	l.Failure("/run/x.sock") // not an IP: ignored
	if l.Tracked() != 0 {
		t.Fatal("unix peer tracked")
	}
}

func TestRateLimiterBounded(t *testing.T) {
	l := NewRateLimiter(RateLimitOptions{MaxAddresses: 3, Free: 1})
	for i := range 10 {
		l.Failure(fmt.Sprintf("203.0.113.%d:1", i))
		l.Failure(fmt.Sprintf("203.0.113.%d:1", i))
	}
	if l.Tracked() != 3 {
		t.Fatalf("tracked %d", l.Tracked())
	}
	if l.Delay("203.0.113.0:1") != 0 || l.Delay("203.0.113.9:1") == 0 {
		t.Fatal("eviction is not least-recently-failed first")
	}
}

// stubAuth returns err after counting calls.
type stubAuth struct {
	calls int
	err   error
}

func (s *stubAuth) Method() string { return "stub" }
func (s *stubAuth) Authenticate(context.Context, *Request, Challenger) (Identity, error) {
	s.calls++
	return Identity{AuthID: "x"}, s.err
}

func TestRateLimiterWrap(t *testing.T) {
	l := NewRateLimiter(RateLimitOptions{Free: 1, BaseDelay: 30 * time.Millisecond, MaxDelay: time.Second})
	inner := &stubAuth{err: fmt.Errorf("%w: nope", ErrAuthenticationFailed)}
	a := l.Wrap(inner)
	if a.Method() != "stub" {
		t.Fatal(a.Method())
	}
	req := hello("joe", nil)
	for range 2 {
		a.Authenticate(ctxT(t), req, nil)
	}
	if d := l.Delay(req.RemoteAddr); d != 30*time.Millisecond {
		t.Fatalf("delay %v", d)
	}
	// Success does not clear the record, and the wait really happens.
	inner.err = nil
	start := time.Now()
	if _, err := a.Authenticate(ctxT(t), req, nil); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 25*time.Millisecond {
		t.Fatalf("waited only %v", el)
	}
	if l.Delay(req.RemoteAddr) == 0 {
		t.Fatal("success cleared the failures")
	}
	// Technical errors and unknown roles are not counted.
	before := l.Delay(req.RemoteAddr)
	for _, err := range []error{errors.New("transport closed"), fmt.Errorf("%w: x", ErrNoSuchRole), context.DeadlineExceeded} {
		inner.err = err
		a.Authenticate(ctxT(t), req, nil)
	}
	if l.Delay(req.RemoteAddr) != before {
		t.Fatal("non-refusals counted")
	}
	inner.err = fmt.Errorf("%w: x", ErrNoSuchPrincipal)
	a.Authenticate(ctxT(t), req, nil)
	if l.Delay(req.RemoteAddr) != 2*before {
		t.Fatal("unknown principal not counted")
	}
	// A context that ends during the wait ends the attempt; the inner
	// authenticator is not called.
	calls := inner.calls
	_, err := a.Authenticate(shortCtx(t), req, nil)
	if !errors.Is(err, context.DeadlineExceeded) || inner.calls != calls {
		t.Fatalf("err %v, calls %d→%d", err, calls, inner.calls)
	}
}

func TestRateLimiterConcurrent(t *testing.T) {
	l := NewRateLimiter(RateLimitOptions{MaxAddresses: 50})
	a := l.Wrap(NewAnonymousAuthenticator(AnonymousOptions{}))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				addr := fmt.Sprintf("10.%d.0.%d:1", g, i%80)
				l.Failure(addr)
				l.Delay(addr)
				a.Authenticate(context.Background(), NewRequest("r", spec.Dict{}, 1, "192.0.2.200:1", nil), nil)
			}
		}()
	}
	wg.Wait()
	if l.Tracked() > 50 {
		t.Fatalf("tracked %d", l.Tracked())
	}
}
