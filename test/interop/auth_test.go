package interop

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The realms of the authentication config (authConfig).
const (
	authRealm       = "itest.auth"       // principals for every method, four roles
	ticketOnlyRealm = "itest.ticketonly" // only ticket principals: other methods get no_auth_method
)

// authCreds are the secrets the test config was made with. Stored forms (hashed ticket, salted
// WAMP-CRA key, SCRAM credential, public keys) come from the router's own CLI (derive, keygen).
type authCreds struct {
	path string // the config file

	helperTicket  string // "helper" (role backend): the other side of each checked action
	advTicket     string // "adv" (role adv): the Advanced Profile run with a disclosing role
	advKillTicket string // "advkill" (role adv): the session the advanced run kills by authid

	pyTicket      string // "py-ticket" (frontend), stored as an Argon2id ticket_hash
	pyWampcra     string // "py-wampcra" (worker), salted WAMP-CRA
	pyCryptosign  keyPair
	pyScram       string // "py-scram" (ops), SCRAM argon2id-13
	jsTicket      string // "js-ticket" (worker), plain ticket
	jsWampcra     string // "js-wampcra" (frontend), salted WAMP-CRA
	jsWampcraRaw  string // "js-wampcra-plain" (ops), unsalted WAMP-CRA
	jsCryptosign  keyPair
	strangerKey   keyPair // configured nowhere
	ticketOnlyTkt string  // "someone" in itest.ticketonly
}

type keyPair struct{ public, private string }

func randomSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// routerCLI runs `switchyard args...` with stdin and returns its standard output.
func routerCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, routerBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("switchyard %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// keygen returns a new Ed25519 pair from `switchyard keygen` (hex public key and seed).
func keygen(t *testing.T) keyPair {
	t.Helper()
	out := routerCLI(t, "", "keygen")
	var kp keyPair
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "public:"); ok {
			kp.public = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(line, "private:"); ok {
			kp.private = strings.TrimSpace(v)
		}
	}
	if len(kp.public) != 64 || len(kp.private) != 64 {
		t.Fatalf("switchyard keygen printed no hex key pair:\n%s", out)
	}
	return kp
}

// derive returns the config block `switchyard derive ...` prints for secret, indented for a
// principal's keys.
func derive(t *testing.T, secret string, args ...string) string {
	t.Helper()
	out := strings.TrimRight(routerCLI(t, secret+"\n", append([]string{"derive"}, args...)...), "\n")
	if strings.Contains(out, secret) {
		t.Fatalf("switchyard derive %s printed the secret itself:\n%s", strings.Join(args, " "), out)
	}
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = "        " + l
	}
	return strings.Join(lines, "\n")
}

// writeAuthConfig writes the test's security config into dir.
//
// Roles, most specific rule first (the router picks exact, then the longest prefix, then the
// wildcard; nothing matching means denied):
//
//	backend   itest. (prefix): everything                                  — the helper sessions
//	frontend  itest.auth.api.admin (exact): nothing
//	          itest.auth.api. (prefix): call, subscribe
//	          itest.auth.feed..news (wildcard): subscribe
//	worker    itest.auth.status (exact): subscribe
//	          itest.auth.api. (prefix): register
//	          itest.auth.feed. (prefix): publish
//	ops       wamp.session.kill (exact): nothing
//	          itest.auth.api. (prefix): nothing
//	          itest.auth.ops. (prefix): everything, disclosing caller and publisher
//	          "" (prefix): everything (but the router's wamp. namespace stays closed to
//	          register and publish)
//	adv       itest. (prefix): everything, disclosing caller and publisher; wamp.: call, subscribe
func writeAuthConfig(t *testing.T, dir string) *authCreds {
	t.Helper()
	c := &authCreds{
		path:          filepath.Join(dir, "switchyard.yaml"),
		helperTicket:  randomSecret(t),
		advTicket:     randomSecret(t),
		advKillTicket: randomSecret(t),
		pyTicket:      randomSecret(t),
		pyWampcra:     randomSecret(t),
		pyCryptosign:  keygen(t),
		pyScram:       randomSecret(t),
		jsTicket:      randomSecret(t),
		jsWampcra:     randomSecret(t),
		jsWampcraRaw:  randomSecret(t),
		jsCryptosign:  keygen(t),
		strangerKey:   keygen(t),
		ticketOnlyTkt: randomSecret(t),
	}
	// (1000 PBKDF2 iterations: crypto-js in autobahn-js is slow, and this is a test.)
	cfg := fmt.Sprintf(`# written by test/interop/auth_test.go
realms:
  - name: %[1]s
    roles:
      - name: backend
        permissions:
          - uri: itest.
            match: prefix
            allow: [call, register, publish, subscribe]
      - name: frontend
        permissions:
          - uri: itest.auth.api.
            match: prefix
            allow: [call, subscribe]
          - uri: itest.auth.api.admin
            allow: []
          - uri: itest.auth.feed..news
            match: wildcard
            allow: [subscribe]
      - name: worker
        permissions:
          - uri: itest.auth.api.
            match: prefix
            allow: [register]
          - uri: itest.auth.feed.
            match: prefix
            allow: [publish]
          - uri: itest.auth.status
            allow: [subscribe]
      - name: ops
        permissions:
          - uri: ""
            match: prefix
            allow: [call, register, publish, subscribe]
          - uri: itest.auth.ops.
            match: prefix
            allow: [call, register, publish, subscribe]
            disclose: [caller, publisher]
          - uri: itest.auth.api.
            match: prefix
            allow: []
          - uri: wamp.session.kill
            allow: []
      - name: adv
        permissions:
          - uri: itest.
            match: prefix
            allow: [call, register, publish, subscribe]
            disclose: [caller, publisher]
          - uri: wamp.
            match: prefix
            allow: [call, subscribe]
    principals:
      - authid: helper
        role: backend
        ticket: %[3]q
      - authid: adv
        role: adv
        ticket: %[4]q
      - authid: advkill
        role: adv
        ticket: %[5]q
      - authid: py-ticket
        role: frontend
%[6]s
      - authid: py-wampcra
        role: worker
%[7]s
      - authid: py-cryptosign
        role: ops
        cryptosign: [%[8]s]
      - authid: py-scram
        role: ops
%[9]s
      - authid: js-ticket
        role: worker
        ticket: %[10]q
      - authid: js-wampcra
        role: frontend
%[11]s
      - authid: js-wampcra-plain
        role: ops
        wampcra: %[12]q
      - authid: js-cryptosign
        role: frontend
        cryptosign: [%[13]s]
  - name: %[2]s
    roles:
      - name: user
        permissions:
          - uri: itest.
            match: prefix
            allow: [call]
    principals:
      - authid: someone
        role: user
        ticket: %[14]q
`,
		authRealm, ticketOnlyRealm,
		c.helperTicket, c.advTicket, c.advKillTicket,
		derive(t, c.pyTicket, "ticket"),
		derive(t, c.pyWampcra, "wampcra", "--iterations", "1000"),
		c.pyCryptosign.public,
		derive(t, c.pyScram, "scram", "--kdf", "argon2id-13"),
		c.jsTicket,
		derive(t, c.jsWampcra, "wampcra", "--iterations", "1000"),
		c.jsWampcraRaw,
		c.jsCryptosign.public,
		c.ticketOnlyTkt,
	)
	if err := os.WriteFile(c.path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// authPlan is what a role may do, as the clients' --plan: ACTION:URI:allow|deny[:FLAGS] steps on
// URIs made unique by tag (so that clients running at once do not collide), except exact-match
// rules, which are shared (bare: nobody registers or subscribes the other side of those).
func authPlan(role, tag string) string {
	var steps []string
	add := func(action, uri, want string, flags ...string) {
		s := action + ":" + strings.ReplaceAll(uri, "T", tag) + ":" + want
		if len(flags) > 0 {
			s += ":" + strings.Join(flags, "+")
		}
		steps = append(steps, s)
	}
	switch role {
	case "frontend":
		add("call", "itest.auth.api.T.echo", "allow")
		add("call", "itest.auth.api.admin", "deny", "bare") // exact rule beats the prefix
		add("register", "itest.auth.api.T.mine", "deny")
		add("subscribe", "itest.auth.api.T.ev", "allow")
		add("publish", "itest.auth.api.T.ev", "deny")
		add("subscribe", "itest.auth.feed.T.news", "allow") // wildcard
		add("subscribe", "itest.auth.feed.T.other", "deny")
		add("publish", "itest.auth.feed.T.news", "deny")
		add("call", "itest.other.T.echo", "deny") // no rule
		add("call", "wamp.session.count", "deny", "bare")
	case "worker":
		add("register", "itest.auth.api.T.work", "allow")
		add("call", "itest.auth.api.T.echo", "deny")
		add("publish", "itest.auth.feed.T.out", "allow") // not disclosed
		add("subscribe", "itest.auth.feed.T.out", "deny")
		add("subscribe", "itest.auth.status", "allow") // exact
		add("publish", "itest.auth.status", "deny")
		add("register", "itest.auth.feed.T.proc", "deny")
		add("publish", "itest.auth.api.T.ev", "deny")
	case "ops":
		add("call", "itest.auth.ops.T.echo", "allow", "disclosed")
		add("register", "itest.auth.ops.T.proc", "allow")
		add("publish", "itest.auth.ops.T.ev", "allow", "disclosed")
		add("subscribe", "itest.auth.ops.T.ev", "allow")
		add("call", "itest.auth.misc.T.echo", "allow") // the "" rule: allowed, not disclosed
		add("publish", "itest.auth.misc.T.ev", "allow")
		add("call", "itest.auth.api.T.echo", "deny") // a longer prefix denies
		add("register", "itest.auth.api.T.proc", "deny")
		add("subscribe", "itest.auth.api.T.ev", "deny")
		add("publish", "itest.auth.api.T.ev", "deny")
		add("call", "wamp.session.count", "allow", "bare")
		add("call", "wamp.session.kill", "deny", "bare")
		add("register", "wamp.itest.T.proc", "deny") // the router's namespace
		add("publish", "wamp.itest.T.ev", "deny", "bare")
	default:
		panic("authPlan: unknown role " + role)
	}
	return strings.Join(steps, ",")
}

// TestAuth runs the router with a config file of realms, roles and principals, and has
// autobahn-python and autobahn-js authenticate with every method they implement: WELCOME must
// report the principal, and the session must be allowed exactly what its role allows (each
// refusal wamp.error.not_authorized). Wrong credentials must be refused with
// wamp.error.authentication_failed, and methods a realm does not configure with
// wamp.error.no_auth_method. Finally the Advanced Profile client runs authenticated, under a
// role that discloses callers and publishers.
func TestAuth(t *testing.T) {
	t.Parallel()
	checkDeps()
	if buildErr != nil {
		t.Fatalf("cannot build the router: %v", buildErr)
	}
	creds := writeAuthConfig(t, t.TempDir())
	r := startRouter(t, "--config", creds.path, "--auth-rate-limit=false")
	defer r.checkLog(t)
	defer r.saveLog(t, "auth-router.log")

	helper := []string{"--helper-authid", "helper", "--helper-secret", creds.helperTicket}
	login := func(method, authid, secret string) []string {
		return []string{"--realm", authRealm, "--authmethod", method, "--authid", authid, "--secret", secret}
	}

	// Each principal: WELCOME, then its role's plan.
	for _, tc := range []struct {
		name     string
		peer     peer
		args     []string
		authid   string // WELCOME.authid expected
		authrole string
	}{
		{"ticket-hash", peer{"py-asyncio", "websocket", "json"}, login("ticket", "py-ticket", creds.pyTicket), "py-ticket", "frontend"},
		{"wampcra-salted", peer{"py-twisted", "rawsocket", "cbor"}, login("wampcra", "py-wampcra", creds.pyWampcra), "py-wampcra", "worker"},
		{"cryptosign", peer{"py-asyncio", "rawsocket", "msgpack"}, login("cryptosign", "py-cryptosign", creds.pyCryptosign.private), "py-cryptosign", "ops"},
		{"scram-argon2id", peer{"py-twisted", "websocket", "msgpack"}, login("scram", "py-scram", creds.pyScram), "py-scram", "ops"},
		{"ticket", peer{"js", "websocket", "json"}, login("ticket", "js-ticket", creds.jsTicket), "js-ticket", "worker"},
		{"wampcra-salted", peer{"js", "websocket", "cbor"}, login("wampcra", "js-wampcra", creds.jsWampcra), "js-wampcra", "frontend"},
		{"wampcra-plain", peer{"js", "websocket", "msgpack"}, login("wampcra", "js-wampcra-plain", creds.jsWampcraRaw), "js-wampcra-plain", "ops"},
		// No authid in HELLO: the router finds the principal by the public key.
		{"cryptosign-by-key", peer{"js", "unix", "json"}, login("cryptosign", "", creds.jsCryptosign.private), "js-cryptosign", "frontend"},
	} {
		t.Run("principal/"+tc.peer.lang+"/"+tc.name+"/"+tc.peer.transport+"-"+tc.peer.serializer, func(t *testing.T) {
			tc.peer.require(t)
			t.Parallel()
			tag := strings.ReplaceAll(tc.authid, "-", "_")
			args := append(append(append([]string{}, tc.args...), helper...),
				"--name", tag, "--expect-authid", tc.authid, "--expect-authrole", tc.authrole,
				"--plan", authPlan(tc.authrole, tag))
			runClient(t, r, tc.peer, "auth", uriPrefix("auth", tc.authid), args...)
		})
	}

	// Refusals: ABORT with the right reason.
	const failed, noMethod = "wamp.error.authentication_failed", "wamp.error.no_auth_method"
	for _, tc := range []struct {
		name   string
		peer   peer
		args   []string
		reason string
	}{
		{"ticket-wrong", peer{"py-asyncio", "websocket", "json"}, login("ticket", "py-ticket", "not-"+creds.pyTicket), failed},
		{"ticket-unknown-authid", peer{"py-twisted", "websocket", "cbor"}, login("ticket", "nobody", creds.pyTicket), failed},
		{"wampcra-wrong", peer{"py-twisted", "rawsocket", "cbor"}, login("wampcra", "py-wampcra", "not-"+creds.pyWampcra), failed},
		{"cryptosign-unknown-key", peer{"py-asyncio", "rawsocket", "msgpack"}, login("cryptosign", "py-cryptosign", creds.strangerKey.private), failed},
		{"scram-wrong", peer{"py-twisted", "websocket", "msgpack"}, login("scram", "py-scram", "not-"+creds.pyScram), failed},
		{"no-method-anonymous", peer{"py-twisted", "websocket", "json"}, []string{"--realm", authRealm, "--authmethod", "none"}, noMethod},
		{"no-method-scram", peer{"py-asyncio", "websocket", "cbor"}, append(login("scram", "someone", "x"), "--realm", ticketOnlyRealm), noMethod},
		{"ticket-wrong", peer{"js", "websocket", "json"}, login("ticket", "js-ticket", "not-"+creds.jsTicket), failed},
		{"wampcra-wrong", peer{"js", "websocket", "cbor"}, login("wampcra", "js-wampcra", "not-"+creds.jsWampcra), failed},
		// The configured public key, but the challenge signed with another key.
		{"cryptosign-forged", peer{"js", "rawsocket", "json"}, append(login("cryptosign", "js-cryptosign", creds.jsCryptosign.private), "--sign-with", creds.strangerKey.private), failed},
		{"no-method-wampcra", peer{"js", "websocket", "msgpack"}, append(login("wampcra", "someone", creds.ticketOnlyTkt), "--realm", ticketOnlyRealm), noMethod},
	} {
		t.Run("refused/"+tc.peer.lang+"/"+tc.name, func(t *testing.T) {
			tc.peer.require(t)
			t.Parallel()
			runClient(t, r, tc.peer, "auth", uriPrefix("refused", tc.name), append(tc.args, "--expect-abort", tc.reason)...)
		})
	}

	// The Advanced Profile, authenticated, with caller and publisher disclosed by the role
	// (autobahn-python cannot send disclose_me) and the meta API open to it.
	t.Run("advanced/py-asyncio/websocket-cbor", func(t *testing.T) {
		p := peer{"py-asyncio", "websocket", "cbor"}
		p.require(t)
		t.Parallel()
		runClient(t, r, p, "advanced", uriPrefix("advauth"),
			append(login("ticket", "adv", creds.advTicket), "--disclosed", "1",
				"--helper-authid", "advkill", "--helper-secret", creds.advKillTicket)...)
	})
}
