package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/spec"
)

func TestExampleConfigLoads(t *testing.T) {
	c, err := LoadConfig("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Listeners) != 3 || len(c.Realms) != 2 {
		t.Fatalf("%d listeners, %d realms", len(c.Listeners), len(c.Realms))
	}
	pub, ok := c.Listener("public")
	if !ok || pub.Transport != "ws" || pub.TLS == nil || pub.TLS.Cert != "/etc/switchyard/server.crt" || pub.ClientAuth() != tls.RequestClientCert {
		t.Fatalf("listener public %+v", pub)
	}
	if len(pub.AllowedOrigins) != 2 || pub.AllowedOrigins[1] != "*.example.com" {
		t.Fatalf("listener public allowed_origins %q", pub.AllowedOrigins)
	}
	if c.Admin == nil || c.Admin.Address != "127.0.0.1:8082" || c.Admin.Token != "change-me" {
		t.Fatalf("admin %+v", c.Admin)
	}
	dev, _ := c.Listener("devices")
	if dev.ClientAuth() != tls.NoClientCert || !dev.AllowsMethod("cryptosign") || dev.AllowsMethod("ticket") {
		t.Fatalf("listener devices %+v", dev)
	}
	r, ok := c.Realm("realm1")
	if !ok || r.Anonymous == nil || r.Anonymous.Role != "public" || len(r.Roles) != 4 || len(r.Principals) != 5 || r.PrincipalIndex().Len() != 5 {
		t.Fatalf("realm1 %+v", r)
	}
	alice, _ := r.PrincipalIndex().ByAuthID("alice")
	if alice.Ticket == nil || !alice.Ticket.Hashed() || alice.Extra["display_name"] != "Alice" || alice.Extra["tier"] != int64(2) {
		t.Fatalf("alice %+v", alice)
	}
	if ok, err := alice.Ticket.Verify(context.Background(), "correct horse battery staple"); !ok || err != nil {
		t.Fatal("alice's ticket hash does not verify")
	}
	if len(c.Warnings) != 0 {
		t.Fatalf("warnings on the example: %q", c.Warnings)
	}

	want := map[string][]string{
		"public":  {"cryptosign", "scram", "ticket", "tls", "wampcra"},
		"devices": {"cryptosign"},
		"local":   {"anonymous", "ticket"},
		"":        {"anonymous", "cryptosign", "scram", "ticket", "tls", "wamp-scram", "wampcra"},
	}
	for l, names := range want {
		m, err := c.Authenticators("realm1", l, BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.Names(), names) {
			t.Errorf("listener %q: %v, want %v", l, m.Names(), names)
		}
	}
	if _, err := c.Authenticators("partners", "", BuildOptions{}); err == nil {
		t.Fatal("dynamic realm built without a caller")
	}
	be := &backend{fn: func(spec.List) (spec.List, spec.Dict, error) { return spec.List{"partner"}, nil, nil }}
	m, err := c.Authenticators("partners", "", BuildOptions{Caller: be})
	if err != nil || !slices.Equal(m.Names(), []string{"ticket"}) {
		t.Fatalf("%v %v", m.Names(), err)
	}
	if _, err := c.Authenticators("nope", "", BuildOptions{}); err == nil {
		t.Fatal("unknown realm")
	}
	if _, err := c.Authenticators("realm1", "nope", BuildOptions{}); err == nil {
		t.Fatal("unknown listener")
	}

	// The realm's authenticators work end to end: bob (salted WAMP-CRA).
	m, _ = c.Authenticators("realm1", "public", BuildOptions{RateLimiter: NewRateLimiter(RateLimitOptions{})})
	a, err := m.Select([]string{"wampcra", "ticket"})
	if err != nil || a.Method() != "wampcra" {
		t.Fatalf("%v %v", a, err)
	}
	id, err := a.Authenticate(ctxT(t), hello("bob", nil), craClient(t, "secret2"))
	if err != nil || id.AuthRole != "user" {
		t.Fatalf("%+v %v", id, err)
	}

	// And the authorizer.
	az, err := c.Authorizer("realm1", BuildOptions{Caller: be})
	if err != nil {
		t.Fatal(err)
	}
	for _, cse := range []struct {
		role   string
		action Action
		uri    string
		allow  bool
	}{
		{"public", ActionCall, "com.example.public.time", true},
		{"public", ActionCall, "com.example.public.admin", false},
		{"public", ActionPublish, "com.example.public.x", false},
		{"user", ActionPublish, "com.example.chat", true},
		{"user", ActionRegister, "com.example.chat", false},
		{"user", ActionCall, "wamp.session.count", true},
		{"backend", ActionRegister, "anything.at.all", true},
		{"backend", ActionRegister, "wamp.session.count", false},
		{"partner", ActionCall, "com.example.x", true}, // the backend says "partner" (truthy non-bool → error) — see below
	} {
		d, err := az.Authorize(context.Background(), &Identity{AuthRole: cse.role}, 1, cse.action, spec.URI(cse.uri))
		if cse.role == "partner" {
			if err == nil {
				t.Error("malformed dynamic answer accepted")
			}
			continue
		}
		if err != nil || d.Allow != cse.allow {
			t.Errorf("%s %s %s = %+v %v", cse.role, cse.action, cse.uri, d, err)
		}
	}
	d, _ := az.Authorize(context.Background(), &Identity{AuthRole: "user"}, 1, ActionCall, "com.example.x")
	if !d.Allow || !d.Disclose {
		t.Fatalf("user call disclose: %+v", d)
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	m, err := c.Authenticators("realm1", "", BuildOptions{})
	if err != nil || !slices.Equal(m.Names(), []string{"anonymous"}) {
		t.Fatalf("%v %v", m.Names(), err)
	}
	a, err := m.Select(RequestedMethods(spec.Dict{}))
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Authenticate(ctxT(t), hello("", nil), noChallenge(t))
	if err != nil || id.AuthRole != "anonymous" {
		t.Fatal(id, err)
	}
	az, err := c.Authorizer("realm1", BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range allActions {
		if !decide(t, az, "anonymous", action, "com.example.anything").Allow {
			t.Errorf("%s denied", action)
		}
	}
	if decide(t, az, "anonymous", ActionRegister, "wamp.session.get").Allow {
		t.Error("wamp. register allowed")
	}
	if r := AnonymousRealm("other"); r.Name != "other" || r.Anonymous == nil {
		t.Fatal(r)
	}
}

// errCase: a document, and the one error it must produce.
type errCase struct {
	doc  string
	want string // "line: path: message" (message may be a prefix)
}

const base = `realms:
  - name: realm1
    anonymous: {role: anon}
    roles:
      - name: anon
        permissions:
          - uri: com.example.
            match: prefix
            allow: [call]
`

func TestConfigErrors(t *testing.T) {
	cases := []errCase{
		{`realms:
  - name: realm1
    roles:
      - name: a
        permissions:
          - uri: com.x
            match: regex
    anonymous: {role: a}
`, `7: realms[0].roles[0].permissions[0].match: "regex" is not exact, prefix or wildcard`},
		{base + "    colour: blue\n", `10: realms[0].colour: unknown key (known: name, anonymous, roles, principals, dynamic, http_api)`},
		{"listeners: []\n", `1: realms: at least one realm is required`},
		{"listeners:\n  - {transport: rawsocket, address: \":1\", allowed_origins: [a.com]}\n" + base, `2: listeners[0].allowed_origins: only WebSocket listeners (ws, listen) check the Origin header`},
		{"listeners:\n  - {transport: ws, address: \":1\", allowed_origins: [\"[\"]}\n" + base, `2: listeners[0].allowed_origins[0]: "[" is not a valid origin pattern: syntax error in pattern`},
		{"admin: {port: 1}\n" + base, `1: admin.port: unknown key (known: address, token)`},
		{"realms: []\n", `1: realms: at least one realm is required`},
		{"realms: {}\n", `1: realms: want a list, got a mapping`},
		{"[1, 2]\n", `1: want a mapping, got a list`},
		{base + "  - name: realm1\n    anonymous: {role: anon}\n    roles: [{name: anon}]\n", `10: realms[1].name: realm "realm1" appears twice`},
		{base + "  - name: \"bad realm\"\n    anonymous: {role: x}\n    roles: [{name: x}]\n", `10: realms[1].name: "bad realm" is not a valid realm URI`},
		{base + "  - anonymous: {role: x}\n    roles: [{name: x}]\n", `10: realms[1].name: required`},
		{base + "  - name: r2\n    roles: [{name: x}]\n", `10: realms[1]: nobody can join`},
		{base + "  - name: r2\n    anonymous: {role: ghost}\n", `11: realms[1].anonymous.role: role "ghost" is not defined in this realm's roles`},
		{base + "          - uri: com.example.\n            match: prefix\n", `10: realms[0].roles[0].permissions[1].uri: prefix pattern "com.example." appears twice in this role`},
		{base + "          - uri: com..x\n", `10: realms[0].roles[0].permissions[1].uri: "com..x" is not a valid exact URI pattern`},
		{base + "          - uri: com.a\n            allow: [call, delete]\n", `11: realms[0].roles[0].permissions[1].allow[1]: "delete" is not one of call, register, publish, subscribe`},
		{base + "          - uri: com.a\n            allow: {call: yes}\n", `11: realms[0].roles[0].permissions[1].allow.call: want true or false, got "yes"`},
		{base + "          - uri: com.a\n            disclose: [callee]\n", `11: realms[0].roles[0].permissions[1].disclose[0]: "callee" is not one of caller, publisher`},
		{base + "          - uri: wamp.session.\n            match: prefix\n            allow: [register]\n", `10: realms[0].roles[0].permissions[1]: register and publish under "wamp." are reserved`},
		{base + "          - match: prefix\n", `10: realms[0].roles[0].permissions[1].uri: required`},
		{base + "          - uri: \"\"\n", `10: realms[0].roles[0].permissions[1].uri: the empty URI is only valid with match: prefix`},
		{base + "      - name: anon\n", `10: realms[0].roles[1].name: role "anon" appears twice`},
		{base + "      - name: dyn\n        authorizer: com.authz\n        cache_ttl: soon\n", `12: realms[0].roles[1].cache_ttl: want a duration such as "30s" or "5m", got "soon"`},
		{base + "      - name: dyn\n        cache_ttl: 5s\n", `11: realms[0].roles[1].cache_ttl: only applies to a role with an authorizer`},
		{base + "      - name: dyn\n        authorizer: com.authz\n        permissions: []\n", `11: realms[0].roles[1].authorizer: a role has either permissions or an authorizer, not both`},
		{base + "      - name: dyn\n        authorizer: \"com authz\"\n", `11: realms[0].roles[1].authorizer: "com authz" is not a valid procedure URI`},
		{base + "    principals:\n      - authid: joe\n        role: ghost\n        ticket: x\n", `12: realms[0].principals[0].role: role "ghost" is not defined in this realm's roles`},
		{base + "    principals:\n      - authid: joe\n        role: anon\n", `11: realms[0].principals[0]: no credentials`},
		{base + "    principals:\n      - role: anon\n        ticket: x\n", `11: realms[0].principals[0].authid: required`},
		{base + "    principals:\n      - {authid: joe, role: anon, ticket: x}\n      - {authid: joe, role: anon, ticket: y}\n", `12: realms[0].principals[1].authid: authid "joe" appears twice`},
		{base + "    principals:\n      - {authid: joe, role: anon, ticket: x, ticket_hash: y}\n", `11: realms[0].principals[0].ticket_hash: give ticket or ticket_hash, not both`},
		{base + "    principals:\n      - authid: joe\n        role: anon\n        ticket_hash: \"$md5$x$y\"\n", `13: realms[0].principals[0].ticket_hash: unknown ticket hash scheme: want`},
		{base + "    principals:\n      - authid: joe\n        role: anon\n        cryptosign: [abcd]\n", `13: realms[0].principals[0].cryptosign[0]: cryptosign public key must be 64 hex digits`},
		{base + "    principals:\n      - authid: joe\n        role: anon\n        cryptosign: " + strings.Repeat("zz", 32) + "\n", `13: realms[0].principals[0].cryptosign[0]: cryptosign public key is not hex`},
		{base + "    principals:\n      - {authid: a, role: anon, cryptosign: " + abCsPub + "}\n      - {authid: b, role: anon, cryptosign: [" + abCsPub + "]}\n", `12: realms[0].principals[1].cryptosign: public key ` + abCsPub + ` also belongs to "a"`},
		{base + "    principals:\n      - authid: joe\n        role: anon\n        tls: [\"AB:CD\"]\n", `13: realms[0].principals[0].tls[0]: certificate fingerprint is 2 bytes`},
		{base + "    principals:\n      - authid: joe\n        role: anon\n        wampcra: {key: abc}\n", `13: realms[0].principals[0].wampcra.key: a derived key needs salt, iterations and keylen`},
		{base + "    principals:\n      - authid: joe\n        role: anon\n        wampcra: {secret: s, salt: x, iterations: 0, keylen: 32}\n", `13: realms[0].principals[0].wampcra.iterations: 0 is out of range [1, 1000000]`},
		{base + "    principals:\n      - authid: joe\n        role: anon\n        wampcra: {key: abc, salt: x, iterations: 10, keylen: 32}\n", `13: realms[0].principals[0].wampcra.key: derived WAMP-CRA key is not base64`},
		{base + "    principals:\n      - authid: joe\n        role: anon\n        wampcra: {salt: x, iterations: 10}\n", `13: realms[0].principals[0].wampcra.keylen: required with a salt`},
		{base + "    principals:\n      - authid: joe\n        role: anon\n        scram:\n          kdf: scrypt\n", `14: realms[0].principals[0].scram.kdf: "scrypt" is not argon2id-13 or pbkdf2`},
		{base + "    principals:\n      - authid: joe\n        role: anon\n        scram: {kdf: pbkdf2, iterations: 1000, salt: 0011223344556677, stored_key: 00, server_key: " + strings.Repeat("00", 32) + "}\n", `13: realms[0].principals[0].scram.stored_key: must be 32 bytes`},
		{base + "    principals:\n      - authid: joe\n        role: anon\n        scram: {kdf: argon2id-13, iterations: 2, salt: 0011223344556677, stored_key: x, server_key: y}\n", `13: realms[0].principals[0].scram.memory: required for argon2id-13`},
		{base + "    dynamic:\n      scram: com.auth\n", `11: realms[0].dynamic.scram: dynamic authentication is supported for ticket, wampcra and cryptosign`},
		{base + "    dynamic:\n      ticket: com.auth\n    principals:\n      - {authid: joe, role: anon, ticket: x}\n", `13: realms[0].principals[0].ticket: method ticket is dynamic in this realm`},
		{base + "listeners:\n  - transport: sctp\n    address: x\n", `11: listeners[0].transport: "sctp" is not ws, rawsocket, unix or listen`},
		{base + "listeners:\n  - transport: ws\n", `11: listeners[0].address: required`},
		{base + "listeners:\n  - {transport: ws, address: a}\n  - {transport: ws, address: a}\n", `12: listeners[1].name: listener "a" appears twice`},
		{base + "listeners:\n  - {transport: ws, address: a, auth: [kerberos]}\n", `11: listeners[0].auth[0]: unknown method "kerberos"`},
		{base + "listeners:\n  - {transport: ws, address: a, auth: [tls]}\n", `11: listeners[0].auth: method tls needs the listener to have tls`},
		{base + "listeners:\n  - {transport: unix, address: /s, tls: {cert: c, key: k}}\n", `11: listeners[0].tls: TLS on a unix socket listener is not supported`},
		{base + "listeners:\n  - {transport: ws, address: a, tls: {cert: c}}\n", `11: listeners[0].tls.key: required`},
		{base + "defaults: &d {role: anon}\n", `10: defaults: unknown key (known: listeners, realms, console, admin, cluster)`},
		{base + "    principals:\n      - <<: {role: anon}\n        authid: x\n        ticket: y\n", `11: realms[0].principals[0]: merge keys (<<) are not supported`},
		{base + "    principals:\n      - {authid: joe, role: anon, ticket: x, extra: [1]}\n", `11: realms[0].principals[0].extra: want a mapping, got a list`},
		{base + "    principals:\n      - {authid: joe, role: anon, ticket: x, extra: {n: !!int 99999999999999999999999}}\n", `11: realms[0].principals[0].extra.n: "99999999999999999999999" is not a 64-bit integer`},
		{base + "    name: again\n", `10: realms[0].name: key appears twice`},
		{"realms:\n  - name: r\n    x: @foo\n", `3: YAML syntax: found character that cannot start any token`},
		{"", `the document is empty`},
		{"# only a comment\n", `the document is empty`},
	}
	for _, c := range cases {
		_, err := ParseConfig([]byte(c.doc), "config.yaml")
		if err == nil {
			t.Errorf("accepted:\n%s\nwant %s", c.doc, c.want)
			continue
		}
		want := "config.yaml:" + c.want // "config.yaml:12: path: message"
		if c.want[0] < '0' || c.want[0] > '9' {
			want = "config.yaml: " + c.want // no line
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("doc:\n%s\nerror:\n%v\nwant it to contain:\n%s", c.doc, err, want)
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.File != "config.yaml" {
			t.Errorf("not a *ConfigError: %T", err)
		}
	}
}

func TestConfigErrorsAreCollectedAndBounded(t *testing.T) {
	doc := base + "    principals:\n"
	for range 40 {
		doc += "      - {authid: x, role: ghost}\n"
	}
	_, err := ParseConfig([]byte(doc), "c.yaml")
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxConfigErrors+1 || !strings.Contains(lines[len(lines)-1], "too many errors") {
		t.Fatalf("%d lines:\n%v", len(lines), err)
	}
}

func TestConfigAliasesAndBombs(t *testing.T) {
	doc := `realms:
  - name: r
    roles:
      - name: anon
        permissions:
          - &all {uri: "", match: prefix, allow: [call, subscribe]}
      - name: other
        permissions: [*all]
    anonymous: {role: anon}
`
	c, err := ParseConfig([]byte(doc), "a.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Realms[0].Roles[1].Permissions) != 1 || !c.Realms[0].Roles[1].Permissions[0].Subscribe {
		t.Fatalf("%+v", c.Realms[0].Roles)
	}
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g"} {
		bomb += n + ": &" + n + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = n
	}
	doc = base + "    principals:\n      - {authid: joe, role: anon, ticket: x, extra: {boom: *g}}\n"
	doc = strings.Replace(doc, "realms:\n", "realms:\n", 1)
	start := time.Now()
	_, err = ParseConfig([]byte(bomb+doc), "bomb.yaml")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("alias bomb: %v after %v", err, time.Since(start))
	}
}

func TestConfigValues(t *testing.T) {
	doc := base + `    principals:
      - authid: joe
        role: anon
        ticket: 12345
        extra:
          i: -7
          big: 18446744073709551615
          f: 1.5
          inf: .inf
          b: true
          "null": null
          s: text
          l: [1, "two", {three: 3}]
          bin: !!binary aGVsbG8=
      - authid: cb
        role: anon
        scram:
          kdf: pbkdf2
          iterations: 4096
          salt: 70626b6466322d73616c742d30303031
          stored-key: ` + abScramPbkdf2Stored + `
          server-key: ` + abScramPbkdf2Server + `
      - authid: w
        role: anon
        wampcra: plain-secret
        tls: ` + strings.Repeat("ab", 20) + `
`
	c, err := ParseConfig([]byte(doc), "v.yaml")
	if err != nil {
		t.Fatal(err)
	}
	idx := c.Realms[0].PrincipalIndex()
	joe, _ := idx.ByAuthID("joe")
	if ok, _ := joe.Ticket.Verify(context.Background(), "12345"); !ok {
		t.Fatal("numeric ticket is not its literal text")
	}
	x := joe.Extra
	if x["i"] != int64(-7) || x["big"] != uint64(math.MaxUint64) || x["f"] != 1.5 || x["inf"] != math.Inf(1) || x["b"] != true ||
		x["null"] != nil || x["s"] != "text" || string(x["bin"].([]byte)) != "hello" {
		t.Fatalf("extra %#v", x)
	}
	if l := x["l"].([]any); l[0] != int64(1) || l[1] != "two" || l[2].(map[string]any)["three"] != int64(3) {
		t.Fatalf("list %#v", l)
	}
	cb, _ := idx.ByAuthID("cb")
	if cb.Scram == nil || cb.Scram.Iterations != 4096 || string(cb.Scram.Salt) != "pbkdf2-salt-0001" {
		t.Fatalf("scram %+v", cb.Scram)
	}
	if len(c.Warnings) != 2 {
		t.Fatalf("warnings %q", c.Warnings)
	}
	// A Crossbar-style credential authenticates autobahn's vector client.
	withServerNonce(t, seq(32, 16))
	m, _ := c.Authenticators("realm1", "", BuildOptions{})
	a, _ := m.Get("scram")
	if _, err := a.Authenticate(ctxT(t), hello("cb", spec.Dict{"nonce": abScramClientNonce}), answer(abScramPbkdf2Proof)); err == nil {
		t.Fatal("authid cb is not alice: the AuthMessage must differ") // n=cb vs n=alice
	}
}

func TestConfigWarnings(t *testing.T) {
	doc := base + "    principals:\n      - {authid: joe, role: anon, ticket: plain}\nlisteners:\n  - {transport: ws, address: \"0.0.0.0:80\"}\n  - {transport: ws, address: \"0.0.0.0:443\", auth: [anonymous]}\n"
	c, err := ParseConfig([]byte(doc), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(c.Warnings, "\n")
	if !strings.Contains(joined, "plain-text ticket") || !strings.Contains(joined, "listener 0.0.0.0:80: ticket authentication") || strings.Contains(joined, "443") {
		t.Fatalf("warnings:\n%s", joined)
	}
	if strings.Contains(joined, "plain\"") || strings.Contains(joined, " plain ") {
		t.Fatal("a warning contains the secret")
	}
}

func TestLoadConfigErrors(t *testing.T) {
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, make([]byte, maxConfigSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("big file: %v", err)
	}
	if _, err := ParseConfig(make([]byte, maxConfigSize+1), "x"); err == nil {
		t.Fatal("big document accepted")
	}
}

func TestListenerTLSConfig(t *testing.T) {
	dir := t.TempDir()
	cert := selfSigned(t, "server")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	der, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cp, kp, ca := write("c.pem", certPEM), write("k.pem", keyPEM), write("ca.pem", certPEM)
	l := &Listener{Name: "x", TLS: &ListenerTLS{Cert: cp, Key: kp, ClientCA: ca}}
	tc, err := l.TLSConfig()
	if err != nil || tc.ClientAuth != tls.VerifyClientCertIfGiven || tc.ClientCAs == nil || tc.MinVersion != tls.VersionTLS12 {
		t.Fatalf("%+v %v", tc, err)
	}
	l.TLS.ClientCA = write("bad.pem", []byte("nope"))
	if _, err := l.TLSConfig(); err == nil {
		t.Fatal("bad CA accepted")
	}
	l.TLS.ClientCA = ""
	l.Auth = []string{"ticket"}
	if tc, err := l.TLSConfig(); err != nil || tc.ClientAuth != tls.NoClientCert {
		t.Fatalf("%v %v", tc.ClientAuth, err)
	}
	l.TLS.Key = cp
	if _, err := l.TLSConfig(); err == nil {
		t.Fatal("bad key accepted")
	}
	if tc, err := (&Listener{}).TLSConfig(); tc != nil || err != nil {
		t.Fatal("plain listener")
	}
}

func TestRealmConfigInCode(t *testing.T) {
	r := &RealmConfig{Name: "r", Roles: []Role{{Name: "user"}},
		Principals: []Principal{{AuthID: "a", Role: "ghost", Ticket: PlainTicket("x")}}}
	if _, err := r.Authenticators(nil, BuildOptions{}); err == nil || !strings.Contains(err.Error(), `role "ghost"`) {
		t.Fatalf("undefined principal role: %v", err)
	}
	r = &RealmConfig{Name: "r", Anonymous: &AnonymousOptions{Role: "ghost"}}
	if _, err := r.Authenticators(nil, BuildOptions{}); err == nil {
		t.Fatal("undefined anonymous role accepted")
	}
	r = &RealmConfig{Name: "r", Roles: []Role{{Name: "user"}},
		Principals: []Principal{{AuthID: "a", Role: "user", Ticket: PlainTicket("x")}, {AuthID: "a", Role: "user"}}}
	if _, err := r.Authenticators(nil, BuildOptions{}); err == nil {
		t.Fatal("duplicate authid accepted")
	}
	r.Principals = r.Principals[:1]
	m, err := r.Authenticators(nil, BuildOptions{})
	if err != nil || !slices.Equal(m.Names(), []string{"ticket"}) {
		t.Fatalf("%v %v", m.Names(), err)
	}
}

// TestConfigConsoleKey: the top-level "console" key is optional, a boolean,
// and reaches Config.Console (nil when absent, so the CLI default holds).
func TestConfigConsoleKey(t *testing.T) {
	const realms = "realms:\n  - name: realm1\n    anonymous: {role: anon}\n    roles: [{name: anon}]\n"
	c, err := ParseConfig([]byte(realms), "none.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Console != nil {
		t.Fatalf("absent key: console %v; want nil", *c.Console)
	}
	c, err = ParseConfig([]byte("console: false\n"+realms), "off.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Console == nil || *c.Console {
		t.Fatalf("console: false gave %v", c.Console)
	}
	ex, err := LoadConfig("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if ex.Console == nil || !*ex.Console {
		t.Fatalf("example.yaml console: %v; want true", ex.Console)
	}
	_, err = ParseConfig([]byte("console: sometimes\n"+realms), "bad.yaml")
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:1: console: want true or false") {
		t.Fatalf("console: sometimes: %v", err)
	}
}
