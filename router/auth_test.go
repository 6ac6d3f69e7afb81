package router_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

func (tr *testRouter) joinWith(ser serializer.Serializer, cfg client.Config) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if cfg.Realm == "" {
		cfg.Realm = "realm1"
	}
	c, err := client.Join(ctx, tr.pipe(ser), cfg)
	if err == nil {
		tr.t.Cleanup(func() { c.Close(ctxT(tr.t)) })
	}
	return c, err
}

const authYAML = `
realms:
  - name: realm1
    roles:
      - name: user
        permissions:
          - uri: com.example.
            match: prefix
            allow: [call, subscribe]
            disclose: [caller]
          - uri: org..status
            match: wildcard
            allow: [publish, subscribe]
          - uri: com.example.mine
            allow: [register, call]
          - uri: wamp.session.count
            allow: [call]
      - name: backend
        permissions:
          - uri: ""
            match: prefix
            allow: [call, register, publish, subscribe]
            disclose: [caller, publisher]
      - name: partner
        authorizer: com.example.authorize
    principals:
      - authid: alice
        role: user
        ticket: secret-ticket
      - authid: bob
        role: user
        wampcra: bob-secret
      - authid: carl
        role: partner
        ticket: partner-ticket
      - authid: svc
        role: backend
        cryptosign:
          - PUBKEY
`

func authRouter(t *testing.T) (*testRouter, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := auth.ParseConfig([]byte(strings.Replace(authYAML, "PUBKEY", hex.EncodeToString(pub), 1)), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	realm, _ := cfg.Realm("realm1")
	return newTestRouter(t, router.Options{Realms: []router.RealmConfig{{Name: "realm1", Auth: realm}}}), priv
}

func TestAuthenticationMethods(t *testing.T) {
	tr, key := authRouter(t)
	alice, err := tr.joinWith(serializer.JSON, client.Config{AuthMethods: []string{"ticket"}, AuthID: "alice", Authenticate: client.Ticket("secret-ticket")})
	if err != nil {
		t.Fatalf("ticket: %v", err)
	}
	d := alice.Details()
	if d["authid"] != "alice" || d["authrole"] != "user" || d["authmethod"] != "ticket" || d["authprovider"] == nil {
		t.Fatalf("WELCOME identity %v", d)
	}
	bob, err := tr.joinWith(serializer.MessagePack, client.Config{AuthMethods: []string{"wampcra"}, AuthID: "bob", Authenticate: client.WampCRA("bob-secret")})
	if err != nil {
		t.Fatalf("wampcra: %v", err)
	}
	if bob.Details()["authmethod"] != "wampcra" {
		t.Fatalf("bob %v", bob.Details())
	}
	svc, err := tr.joinWith(serializer.CBOR, client.Config{AuthMethods: []string{"cryptosign"}, AuthID: "svc", AuthExtra: client.CryptosignExtra(key), Authenticate: client.Cryptosign(key)})
	if err != nil {
		t.Fatalf("cryptosign: %v", err)
	}
	if svc.Details()["authrole"] != "backend" {
		t.Fatalf("svc %v", svc.Details())
	}
	// The client's order of preference decides among allowed methods.
	first, err := tr.joinWith(serializer.JSON, client.Config{AuthMethods: []string{"scram", "ticket", "wampcra"}, AuthID: "alice", Authenticate: client.Ticket("secret-ticket")})
	if err != nil || first.Details()["authmethod"] != "ticket" {
		t.Fatalf("method choice: %v %v", err, first)
	}
}

func TestAuthenticationFailures(t *testing.T) {
	tr, key := authRouter(t)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	cases := []struct {
		name string
		cfg  client.Config
		want spec.URI
	}{
		{"wrong ticket", client.Config{AuthMethods: []string{"ticket"}, AuthID: "alice", Authenticate: client.Ticket("nope")}, spec.ErrAuthenticationFailed},
		{"unknown principal", client.Config{AuthMethods: []string{"ticket"}, AuthID: "mallory", Authenticate: client.Ticket("x")}, spec.ErrAuthenticationFailed},
		{"wrong wampcra secret", client.Config{AuthMethods: []string{"wampcra"}, AuthID: "bob", Authenticate: client.WampCRA("guess")}, spec.ErrAuthenticationFailed},
		{"unknown key", client.Config{AuthMethods: []string{"cryptosign"}, AuthExtra: client.CryptosignExtra(otherKey), Authenticate: client.Cryptosign(otherKey)}, spec.ErrAuthenticationFailed},
		{"key signed by another", client.Config{AuthMethods: []string{"cryptosign"}, AuthExtra: client.CryptosignExtra(key), Authenticate: client.Cryptosign(otherKey)}, spec.ErrAuthenticationFailed},
		{"anonymous not allowed", client.Config{}, spec.ErrNoAuthMethod},
		{"no method configured", client.Config{AuthMethods: []string{"scram"}, AuthID: "alice"}, spec.ErrNoAuthMethod},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tr.joinWith(serializer.JSON, tc.cfg)
			if wampErrorURI(err) != tc.want {
				t.Fatalf("got %v, want ABORT %s", err, tc.want)
			}
		})
	}
}

func TestAuthorization(t *testing.T) {
	tr, key := authRouter(t)
	alice, err := tr.joinWith(serializer.JSON, client.Config{AuthMethods: []string{"ticket"}, AuthID: "alice", Authenticate: client.Ticket("secret-ticket")})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := tr.joinWith(serializer.CBOR, client.Config{AuthMethods: []string{"cryptosign"}, AuthExtra: client.CryptosignExtra(key), Authenticate: client.Cryptosign(key)})
	if err != nil {
		t.Fatal(err)
	}
	who := func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Arguments: spec.List{inv.Details["caller_authid"]}}, nil
	}
	if _, err := svc.Register(ctxT(t), "com.example.who", who, nil); err != nil {
		t.Fatal(err)
	}
	// Allowed by the prefix rule, whose configuration discloses the caller
	// although autobahn-style clients never ask.
	res, err := alice.Call(ctxT(t), "com.example.who", nil, nil, nil)
	if err != nil || res.Arguments[0] != "alice" {
		t.Fatalf("call: %v %v", res, err)
	}
	denied := []struct {
		name string
		do   func() error
	}{
		{"register under an allowed call prefix", func() error {
			_, err := alice.Register(ctxT(t), "com.example.x", echo, nil)
			return err
		}},
		{"publish outside the wildcard", func() error {
			return alice.Publish(ctxT(t), "com.example.news", nil, nil, ack)
		}},
		{"call outside every rule", func() error {
			_, err := alice.Call(ctxT(t), "org.other.proc", nil, nil, nil)
			return err
		}},
		{"subscribe outside every rule", func() error {
			_, err := alice.Subscribe(ctxT(t), "org.other.topic", func(*client.Event) {}, nil)
			return err
		}},
		{"meta procedure not granted", func() error {
			_, err := alice.Call(ctxT(t), "wamp.session.kill_all", nil, nil, nil)
			return err
		}},
	}
	for _, d := range denied {
		if err := d.do(); wampErrorURI(err) != spec.ErrNotAuthorized {
			t.Errorf("%s: got %v, want not_authorized", d.name, err)
		}
	}
	allowed := []struct {
		name string
		do   func() error
	}{
		{"register an exact grant", func() error {
			_, err := alice.Register(ctxT(t), "com.example.mine", echo, nil)
			return err
		}},
		{"publish by wildcard", func() error {
			return alice.Publish(ctxT(t), "org.pump.status", nil, nil, ack)
		}},
		{"subscribe by prefix", func() error {
			_, err := alice.Subscribe(ctxT(t), "com.example.news", func(*client.Event) {}, nil)
			return err
		}},
		{"granted meta procedure", func() error {
			_, err := alice.Call(ctxT(t), "wamp.session.count", nil, nil, nil)
			return err
		}},
	}
	for _, a := range allowed {
		if err := a.do(); err != nil {
			t.Errorf("%s: %v", a.name, err)
		}
	}
	// The backend role's disclose publisher applies to its publications.
	_, ch := collect(t, alice, "com.example.svc.status", nil)
	if err := svc.Publish(ctxT(t), "com.example.svc.status", nil, nil, ack); err != nil {
		t.Fatal(err)
	}
	if e := expectEvent(t, ch); e.Details["publisher_authid"] != "svc" {
		t.Fatalf("publisher not disclosed: %v", e.Details)
	}
}

func TestDynamicAuthorization(t *testing.T) {
	tr, key := authRouter(t)
	svc, err := tr.joinWith(serializer.CBOR, client.Config{AuthMethods: []string{"cryptosign"}, AuthExtra: client.CryptosignExtra(key), Authenticate: client.Cryptosign(key)})
	if err != nil {
		t.Fatal(err)
	}
	carl, err := tr.joinWith(serializer.JSON, client.Config{AuthMethods: []string{"ticket"}, AuthID: "carl", Authenticate: client.Ticket("partner-ticket")})
	if err != nil {
		t.Fatal(err)
	}
	// No authorizer registered yet: the authorizer fails.
	if _, err := carl.Call(ctxT(t), "com.partner.proc", nil, nil, nil); wampErrorURI(err) != spec.ErrAuthorizationFailed {
		t.Fatalf("without an authorizer: %v", err)
	}
	if _, err := svc.Register(ctxT(t), "com.example.authorize", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		uri, _ := inv.Arguments[1].(string)
		action, _ := inv.Arguments[2].(string)
		return &client.Result{Arguments: spec.List{strings.HasPrefix(uri, "com.partner.") && action == "call"}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Register(ctxT(t), "com.partner.proc", echo, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := carl.Call(ctxT(t), "com.partner.proc", spec.List{"hi"}, nil, nil); err != nil {
		t.Fatalf("allowed by the dynamic authorizer: %v", err)
	}
	if _, err := carl.Register(ctxT(t), "com.partner.other", echo, nil); wampErrorURI(err) != spec.ErrNotAuthorized {
		t.Fatalf("denied by the dynamic authorizer: %v", err)
	}
}

const dynamicYAML = `
realms:
  - name: realm1
    roles:
      - name: backend
        permissions:
          - uri: ""
            match: prefix
            allow: [call, register, publish, subscribe]
      - name: guest
        permissions:
          - uri: com.example.
            match: prefix
            allow: [call]
    principals:
      - authid: svc
        role: backend
        cryptosign: [PUBKEY]
    dynamic:
      ticket: com.example.authenticate
`

func TestDynamicAuthentication(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	cfg, err := auth.ParseConfig([]byte(strings.Replace(dynamicYAML, "PUBKEY", hex.EncodeToString(pub), 1)), "dyn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	realm, _ := cfg.Realm("realm1")
	tr := newTestRouter(t, router.Options{Realms: []router.RealmConfig{{Name: "realm1", Auth: realm}}})
	ticket := func(authid, tk string) client.Config {
		return client.Config{AuthMethods: []string{"ticket"}, AuthID: authid, Authenticate: client.Ticket(tk)}
	}
	// Nobody has registered the authenticator yet: refused, not hung.
	if _, err := tr.joinWith(serializer.JSON, ticket("dave", "letmein")); wampErrorURI(err) != spec.ErrAuthenticationFailed {
		t.Fatalf("without an authenticator: %v", err)
	}
	svc, err := tr.joinWith(serializer.CBOR, client.Config{AuthMethods: []string{"cryptosign"}, AuthExtra: client.CryptosignExtra(key), Authenticate: client.Cryptosign(key)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Register(ctxT(t), "com.example.authenticate", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		realm, _ := inv.Arguments[0].(string)
		authid, _ := inv.Arguments[1].(string)
		details, _ := inv.Arguments[2].(map[string]any)
		if realm != "realm1" || authid != "dave" || details["ticket"] != "letmein" {
			return nil, &client.Error{URI: "com.example.error.denied"}
		}
		return &client.Result{Arguments: spec.List{spec.Dict{"role": "guest", "authid": "dave@example"}}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	dave, err := tr.joinWith(serializer.JSON, ticket("dave", "letmein"))
	if err != nil {
		t.Fatalf("accepted by the authenticator: %v", err)
	}
	if d := dave.Details(); d["authrole"] != "guest" || d["authid"] != "dave@example" || d["authprovider"] != "dynamic" {
		t.Fatalf("WELCOME %v", d)
	}
	if _, err := dave.Register(ctxT(t), "com.example.x", echo, nil); wampErrorURI(err) != spec.ErrNotAuthorized {
		t.Fatalf("the dynamic role's permissions: %v", err)
	}
	if _, err := tr.joinWith(serializer.JSON, ticket("dave", "wrong")); wampErrorURI(err) != spec.ErrAuthenticationFailed {
		t.Fatalf("refused by the authenticator: %v", err)
	}
}
