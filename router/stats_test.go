package router_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

func TestStatsCountMessagesByType(t *testing.T) {
	tr := newTestRouter(t, router.Options{})
	ctx := ctxT(t)
	callee := tr.join(serializer.MessagePack)
	caller := tr.join(serializer.JSON)
	if _, err := callee.Register(ctx, "com.example.add", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Arguments: spec.List{int64(3)}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{}, 16)
	if _, err := caller.Subscribe(ctx, "com.example.topic", func(*client.Event) { got <- struct{}{} }, nil); err != nil {
		t.Fatal(err)
	}
	st := tr.r.Stats()
	in0, out0 := st.Received.ByType(), st.Sent.ByType()
	errs0 := st.ErrorsSent()[string(spec.ErrNoSuchProcedure)]
	const calls = 5
	for i := 0; i < calls; i++ {
		if _, err := caller.Call(ctx, "com.example.add", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := caller.Call(ctx, "com.example.missing", nil, nil, nil); err == nil {
		t.Fatal("a call to a missing procedure succeeded")
	}
	if err := callee.Publish(ctx, "com.example.topic", spec.List{"x"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no EVENT")
	}
	want := map[string][2]uint64{ // received, sent
		"CALL":       {calls + 1, 0},
		"INVOCATION": {0, calls},
		"YIELD":      {calls, 0},
		"RESULT":     {0, calls},
		"PUBLISH":    {1, 0},
		"EVENT":      {0, 1},
		"ERROR":      {0, 1},
	}
	// A frame is counted as sent once its transport has queued it, which
	// can be just after the peer has read it: the counts settle shortly.
	deadline := time.Now().Add(2 * time.Second)
	for {
		in, out := st.Received.ByType(), st.Sent.ByType()
		var wrong []string
		for typ, w := range want {
			if d := in[typ] - in0[typ]; d != w[0] {
				wrong = append(wrong, fmt.Sprintf("%s received: moved by %d, want %d", typ, d, w[0]))
			}
			if d := out[typ] - out0[typ]; d != w[1] {
				wrong = append(wrong, fmt.Sprintf("%s sent: moved by %d, want %d", typ, d, w[1]))
			}
		}
		if len(wrong) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(strings.Join(wrong, "; "))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d := st.ErrorsSent()[string(spec.ErrNoSuchProcedure)] - errs0; d != 1 {
		t.Errorf("errors sent with %s moved by %d, want 1", spec.ErrNoSuchProcedure, d)
	}

	snap := realmSnapshot(t, tr.r, "realm1")
	if n := snap.Sessions[router.SessionKey{Transport: "pipe", Serializer: "json"}]; n != 1 {
		t.Errorf("json sessions: %d, want 1 (%v)", n, snap.Sessions)
	}
	if snap.SessionsOpened["pipe"] != 2 || snap.Subscriptions != 1 || snap.Registrations != 1 || snap.CallsInFlight != 0 {
		t.Errorf("snapshot %+v", snap)
	}
	if snap.CallDuration.Count != calls || snap.CallDuration.Sum <= 0 { // routed calls only
		t.Errorf("call durations %+v, want %d observations", snap.CallDuration, calls)
	}
	if snap.Auth[router.AuthKey{Method: "anonymous", Outcome: router.AuthSuccess}] != 2 {
		t.Errorf("auth counts %v", snap.Auth)
	}
}

func realmSnapshot(t *testing.T, r *router.Router, name spec.URI) router.RealmSnapshot {
	t.Helper()
	for _, s := range r.Snapshot() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no realm %s in the snapshot", name)
	return router.RealmSnapshot{}
}

const reloadYAML = `
realms:
  - name: realm1
    anonymous: {role: anon}
    roles:
      - name: anon
        permissions:
          - {uri: "", match: prefix, allow: [call, register, publish, subscribe]}
      - name: user
        permissions:
          - {uri: "", match: prefix, allow: [call, register, publish, subscribe]}
    principals:
      - {authid: alice, role: user, ticket: alice-ticket}
      - {authid: bob, role: user, ticket: bob-ticket}
  - name: realm2
    anonymous: {role: anon}
    roles:
      - name: anon
        permissions:
          - {uri: "", match: prefix, allow: [call, subscribe]}
`

func reloadConfig(t *testing.T, yaml string) router.ReloadConfig {
	t.Helper()
	cfg, err := auth.ParseConfig([]byte(yaml), "reload.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rc router.ReloadConfig
	for _, r := range cfg.Realms {
		rc.Realms = append(rc.Realms, router.RealmConfig{Name: r.Name, Auth: r})
	}
	return rc
}

func TestReloadAddsAndRemovesPrincipalsAndRealms(t *testing.T) {
	first := reloadConfig(t, reloadYAML)
	tr := newTestRouter(t, router.Options{Realms: first.Realms})
	alice, err := tr.joinWith(serializer.JSON, client.Config{AuthMethods: []string{"ticket"}, AuthID: "alice", Authenticate: client.Ticket("alice-ticket")})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := tr.joinWith(serializer.JSON, client.Config{AuthMethods: []string{"ticket"}, AuthID: "bob", Authenticate: client.Ticket("bob-ticket")})
	if err != nil {
		t.Fatal(err)
	}
	anon := tr.join(serializer.CBOR)
	other, err := tr.joinWith(serializer.JSON, client.Config{Realm: "realm2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.joinWith(serializer.JSON, client.Config{AuthMethods: []string{"ticket"}, AuthID: "carol", Authenticate: client.Ticket("carol-ticket")}); err == nil {
		t.Fatal("carol joined before she was configured")
	}

	// bob removed, carol added, realm2 removed, realm3 added.
	next := strings.Replace(reloadYAML, "      - {authid: bob, role: user, ticket: bob-ticket}\n", "      - {authid: carol, role: user, ticket: carol-ticket}\n", 1)
	next = strings.Replace(next, "name: realm2", "name: realm3", 1)
	rl, err := tr.r.PrepareReload(reloadConfig(t, next))
	if err != nil {
		t.Fatal(err)
	}
	res := rl.Commit()
	if res.Killed != 2 || len(res.Added) != 1 || res.Added[0] != "realm3" || len(res.Removed) != 1 || res.Removed[0] != "realm2" {
		t.Fatalf("reload result %+v", res)
	}
	for name, c := range map[string]*client.Client{"bob": bob, "realm2's session": other} {
		select {
		case <-c.Done():
			var we *client.Error
			if !errors.As(c.Err(), &we) || we.URI != spec.CloseKilled {
				t.Errorf("%s ended with %v, want %s", name, c.Err(), spec.CloseKilled)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s was not killed", name)
		}
	}
	ctx := ctxT(t)
	for name, c := range map[string]*client.Client{"alice": alice, "anonymous": anon} {
		if _, err := c.Call(ctx, "wamp.session.count", nil, nil, nil); err != nil {
			t.Errorf("%s, untouched by the reload, cannot call: %v", name, err)
		}
	}
	if _, err := tr.joinWith(serializer.JSON, client.Config{AuthMethods: []string{"ticket"}, AuthID: "carol", Authenticate: client.Ticket("carol-ticket")}); err != nil {
		t.Errorf("carol, added by the reload, cannot join: %v", err)
	}
	if _, err := tr.joinWith(serializer.JSON, client.Config{Realm: "realm3"}); err != nil {
		t.Errorf("realm3, added by the reload, cannot be joined: %v", err)
	}
	if _, err := tr.joinWith(serializer.JSON, client.Config{Realm: "realm2"}); err == nil {
		t.Error("realm2 can still be joined after its removal")
	}
}

func TestReloadPermissionsApplyToTheNextAction(t *testing.T) {
	tr := newTestRouter(t, router.Options{Realms: reloadConfig(t, reloadYAML).Realms})
	anon := tr.join(serializer.JSON)
	ctx := ctxT(t)
	if err := anon.Publish(ctx, "com.example.t", nil, nil, spec.Dict{"acknowledge": true}); err != nil {
		t.Fatal(err)
	}
	// The anon role loses publish.
	next := strings.Replace(reloadYAML, `      - name: anon
        permissions:
          - {uri: "", match: prefix, allow: [call, register, publish, subscribe]}`, `      - name: anon
        permissions:
          - {uri: "", match: prefix, allow: [call, subscribe]}`, 1)
	rl, err := tr.r.PrepareReload(reloadConfig(t, next))
	if err != nil {
		t.Fatal(err)
	}
	if res := rl.Commit(); res.Killed != 0 {
		t.Fatalf("a permission change killed %d sessions", res.Killed)
	}
	err = anon.Publish(ctx, "com.example.t", nil, nil, spec.Dict{"acknowledge": true})
	if uri := wampErrorURI(err); uri != spec.ErrNotAuthorized {
		t.Fatalf("publish after losing the permission: %v, want %s", err, spec.ErrNotAuthorized)
	}
}

func TestReloadWithABadRealmChangesNothing(t *testing.T) {
	tr := newTestRouter(t, router.Options{Realms: reloadConfig(t, reloadYAML).Realms})
	bad := reloadConfig(t, reloadYAML)
	// A role-less principal can only come from code; the parser refuses it.
	bad.Realms[0].Auth.Principals = append(bad.Realms[0].Auth.Principals, auth.Principal{AuthID: "eve", Role: "nobody"})
	bad.Realms = bad.Realms[:1] // would remove realm2
	if _, err := tr.r.PrepareReload(bad); err == nil {
		t.Fatal("PrepareReload accepted a principal with an undefined role")
	}
	if tr.r.Realm("realm2") == nil {
		t.Fatal("a failed reload removed a realm")
	}
	if _, err := tr.joinWith(serializer.JSON, client.Config{Realm: "realm2"}); err != nil {
		t.Fatalf("realm2 after a failed reload: %v", err)
	}
}

// A realm auto-created between PrepareReload and Commit is configured in
// place: its sessions are judged by the new configuration, and from then on
// it is a configured realm that a later reload may remove.
func TestReloadAdoptsAnAutoCreatedRealm(t *testing.T) {
	tr := newTestRouter(t, router.Options{AutoCreateRealms: true})
	late := strings.Replace(reloadYAML, "name: realm2", "name: late", 1)
	rl, err := tr.r.PrepareReload(reloadConfig(t, late))
	if err != nil {
		t.Fatal(err)
	}
	auto, err := tr.joinWith(serializer.JSON, client.Config{Realm: "late"})
	if err != nil {
		t.Fatal(err)
	}
	if res := rl.Commit(); res.Killed != 1 {
		t.Fatalf("reload result %+v: the auto realm's session (role anonymous, not in the file) should be killed", res)
	}
	select {
	case <-auto.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the session of the adopted realm was not judged by the new configuration")
	}
	// The next reload without it removes it.
	rl, err = tr.r.PrepareReload(reloadConfig(t, reloadYAML))
	if err != nil {
		t.Fatal(err)
	}
	if res := rl.Commit(); len(res.Removed) != 1 || res.Removed[0] != "late" {
		t.Fatalf("second reload %+v, want realm late removed", res)
	}
}
