package browser

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secureConfig is a realm configured by file: a reader role that may only
// call and subscribe under com.example. (and read session meta), a writer
// that may do everything, and one principal per authentication method.
func secureConfig(t *testing.T, cryptosignPub string) string {
	t.Helper()
	doc := `console: true
realms:
  - name: secure
    roles:
      - name: reader
        permissions:
          - uri: com.example.
            match: prefix
            allow: [call, subscribe]
          - uri: wamp.session.
            match: prefix
            allow: [call, subscribe]
      - name: writer
        permissions:
          - uri: ""
            match: prefix
            allow: [call, register, publish, subscribe]
    principals:
      - authid: alice
        role: reader
        ticket: alice-ticket
      - authid: bob
        role: writer
        wampcra:
          secret: bob-password
          salt: salt123
          iterations: 1000
          keylen: 32
      - authid: carol
        role: writer
        wampcra: carol-plain
      - authid: dave
        role: reader
        cryptosign:
          - ` + cryptosignPub + "\n"
	path := filepath.Join(t.TempDir(), "switchyard.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAuthenticationAndRefusals: the page logs in with ticket, wampcra
// (salted and plain, through WebCrypto) and cryptosign (WebCrypto
// Ed25519); wrong credentials and actions the role may not do show the
// router's error on the page.
func TestAuthenticationAndRefusals(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r := startRouter(t, "--config", secureConfig(t, hex.EncodeToString(pub)))
	p := newPage(t, r)

	// Ticket: a wrong one is refused, with the reason on the page.
	p.open("?realm=secure&authmethod=ticket&authid=alice")
	p.fill("secret", "not-the-ticket")
	p.click("connect")
	p.waitText("#connect-error", "wamp.error.authentication_failed")
	if state := p.text("#status"); state != "Disconnected" {
		t.Errorf("after a refused login the page says %q", state)
	}
	p.fill("secret", "alice-ticket")
	p.click("connect")
	p.waitConnected()
	if id, role := p.text("#session-authid"), p.text("#session-authrole"); id != "alice" || role != "reader" {
		t.Errorf("ticket login shows authid %q, authrole %q", id, role)
	}
	if m := p.text("#session-authmethod"); m != "ticket" {
		t.Errorf("auth method shown: %q", m)
	}
	// What the reader role may not do is refused, and the page says why.
	p.fill("reg-procedure", "com.example.mine")
	p.click("register")
	p.waitText("#reg-result", "register failed: wamp.error.not_authorized")
	p.fill("pub-topic", "com.example.news", "pub-args", `["x"]`, "pub-acknowledge", "true")
	p.click("publish")
	p.waitText("#pub-result", "publish failed: wamp.error.not_authorized")
	p.fill("sub-topic", "com.other.topic", "sub-match", "exact")
	p.click("subscribe")
	p.waitText("#sub-result", "subscribe failed: wamp.error.not_authorized")
	// ... while what it may do works.
	p.fill("sub-topic", "com.example.news")
	p.click("subscribe")
	p.waitText("#sub-result", "subscribed to com.example.news")
	// The realm view: sessions are readable, registrations are not.
	p.waitText("#meta-status", "registrations: wamp.error.not_authorized")
	p.waitText("#meta-sessions", "alice (reader)")
	p.click("disconnect")
	p.waitFor(`document.body.dataset.state === "disconnected"`, "the page to disconnect")

	// WAMP-CRA, salted (PBKDF2 in WebCrypto), then a wrong secret, then plain.
	p.fill("authmethod", "wampcra", "authid", "bob", "secret", "bob-password")
	p.click("connect")
	p.waitConnected()
	if id, role := p.text("#session-authid"), p.text("#session-authrole"); id != "bob" || role != "writer" {
		t.Errorf("wampcra login shows authid %q, authrole %q", id, role)
	}
	p.fill("reg-procedure", "com.example.mine")
	p.click("register")
	p.waitText("#reg-result", "registered com.example.mine")
	p.click("disconnect")
	p.waitFor(`document.body.dataset.state === "disconnected"`, "the page to disconnect")

	p.fill("authid", "bob", "secret", "wrong-password")
	p.click("connect")
	p.waitText("#connect-error", "wamp.error.authentication_failed")

	p.fill("authid", "carol", "secret", "carol-plain")
	p.click("connect")
	p.waitConnected()
	if id := p.text("#session-authid"); id != "carol" {
		t.Errorf("plain wampcra login shows authid %q", id)
	}
	p.click("disconnect")
	p.waitFor(`document.body.dataset.state === "disconnected"`, "the page to disconnect")

	// Cryptosign: the page derives the public key from the seed with
	// WebCrypto Ed25519 and signs the challenge.
	p.fill("authmethod", "cryptosign", "authid", "", "secret", hex.EncodeToString(priv.Seed()))
	p.click("connect")
	p.waitConnected()
	if id, m := p.text("#session-authid"), p.text("#session-authmethod"); id != "dave" || m != "cryptosign" {
		t.Errorf("cryptosign login shows authid %q, method %q", id, m)
	}
	// A key the realm does not know is refused.
	p.click("disconnect")
	p.waitFor(`document.body.dataset.state === "disconnected"`, "the page to disconnect")
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	p.fill("secret", hex.EncodeToString(other.Seed()))
	p.click("connect")
	p.waitText("#connect-error", "wamp.error.authentication_failed")
	// The log shows every message, but not secrets: the AUTHENTICATE
	// signature (for ticket, the ticket itself) is masked.
	log := p.text("#log")
	for _, secret := range []string{"alice-ticket", "bob-password", "carol-plain"} {
		if strings.Contains(log, secret) {
			t.Errorf("the message log shows the secret %q", secret)
		}
	}
	if !strings.Contains(log, "AUTHENTICATE") {
		t.Error("the message log lacks the AUTHENTICATE messages")
	}
}
