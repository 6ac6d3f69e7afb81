package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

func abortURI(err error) spec.URI {
	var we *client.Error
	if errors.As(err, &we) {
		return we.URI
	}
	return ""
}

func TestTicketAndCryptosignFlags(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	p := startRouter(t, "--no-anonymous", "--ticket", "alice:s3cret", "--cryptosign", "dev1:"+hex.EncodeToString(pub)+":device", "--auth-rate-limit=false")
	c, err := client.Connect(ctxT(t, 5*time.Second), p.urls["rawsocket"], client.Config{Serializer: "msgpack", AuthMethods: []string{"ticket"}, AuthID: "alice", Authenticate: client.Ticket("s3cret")})
	if err != nil {
		t.Fatalf("ticket: %v", err)
	}
	defer c.Close(ctxT(t, 5*time.Second))
	if c.Details()["authrole"] != "user" || c.Details()["authmethod"] != "ticket" {
		t.Fatalf("WELCOME %v", c.Details())
	}
	d, err := client.Connect(ctxT(t, 5*time.Second), p.urls["ws"], client.Config{AuthMethods: []string{"cryptosign"}, AuthExtra: client.CryptosignExtra(priv), Authenticate: client.Cryptosign(priv)})
	if err != nil {
		t.Fatalf("cryptosign: %v", err)
	}
	defer d.Close(ctxT(t, 5*time.Second))
	if d.Details()["authid"] != "dev1" || d.Details()["authrole"] != "device" {
		t.Fatalf("WELCOME %v", d.Details())
	}
	if _, err := client.Connect(ctxT(t, 5*time.Second), p.urls["ws"], client.Config{}); abortURI(err) != spec.ErrNoAuthMethod {
		t.Fatalf("anonymous: %v, want no_auth_method", err)
	}
	if _, err := client.Connect(ctxT(t, 5*time.Second), p.urls["ws"], client.Config{AuthMethods: []string{"ticket"}, AuthID: "alice", Authenticate: client.Ticket("wrong")}); abortURI(err) != spec.ErrAuthenticationFailed {
		t.Fatalf("wrong ticket: %v", err)
	}
	if strings.Contains(p.log.String(), "s3cret") {
		t.Fatal("a secret reached the log")
	}
}

func TestConfigFileListenersRestrictMethods(t *testing.T) {
	dir := t.TempDir()
	addrs := freePorts(t, 2)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	cfg := `
listeners:
  - name: devices
    transport: rawsocket
    address: ` + addrs[0] + `
    auth: [cryptosign]
  - name: apps
    transport: ws
    address: ` + addrs[1] + `
realms:
  - name: plant
    roles:
      - name: device
        permissions:
          - uri: plant.telemetry.
            match: prefix
            allow: [publish]
      - name: app
        permissions:
          - uri: plant.
            match: prefix
            allow: [subscribe, call]
    principals:
      - authid: dev1
        role: device
        cryptosign: [` + hex.EncodeToString(pub) + `]
      - authid: app1
        role: app
        ticket: app-ticket
`
	path := filepath.Join(dir, "switchyard.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	startRouterWith(t, []string{addrs[0], addrs[1]}, "serve", "--config", path, "--auth-rate-limit=false")
	ticket := client.Config{Realm: "plant", AuthMethods: []string{"ticket"}, AuthID: "app1", Authenticate: client.Ticket("app-ticket")}
	if _, err := client.Connect(ctxT(t, 5*time.Second), "rs://"+addrs[0], ticket); abortURI(err) != spec.ErrNoAuthMethod {
		t.Fatalf("ticket on the cryptosign-only listener: %v", err)
	}
	app, err := client.Connect(ctxT(t, 5*time.Second), "ws://"+addrs[1]+"/", ticket)
	if err != nil {
		t.Fatalf("ticket on the apps listener: %v", err)
	}
	defer app.Close(ctxT(t, 5*time.Second))
	dev, err := client.Connect(ctxT(t, 5*time.Second), "rs://"+addrs[0], client.Config{Realm: "plant", Serializer: "cbor", AuthMethods: []string{"cryptosign"}, AuthExtra: client.CryptosignExtra(priv), Authenticate: client.Cryptosign(priv)})
	if err != nil {
		t.Fatalf("cryptosign on the devices listener: %v", err)
	}
	defer dev.Close(ctxT(t, 5*time.Second))
	got := make(chan *client.Event, 1)
	if _, err := app.Subscribe(ctxT(t, 5*time.Second), "plant.telemetry.temp", func(e *client.Event) { got <- e }, nil); err != nil {
		t.Fatal(err)
	}
	if err := dev.Publish(ctxT(t, 5*time.Second), "plant.telemetry.temp", spec.List{21.5}, nil, spec.Dict{"acknowledge": true}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		if e.Arguments[0] != 21.5 {
			t.Fatalf("event %v", e.Arguments)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	if err := dev.Publish(ctxT(t, 5*time.Second), "plant.control.stop", nil, nil, spec.Dict{"acknowledge": true}); abortURI(err) != spec.ErrNotAuthorized {
		t.Fatalf("device publishing outside its permission: %v", err)
	}
}

func TestBadConfigFileStopsTheRouter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(path, []byte("realms:\n  - name: r1\n    roles:\n      - name: user\n        permissions:\n          - uri: a.b\n            match: regex\n"), 0o600)
	out, err := exec.Command(routerBinary, "serve", "--config", path, "--ws", "127.0.0.1:0", "--rawsocket", "").CombinedOutput()
	if err == nil {
		t.Fatal("the router started with a bad config file")
	}
	msg := string(out)
	if !strings.Contains(msg, "bad.yaml:7") || !strings.Contains(msg, "match") {
		t.Fatalf("the error does not name the line and the field:\n%s", msg)
	}
}

func TestEventHistoryFlag(t *testing.T) {
	p := startRouter(t, "--event-history", "e2e.history=2", "--event-history", "prefix:e2e.logs.")
	c := connect(t, p, "rawsocket", "cbor")
	id, err := c.Subscribe(ctxT(t, 5*time.Second), "e2e.history", func(*client.Event) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := c.Publish(ctxT(t, 5*time.Second), "e2e.history", spec.List{int64(i)}, nil, spec.Dict{"acknowledge": true}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.Call(ctxT(t, 5*time.Second), "wamp.subscription.get_events", spec.List{int64(id)}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	events, _ := res.Arguments[0].([]any)
	if len(events) != 2 {
		t.Fatalf("history kept %d events, want the last 2: %v", len(events), events)
	}
	if _, err := exec.Command(routerBinary, "serve", "--event-history", "bad..uri", "--ws", "", "--rawsocket", "").CombinedOutput(); err == nil {
		t.Fatal("the router started with an invalid --event-history")
	}
}

// TestKeygenAndDerive: the credential helpers print what the config file
// takes (the WAMP-CRA vector is autobahn-python's).
func TestKeygenAndDerive(t *testing.T) {
	out, err := exec.Command(routerBinary, "keygen").Output()
	if err != nil {
		t.Fatal(err)
	}
	var pub, priv string
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "public:"); ok {
			pub = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "private:"); ok {
			priv = strings.TrimSpace(v)
		}
	}
	if _, err := hex.DecodeString(pub); err != nil || len(pub) != 64 || len(priv) != 64 {
		t.Fatalf("keygen printed %q", out)
	}
	seed, _ := hex.DecodeString(priv)
	if got := hex.EncodeToString(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)); got != pub {
		t.Fatalf("the private key does not match the public one")
	}
	out, err = exec.Command(routerBinary, "derive", "wampcra", "--secret", "L3L1YUE8Txlw", "--salt", "salt123", "--iterations", "1000").Output()
	if err != nil || !strings.Contains(string(out), "key: qzcdsr9uu/L5hnss3kjNTRe490ETgA70ZBaB5rvnJ5Y=") {
		t.Fatalf("derive wampcra printed %q (%v)", out, err)
	}
	cmd := exec.Command(routerBinary, "derive", "ticket")
	cmd.Stdin = strings.NewReader("a-ticket\n")
	out, err = cmd.Output()
	if err != nil || !strings.HasPrefix(string(out), `ticket_hash: "$argon2id$`) {
		t.Fatalf("derive ticket printed %q (%v)", out, err)
	}
	cmd = exec.Command(routerBinary, "derive", "scram", "--kdf", "pbkdf2", "--iterations", "1000")
	cmd.Stdin = strings.NewReader("a-password\n")
	out, err = cmd.Output()
	if err != nil || !strings.Contains(string(out), "stored_key: ") || !strings.Contains(string(out), "kdf: pbkdf2") {
		t.Fatalf("derive scram printed %q (%v)", out, err)
	}
}
