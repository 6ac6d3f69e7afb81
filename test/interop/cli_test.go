package interop

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cliRun runs the switchyard CLI (the binary under test) to completion.
func cliRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, routerBin, args...)
	o, e := newLineBuffer(0), newLineBuffer(0)
	cmd.Stdout, cmd.Stderr = o, e
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("switchyard %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// background starts a long-running process and stops it (SIGTERM, then
// SIGKILL) when the test ends.
func background(t *testing.T, cmd *exec.Cmd) (stdout, stderr *lineBuffer) {
	t.Helper()
	stdout, stderr = newLineBuffer(1<<20), newLineBuffer(1<<20)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%v\nstdout:\n%s\nstderr:\n%s", cmd.Args, stdout, stderr)
		}
	})
	return stdout, stderr
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestCLIAgainstAutobahnPython drives the operator CLI against
// autobahn-python peers, through a Switchyard configured unlike the
// default: one RawSocket listener and no WebSocket, an authenticated realm
// with another name, ticket principals, publisher disclosure by role.
func TestCLIAgainstAutobahnPython(t *testing.T) {
	requirePython(t)
	if buildErr != nil {
		t.Fatalf("cannot build the router: %v", buildErr)
	}
	addr := freeAddrs(t, 1)[0]
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ops.yaml")
	os.WriteFile(cfg, []byte(`
listeners:
  - {name: devices, transport: rawsocket, address: `+addr+`}
realms:
  - name: plant.ops
    roles:
      - name: peer
        permissions:
          - {uri: "", match: prefix, allow: [call, register, publish, subscribe], disclose: [publisher]}
    principals:
      - {authid: py, role: peer, ticket: py-ticket}
      - {authid: cli, role: peer, ticket: cli-ticket}
`), 0o600)
	router := exec.Command(routerBin, "serve", "--config", cfg, "--auth-rate-limit=false")
	background(t, router)
	eventually(t, "the router listening on "+addr, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	url := "rs://" + addr
	prefix := "com.interop.cli"
	auth := []string{"--url", url, "--realm", "plant.ops", "--authid", "cli", "--ticket", "cli-ticket"}
	with := func(args ...string) []string { return append(args, auth...) }

	// The CLI serves a procedure the Python peer calls.
	_, regErr := background(t, exec.Command(routerBin, append(with("register", prefix+".shout", "--serializer", "msgpack"), "--", "tr", "a-z", "A-Z")...))
	eventually(t, "the CLI registered", func() bool { return strings.Contains(regErr.String(), "registered") })

	py := exec.Command(debianPython, filepath.Join(testDir, "python", "cli_peer.py"),
		"--url", url, "--realm", "plant.ops", "--authid", "py", "--ticket", "py-ticket", "--prefix", prefix, "--serializer", "cbor")
	py.Env = pythonEnv()
	pyOut, _ := background(t, py)
	select {
	case <-pyOut.ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("the Python peer never got ready:\n%s", pyOut)
	}

	// call → the Python callee, over each serializer.
	for _, ser := range []string{"json", "msgpack", "cbor"} {
		out, errOut, code := cliRun(t, with("call", prefix+".mul", "6", "7", "--serializer", ser)...)
		if code != 0 || out != "[42]\n" {
			t.Fatalf("call over %s: exit %d %q %q", ser, code, out, errOut)
		}
	}
	// An ApplicationError raised in Python: its URI and args on stderr, exit 1.
	out, errOut, code := cliRun(t, with("call", prefix+".mul", "1", "2", "--kwargs", `{"refuse":true}`)...)
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "com.interop.refused ") || !strings.Contains(errOut, "python says no") {
		t.Fatalf("refused call: exit %d stdout %q stderr %q", code, out, errOut)
	}

	// subscribe → the Python publisher's events, with the disclosed publisher.
	out, errOut, code = cliRun(t, with("subscribe", prefix+".feed", "--count", "2", "--serializer", "cbor")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("subscribe: exit %d %q %q", code, out, errOut)
	}
	for _, l := range lines {
		var ev struct {
			Args      []any          `json:"args"`
			Kwargs    map[string]any `json:"kwargs"`
			Publisher float64        `json:"publisher"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil || len(ev.Args) != 2 || ev.Args[1] != "tick" || ev.Kwargs["from"] != "python" || ev.Publisher == 0 {
			t.Fatalf("event %q (%v)", l, err)
		}
	}
	// A prefix subscription names each topic.
	out, _, code = cliRun(t, with("subscribe", prefix+".", "--match", "prefix", "--count", "1")...)
	if code != 0 || !strings.Contains(out, `"topic":"`+prefix+`.feed"`) {
		t.Fatalf("prefix subscribe: exit %d %q", code, out)
	}

	// publish → the Python subscriber.
	if _, errOut, code := cliRun(t, with("publish", prefix+".inbox", "hello", "5", "--kwargs", `{"k":"v"}`, "--acknowledge")...); code != 0 {
		t.Fatalf("publish: exit %d %q", code, errOut)
	}
	eventually(t, "the Python subscriber got the CLI's event", func() bool {
		return strings.Contains(pyOut.String(), `INBOX ["hello", 5] {"k": "v"}`)
	})
	// The Python caller got the CLI callee's answer: the command's stdout.
	eventually(t, "the Python caller got the CLI's answer", func() bool {
		return strings.Contains(pyOut.String(), `SHOUT {"ARGS": ["HI"], "KWARGS": {}}`)
	})

	// sessions lists the Python peer.
	out, errOut, code = cliRun(t, with("sessions", "--json")...)
	if code != 0 || !strings.Contains(out, `"authid":"py"`) {
		t.Fatalf("sessions: exit %d %q %q", code, out, errOut)
	}

	// This router has no anonymous access and no WebSocket: clear failures.
	if _, errOut, code := cliRun(t, "call", prefix+".mul", "1", "1", "--url", url, "--realm", "plant.ops"); code != 1 || !strings.Contains(errOut, "wamp.error.no_auth_method") {
		t.Fatalf("anonymous: exit %d %q", code, errOut)
	}
	if _, errOut, code := cliRun(t, "call", prefix+".mul", "1", "1", "--url", "ws://"+addr+"/", "--realm", "plant.ops", "--authid", "cli", "--ticket", "cli-ticket", "--timeout", "3s"); code != 1 || errOut == "" {
		t.Fatalf("WebSocket to a RawSocket-only listener: exit %d %q", code, errOut)
	}
}
