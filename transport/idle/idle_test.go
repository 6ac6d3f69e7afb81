package idle

import (
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

const period = 5 * time.Millisecond

// fakeConn is a Conn whose activity the test drives.
type fakeConn struct {
	busy  atomic.Bool
	parks atomic.Int64
}

func (c *fakeConn) Quiet() bool { return !c.busy.Load() }
func (c *fakeConn) Park()       { c.parks.Add(1) }

// pair returns both ends of a TCP connection and the server end's RawConn.
func pair(t *testing.T) (client, server net.Conn, rc syscall.RawConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	rc, err = server.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return client, server, rc
}

// running returns a Group with its goroutines started (one watched Conn).
func running(t *testing.T) *Group {
	t.Helper()
	if !Supported() {
		t.Skip("parking is not supported on " + runtime.GOOS)
	}
	g := NewGroup(period)
	g.Watch(&fakeConn{busy: atomicTrue()})
	t.Cleanup(g.Close)
	return g
}

func atomicTrue() (b atomic.Bool) {
	b.Store(true)
	return
}

func waitWake(t *testing.T, woke chan struct{}, want bool) {
	t.Helper()
	select {
	case <-woke:
		if !want {
			t.Fatal("woken, want not")
		}
	case <-time.After(200 * time.Millisecond):
		if want {
			t.Fatal("not woken")
		}
	}
}

func TestParkWakesOnInputOnce(t *testing.T) {
	g := running(t)
	client, _, rc := pair(t)
	woke := make(chan struct{}, 2)
	if _, err := g.Park(rc, func() { woke <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	waitWake(t, woke, false)
	if g.Parked() != 1 {
		t.Fatalf("Parked() = %d", g.Parked())
	}
	client.Write([]byte("x"))
	waitWake(t, woke, true)
	client.Write([]byte("y")) // one-shot: no second wake
	waitWake(t, woke, false)
	if g.Parked() != 0 {
		t.Fatalf("Parked() = %d after the wake", g.Parked())
	}
}

func TestParkReadableWakesAtOnce(t *testing.T) {
	g := running(t)
	client, _, rc := pair(t)
	client.Write([]byte("already here"))
	time.Sleep(10 * time.Millisecond)
	woke := make(chan struct{}, 1)
	if _, err := g.Park(rc, func() { woke <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	waitWake(t, woke, true)
}

func TestParkWakesOnHangUp(t *testing.T) {
	g := running(t)
	client, _, rc := pair(t)
	woke := make(chan struct{}, 1)
	if _, err := g.Park(rc, func() { woke <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	client.Close()
	waitWake(t, woke, true)
}

func TestCancel(t *testing.T) {
	g := running(t)
	client, _, rc := pair(t)
	woke := make(chan struct{}, 1)
	tk, err := g.Park(rc, func() { woke <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	if !g.Cancel(tk) {
		t.Fatal("Cancel of a pending park = false")
	}
	if g.Cancel(tk) {
		t.Fatal("second Cancel = true")
	}
	client.Write([]byte("x"))
	waitWake(t, woke, false)

	// After a wake, Cancel reports false: the wake is the owner's.
	tk, err = g.Park(rc, func() { woke <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	waitWake(t, woke, true) // "x" is still unread
	if g.Cancel(tk) {
		t.Fatal("Cancel after the wake = true")
	}
}

func TestSweepParksOnlyQuietConns(t *testing.T) {
	if !Supported() {
		t.Skip("parking is not supported on " + runtime.GOOS)
	}
	g := NewGroup(period)
	defer g.Close()
	quiet, busy := &fakeConn{}, &fakeConn{}
	busy.busy.Store(true)
	g.Watch(quiet)
	g.Watch(busy)
	time.Sleep(10 * period)
	if quiet.parks.Load() == 0 {
		t.Error("a quiet connection was never asked to park")
	}
	if busy.parks.Load() != 0 {
		t.Error("a busy connection was asked to park")
	}
	g.Forget(quiet)
	n := quiet.parks.Load()
	time.Sleep(5 * period)
	if quiet.parks.Load() != n {
		t.Error("a forgotten connection was asked to park")
	}
}

// TestGoroutinesFollowConns: the sweeper and poller run only while a
// connection is watched, and Close ends them and wakes what is parked.
func TestGoroutinesFollowConns(t *testing.T) {
	if !Supported() {
		t.Skip("parking is not supported on " + runtime.GOOS)
	}
	before := runtime.NumGoroutine()
	g := NewGroup(period)
	c := &fakeConn{}
	g.Watch(c)
	if got := runtime.NumGoroutine(); got != before+2 {
		t.Fatalf("%d goroutines watching one conn, %d before", got, before)
	}
	g.Forget(c)
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatal("the goroutines outlived the last connection")
		}
		time.Sleep(period)
	}
	_, _, rc := pair(t)
	if _, err := g.Park(rc, func() {}); err != ErrNotRunning {
		t.Fatalf("Park with nothing watched: %v, want ErrNotRunning", err)
	}

	// Started again by Watch; Close wakes the parked and ends both.
	g.Watch(c)
	woke := make(chan struct{}, 1)
	if _, err := g.Park(rc, func() { woke <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	g.Close()
	waitWake(t, woke, true)
	// Close waits for the sweeper and poller, but a goroutine that has
	// signalled the WaitGroup is counted until it has returned.
	deadline = time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
	g.Watch(c) // after Close: nothing starts
	if got := runtime.NumGoroutine(); got > before {
		t.Fatalf("Watch after Close started goroutines")
	}
}

// TestReleasePolicy: freed memory is returned once a burst of connections
// has parked and stopped arriving, not during the burst, not for churn.
func TestReleasePolicy(t *testing.T) {
	lastRelease.Store(0)
	base := 0
	maybeRelease(999, 0, &base)
	if base != 0 {
		t.Fatal("released below releaseAfter")
	}
	maybeRelease(1500, releaseBusy, &base)
	if base != 0 {
		t.Fatal("released while connections still arrive")
	}
	maybeRelease(1500, 0, &base)
	if base != 1500 || lastRelease.Load() == 0 {
		t.Fatalf("no release after the burst (base %d)", base)
	}
	maybeRelease(2400, 0, &base) // +900: not enough
	if base != 1500 {
		t.Fatal("released for less than releaseAfter")
	}
	maybeRelease(200, 0, &base) // sessions woke or left
	maybeRelease(1300, 0, &base)
	if base != 200 {
		t.Fatal("released within releaseGap of the last release")
	}
}
