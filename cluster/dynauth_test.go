package cluster

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// Every node reads the same configuration: a dynamic ticket authenticator
// and a role decided by a dynamic authorizer, both procedures of realm1.
const dynamicAuthYAML = `
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
      - name: partner
        authorizer: com.example.authorize
    principals:
      - authid: svc
        role: backend
        cryptosign: [PUBKEY]
    dynamic:
      ticket: com.example.authenticate
`

// A dynamic authenticator and a dynamic authorizer registered by a backend
// session on one node decide for sessions joining and acting on the other
// nodes, exactly as on one node.
func TestDynamicAuthAcrossNodes(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	cfg, err := auth.ParseConfig([]byte(strings.Replace(dynamicAuthYAML, "PUBKEY", hex.EncodeToString(pub), 1)), "dyn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	realmAuth, _ := cfg.Realm("realm1")
	withAuth := func(o *router.Options) { o.Realms = []router.RealmConfig{{Name: "realm1", Auth: realmAuth}} }
	var nodes []*testNode
	for i := 0; i < 3; i++ {
		opts := fastOptions("node" + string(rune('1'+i)))
		if i > 0 {
			opts.Routes = []string{nodes[0].node.ClusterAddr()}
		}
		nodes = append(nodes, startNode(t, opts, withAuth))
	}
	waitMesh(t, nodes)

	ticket := func(authid, tk string) client.Config {
		return client.Config{AuthMethods: []string{"ticket"}, AuthID: authid, Authenticate: client.Ticket(tk)}
	}
	// No authenticator anywhere yet: refused on every node, not hung.
	for _, n := range nodes {
		if _, err := n.joinWith(serializer.JSON, ticket("dave", "letmein")); errURI(err) != spec.ErrAuthenticationFailed {
			t.Fatalf("%s without an authenticator: %v", n.name, err)
		}
	}

	svc, err := nodes[1].joinWith(serializer.CBOR, client.Config{AuthMethods: []string{"cryptosign"}, AuthExtra: client.CryptosignExtra(key), Authenticate: client.Cryptosign(key)})
	if err != nil {
		t.Fatal(err)
	}
	asked := make(chan string, 16) // the node-independent part: who asked
	if _, err := svc.Register(ctxT(t), "com.example.authenticate", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		realm, _ := inv.Arguments[0].(string)
		authid, _ := inv.Arguments[1].(string)
		details, _ := inv.Arguments[2].(map[string]any)
		asked <- authid
		switch {
		case realm == "realm1" && authid == "dave" && details["ticket"] == "letmein":
			return &client.Result{Arguments: spec.List{spec.Dict{"role": "guest", "authid": "dave@example"}}}, nil
		case realm == "realm1" && authid == "carl" && details["ticket"] == "partner":
			return &client.Result{Arguments: spec.List{spec.Dict{"role": "partner"}}}, nil
		}
		return nil, &client.Error{URI: "com.example.error.denied"}
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Register(ctxT(t), "com.example.authorize", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		uri, _ := inv.Arguments[1].(string)
		action, _ := inv.Arguments[2].(string)
		return &client.Result{Arguments: spec.List{strings.HasPrefix(uri, "com.partner.") && action == "call"}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Register(ctxT(t), "com.partner.proc", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Arguments: inv.Arguments}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}

	for _, n := range []*testNode{nodes[0], nodes[2]} {
		dave, err := n.joinWith(serializer.JSON, ticket("dave", "letmein"))
		if err != nil {
			t.Fatalf("%s: refused although the authenticator on node2 accepts: %v", n.name, err)
		}
		if d := dave.Details(); d["authrole"] != "guest" || d["authid"] != "dave@example" || d["authprovider"] != "dynamic" {
			t.Fatalf("%s: WELCOME %v", n.name, d)
		}
		if got := <-asked; got != "dave" {
			t.Fatalf("the authenticator was asked about %q", got)
		}
		if _, err := dave.Register(ctxT(t), "com.example.x", func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }, nil); errURI(err) != spec.ErrNotAuthorized {
			t.Fatalf("%s: the dynamic role's static permissions: %v", n.name, err)
		}
		if _, err := n.joinWith(serializer.MessagePack, ticket("dave", "wrong")); errURI(err) != spec.ErrAuthenticationFailed {
			t.Fatalf("%s: refused by the authenticator: %v", n.name, err)
		}
		<-asked
	}

	carl, err := nodes[2].joinWith(serializer.MessagePack, ticket("carl", "partner"))
	if err != nil {
		t.Fatalf("carl: %v", err)
	}
	<-asked
	if v := call(t, carl, "com.partner.proc", spec.List{"hi"}, nil); v != "hi" {
		t.Fatalf("allowed by the dynamic authorizer on node2: %v", v)
	}
	if _, err := carl.Register(ctxT(t), "com.partner.other", func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }, nil); errURI(err) != spec.ErrNotAuthorized {
		t.Fatalf("denied by the dynamic authorizer on node2: %v", err)
	}
	if _, err := carl.Call(ctxT(t), "com.example.other", nil, nil, nil); errURI(err) != spec.ErrNotAuthorized {
		t.Fatalf("denied by the dynamic authorizer on node2: %v", err)
	}
}
