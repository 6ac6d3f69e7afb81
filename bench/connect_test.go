package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestClassifyLeavesAddressesOut: dials that fail alike from different
// source addresses are counted together.
func TestClassifyLeavesAddressesOut(t *testing.T) {
	dialErr := func(src string) error {
		oe := &net.OpError{Op: "dial", Net: "tcp",
			Source: &net.TCPAddr{IP: net.ParseIP(src)}, Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8081},
			Err: os.ErrDeadlineExceeded}
		return fmt.Errorf("rawsocket: dial: %w", oe)
	}
	a, b := classify(dialErr("127.1.2.3")), classify(dialErr("127.4.5.6"))
	if a != b || strings.Contains(a, "127.") || !strings.Contains(a, "rawsocket: dial: dial tcp: i/o timeout") {
		t.Errorf("classify: %q and %q; want one key without addresses", a, b)
	}
	if got := classify(errors.New("websocket: handshake: 403")); got != "websocket: handshake: 403" {
		t.Errorf("classify changed an error without addresses: %q", got)
	}
}

// deadlineOnly is a context whose deadline has passed but which is not
// done yet: the moment before a timer context's timer fires.
type deadlineOnly struct{ context.Context }

func (deadlineOnly) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// TestEndedAtTheDeadline: a run is over once its deadline has passed, even
// before its context says so; dials failing in that moment are not
// failures.
func TestEndedAtTheDeadline(t *testing.T) {
	ctx := deadlineOnly{context.Background()}
	if ctxDone(ctx) {
		t.Fatal("the test context is done already")
	}
	if !ended(ctx) {
		t.Error("ended is false past the deadline")
	}
	live, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if ended(live) || ended(context.Background()) {
		t.Error("ended is true before the deadline or without one")
	}
	cancel()
	if !ended(live) {
		t.Error("ended is false for a canceled context")
	}
}
