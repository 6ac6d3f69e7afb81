package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

// TestSIGTERMSaysGoodbye: every session gets GOODBYE system_shutdown and
// the process exits 0.
func TestSIGTERMSaysGoodbye(t *testing.T) {
	p := startRouter(t)
	var clients []*client.Client
	for _, listener := range []string{"ws", "rawsocket", "unix", "listen-tls-rss"} {
		clients = append(clients, connect(t, p, listener, "msgpack"))
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		select {
		case <-c.Done():
			var we *client.Error
			if !errors.As(c.Err(), &we) || we.URI != spec.CloseSystemShutdown {
				t.Errorf("client %d ended with %v, want GOODBYE %s", i, c.Err(), spec.CloseSystemShutdown)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("client %d never heard GOODBYE", i)
		}
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the router did not exit")
	}
}

func TestVersionCommand(t *testing.T) {
	out, err := exec.Command(routerBinary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "switchyard ") {
		t.Fatalf("version printed %q (%v)", out, err)
	}
}
