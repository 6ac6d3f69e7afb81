package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wampy.js (npm wampy 8.0.2, js/wampy.mjs) over WebSocket with every serializer and both WebSocket
// implementations wampy documents for Node. wampy sends the options it was not given as
// undefined — msgpackr's extension d4 00 00, CBOR's simple value 23 — so its msgpack and cbor
// runs need the router to take those as absent.

const wampyRealm = "itest.wampy" // the config-file realm of the authenticated runs

var (
	wampySerializers = []string{"json", "msgpack", "cbor"}
	wampySockets     = []string{"ws", "websocket"} // npm ws, and websocket's w3cwebsocket
)

func requireWampy(t *testing.T) {
	t.Helper()
	checkDeps()
	missing := jsMissing
	if missing == "" && !fileExists(filepath.Join(testDir, "js", "node_modules", "wampy", "package.json")) {
		missing = "wampy is not installed in " + filepath.Join(testDir, "js", "node_modules")
	}
	requireDep(t, "wampy.js", missing)
}

// runWampy runs js/wampy.mjs with args to completion and reports whether it passed.
func runWampy(t *testing.T, r *routerProc, serializer, socket string, args ...string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientKillAfter)
	defer cancel()
	all := append([]string{"wampy.mjs", "--url", "ws://" + r.wsAddr + "/", "--serializer", serializer, "--ws", socket,
		"--timeout", strconv.Itoa(int(clientTimeout / time.Second))}, args...)
	c := &client{peer: peer{"wampy", "websocket/" + socket, serializer}, role: args[1], out: newLineBuffer(1 << 20), done: make(chan struct{})}
	c.cmd = exec.CommandContext(ctx, "node", all...)
	c.cmd.Dir = filepath.Join(testDir, "js")
	c.cmd.Env = nodeEnv()
	c.cmd.Stdout = c.out
	c.cmd.Stderr = c.out
	c.cmd.WaitDelay = 3 * time.Second
	start := time.Now()
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting node wampy.mjs: %v", err)
	}
	go func() {
		c.err = c.cmd.Wait()
		c.dur = time.Since(start)
		close(c.done)
	}()
	return c.wait(t, r)
}

// TestWampy runs, for every serializer × WebSocket implementation: the Bondy guide's example
// (one session registers com.example.add, another calls it with [3, 4] and gets 7) and PubSub
// with args and kwargs, anonymously on realms of their own; and ticket, wampcra and cryptosign
// logins with wampy's own helpers on a realm configured by file, each allowed exactly its role's
// actions and refused with the wrong secret.
func TestWampy(t *testing.T) {
	t.Parallel()
	requireWampy(t)
	if buildErr != nil {
		t.Fatalf("cannot build the router: %v", buildErr)
	}
	creds := writeWampyConfig(t, t.TempDir())
	// --auto-realms: each anonymous run gets a realm of its own, so that all of them can
	// register the guide's exact com.example.add at once.
	r := startRouter(t, "--config", creds.path, "--auto-realms", "--auth-rate-limit=false")
	defer r.checkLog(t)
	defer r.saveLog(t, "wampy-router.log")

	for _, ser := range wampySerializers {
		for _, ws := range wampySockets {
			t.Run("scenario/"+ser+"/"+ws, func(t *testing.T) {
				t.Parallel()
				runWampy(t, r, ser, ws, "--role", "scenario", "--realm", "itest.wampy_anon."+ser+"_"+ws)
			})
		}
	}

	helper := []string{"--helper-authid", "wampy-helper", "--helper-secret", creds.helper}
	for i, tc := range []struct {
		method, authid, secret, role string
		allow                        string
		extra                        []string
	}{
		{"ticket", "wampy-ticket", creds.ticket, "reader", "call,subscribe", nil},
		{"wampcra", "wampy-wampcra", creds.wampcra, "writer", "register,publish", nil},
		{"cryptosign", "wampy-cryptosign", creds.cryptosign.private, "all", "call,register,publish,subscribe",
			[]string{"--pubkey", creds.cryptosign.public}},
	} {
		// The three methods spread over the serializers and sockets, each pair once.
		for j, ser := range wampySerializers {
			ws := wampySockets[(i+j)%len(wampySockets)]
			login := append([]string{"--role", "auth", "--realm", wampyRealm, "--authmethod", tc.method,
				"--authid", tc.authid}, tc.extra...)
			t.Run("auth/"+tc.method+"/"+ser+"/"+ws, func(t *testing.T) {
				t.Parallel()
				args := append(append(append([]string{}, login...), helper...), "--secret", tc.secret,
					"--expect-authid", tc.authid, "--expect-authrole", tc.role, "--allow", tc.allow,
					"--prefix", "itest.wampy."+strings.TrimPrefix(uriPrefix(tc.method, ser, ws), "itest."))
				runWampy(t, r, ser, ws, args...)
			})
			if j == 0 {
				t.Run("refused/"+tc.method+"/"+ser+"/"+ws, func(t *testing.T) {
					t.Parallel()
					wrong := creds.stranger.private
					if tc.method != "cryptosign" {
						wrong = "not-" + tc.secret
					}
					args := append(append([]string{}, login...), "--secret", wrong,
						"--expect-abort", "wamp.error.authentication_failed")
					runWampy(t, r, ser, ws, args...)
				})
			}
		}
	}
}

type wampyCreds struct {
	path       string
	helper     string // "wampy-helper" (backend): the other side of each action
	ticket     string // "wampy-ticket" (reader)
	wampcra    string // "wampy-wampcra" (writer), salted WAMP-CRA
	cryptosign keyPair
	stranger   keyPair // configured nowhere
}

// writeWampyConfig writes the config of the authenticated runs: realm itest.wampy with a role
// that may only call and subscribe, one that may only register and publish, and one that may
// do all four, each on itest.wampy. (prefix), plus the helpers' backend role.
func writeWampyConfig(t *testing.T, dir string) *wampyCreds {
	t.Helper()
	c := &wampyCreds{
		path:       filepath.Join(dir, "wampy.yaml"),
		helper:     randomSecret(t),
		ticket:     randomSecret(t),
		wampcra:    randomSecret(t),
		cryptosign: keygen(t),
		stranger:   keygen(t),
	}
	cfg := fmt.Sprintf(`# written by test/interop/wampy_test.go
realms:
  - name: %[1]s
    roles:
      - name: backend
        permissions:
          - uri: itest.
            match: prefix
            allow: [call, register, publish, subscribe]
      - name: reader
        permissions:
          - uri: itest.wampy.
            match: prefix
            allow: [call, subscribe]
      - name: writer
        permissions:
          - uri: itest.wampy.
            match: prefix
            allow: [register, publish]
      - name: all
        permissions:
          - uri: itest.wampy.
            match: prefix
            allow: [call, register, publish, subscribe]
    principals:
      - authid: wampy-helper
        role: backend
        ticket: %[2]q
      - authid: wampy-ticket
        role: reader
%[3]s
      - authid: wampy-wampcra
        role: writer
%[4]s
      - authid: wampy-cryptosign
        role: all
        cryptosign: [%[5]s]
`,
		wampyRealm, c.helper,
		derive(t, c.ticket, "ticket"),
		derive(t, c.wampcra, "wampcra", "--iterations", "1000"),
		c.cryptosign.public,
	)
	if err := os.WriteFile(c.path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cfg, c.ticket) || strings.Contains(cfg, c.wampcra) {
		t.Fatal("the config holds a secret in the clear")
	}
	return c
}
