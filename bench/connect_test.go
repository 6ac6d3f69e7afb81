package bench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
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
