package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/spec"
)

var allActions = []Action{ActionCall, ActionRegister, ActionPublish, ActionSubscribe}

func permFor(a Action) Permission {
	return Permission{Call: a == ActionCall, Register: a == ActionRegister, Publish: a == ActionPublish, Subscribe: a == ActionSubscribe}
}

func mustAuthorizer(t *testing.T, roles []Role, o AuthorizerOptions) *RoleAuthorizer {
	t.Helper()
	a, err := NewAuthorizer(roles, o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func decide(t *testing.T, a Authorizer, role string, action Action, uri spec.URI) Decision {
	t.Helper()
	d, err := a.Authorize(context.Background(), &Identity{AuthID: "x", AuthRole: role}, 1, action, uri)
	if err != nil {
		t.Fatalf("%s %s %s: %v", role, action, uri, err)
	}
	return d
}

// TestAuthorizeMatrix: for each match policy and each action, a rule that
// grants only that action allows it and denies the three others, on a URI
// the rule matches; a URI it does not match is denied.
func TestAuthorizeMatrix(t *testing.T) {
	for _, m := range []struct{ match, pattern, hit, miss string }{
		{"exact", "com.app.thing", "com.app.thing", "com.app.thing2"},
		{"prefix", "com.app.", "com.app.thing.deep", "com.ap"},
		{"wildcard", "com..thing", "com.app.thing", "com.app.thing.deep"},
	} {
		for _, granted := range allActions {
			p := permFor(granted)
			p.URI, p.Match = m.pattern, m.match
			a := mustAuthorizer(t, []Role{{Name: "r", Permissions: []Permission{p}}}, AuthorizerOptions{})
			for _, action := range allActions {
				if got := decide(t, a, "r", action, spec.URI(m.hit)); got.Allow != (action == granted) {
					t.Errorf("%s %q grants %s: %s %s → %v", m.match, m.pattern, granted, action, m.hit, got.Allow)
				}
				if decide(t, a, "r", action, spec.URI(m.miss)).Allow {
					t.Errorf("%s %q: %s %s allowed", m.match, m.pattern, action, m.miss)
				}
			}
		}
	}
}

func TestAuthorizePrecedence(t *testing.T) {
	a := mustAuthorizer(t, []Role{
		{Name: "r", Permissions: []Permission{
			{URI: "com.app.proc", Call: true, DiscloseCaller: true},
			{URI: "com.app.", Match: "prefix", Publish: true, Subscribe: true, DisclosePublisher: true},
			{URI: "com.app.admin.", Match: "prefix"},
			{URI: "com.app.admin.ok", Register: true},
			{URI: "com.app..x", Match: "wildcard", Call: true},
			{URI: "com..status", Match: "wildcard", Subscribe: true},
			{URI: "org.", Match: "prefix", Call: true},
			{URI: "org.open", Match: "prefix", Call: true, Register: true},
			{URI: "a.b.", Match: "wildcard", Subscribe: true},
			{URI: "a..c", Match: "wildcard", Call: true},
			{URI: ".b.c", Match: "wildcard", Publish: true},
			{URI: "x..", Match: "wildcard", Call: true},
		}},
	}, AuthorizerOptions{})
	cases := []struct {
		action   Action
		uri      string
		allow    bool
		disclose bool
		why      string
	}{
		{ActionCall, "com.app.proc", true, true, "exact, with caller disclosure"},
		{ActionPublish, "com.app.proc", false, false, "exact beats prefix, and it grants no publish"},
		{ActionPublish, "com.app.other", true, true, "prefix, with publisher disclosure"},
		{ActionSubscribe, "com.app.other", true, false, "disclosure is per action"},
		{ActionPublish, "com.app.admin.kill", false, false, "longest prefix wins: com.app.admin. denies"},
		{ActionRegister, "com.app.admin.ok", true, false, "exact inside a denying prefix"},
		{ActionCall, "com.app.q.x", false, false, "prefix beats wildcard"},
		{ActionCall, "com.zz.x", false, false, "no match"},
		{ActionSubscribe, "com.zz.status", true, false, "wildcard"},
		{ActionSubscribe, "com.zz.status.more", false, false, "wildcards match whole component counts"},
		{ActionRegister, "org.openstack", true, false, "prefixes are string prefixes, longest wins"},
		{ActionRegister, "org.other", false, false, "shorter prefix"},
		{ActionSubscribe, "a.b.c", true, false, "a.b. beats a..c: concrete component earlier"},
		{ActionCall, "a.b.c", false, false, "a.b. decides, and grants no call"},
		{ActionPublish, "z.b.c", true, false, ".b.c"},
		{ActionCall, "a.z.c", true, false, "a..c"},
		{ActionCall, "x.y.z", true, false, "x.."},
		{ActionCall, "x.y", false, false, "x.. needs three components"},
	}
	for _, c := range cases {
		got := decide(t, a, "r", c.action, spec.URI(c.uri))
		if got.Allow != c.allow || got.Disclose != c.disclose {
			t.Errorf("%s %s = %+v, want allow=%v disclose=%v (%s)", c.action, c.uri, got, c.allow, c.disclose, c.why)
		}
	}
}

func TestAuthorizeReservedAndUnknown(t *testing.T) {
	a := mustAuthorizer(t, []Role{{Name: "all", Permissions: []Permission{{URI: "", Match: "prefix", Call: true, Register: true, Publish: true, Subscribe: true}}}}, AuthorizerOptions{})
	for _, c := range []struct {
		action Action
		uri    string
		allow  bool
	}{
		{ActionRegister, "wamp.session.count", false},
		{ActionPublish, "wamp.session.on_join", false},
		{ActionCall, "wamp.session.count", true},
		{ActionSubscribe, "wamp.session.on_join", true},
		{ActionRegister, "wampx.proc", true},
		{ActionRegister, "com.example.x", true},
	} {
		if got := decide(t, a, "all", c.action, spec.URI(c.uri)); got.Allow != c.allow {
			t.Errorf("%s %s = %v", c.action, c.uri, got.Allow)
		}
	}
	if decide(t, a, "ghost", ActionCall, "com.example.x").Allow {
		t.Fatal("unknown role allowed")
	}
	if _, err := a.Authorize(context.Background(), &Identity{AuthRole: "all"}, 1, "delete", "x"); err == nil {
		t.Fatal("unknown action accepted")
	}
	if _, err := a.Authorize(context.Background(), nil, 1, ActionCall, "x"); err == nil {
		t.Fatal("nil identity accepted")
	}
	if !a.HasRole("all") || a.HasRole("ghost") {
		t.Fatal("HasRole")
	}
}

func TestAuthorizeNoAllocs(t *testing.T) {
	a := mustAuthorizer(t, []Role{{Name: "r", Permissions: []Permission{
		{URI: "com.app.proc", Call: true},
		{URI: "com.app.", Match: "prefix", Subscribe: true},
		{URI: "com..status", Match: "wildcard", Subscribe: true},
	}}}, AuthorizerOptions{})
	who := &Identity{AuthRole: "r"}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		a.Authorize(ctx, who, 1, ActionCall, "com.app.proc")
		a.Authorize(ctx, who, 1, ActionSubscribe, "com.app.x.y")
		a.Authorize(ctx, who, 1, ActionSubscribe, "com.zz.status")
		a.Authorize(ctx, who, 1, ActionPublish, "org.nothing.here")
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per Authorize", allocs)
	}
}

func TestNewAuthorizerErrors(t *testing.T) {
	be := &backend{fn: func(spec.List) (spec.List, spec.Dict, error) { return spec.List{true}, nil, nil }}
	for name, roles := range map[string][]Role{
		"no name":        {{}},
		"duplicate role": {{Name: "a"}, {Name: "a"}},
		"bad uri":        {{Name: "a", Permissions: []Permission{{URI: "com..x", Call: true}}}},
		"bad match":      {{Name: "a", Permissions: []Permission{{URI: "com", Match: "regex"}}}},
		"dup exact":      {{Name: "a", Permissions: []Permission{{URI: "com"}, {URI: "com", Match: "exact"}}}},
		"dup prefix":     {{Name: "a", Permissions: []Permission{{URI: "com.", Match: "prefix"}, {URI: "com.", Match: "prefix"}}}},
		"dup wildcard":   {{Name: "a", Permissions: []Permission{{URI: "com..", Match: "wildcard"}, {URI: "com..", Match: "wildcard"}}}},
		"both":           {{Name: "a", Authorizer: "com.authz", Permissions: []Permission{{URI: "x"}}}},
		"no caller":      {{Name: "a", Authorizer: "com.authz"}},
		"negative ttl":   {{Name: "a", Authorizer: "com.authz", CacheTTL: -time.Second}},
	} {
		o := AuthorizerOptions{}
		if name == "negative ttl" {
			o.Caller = be
		}
		if _, err := NewAuthorizer(roles, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDynamicAuthorizer(t *testing.T) {
	clk := &fakeClock{t: time.Unix(5000, 0)}
	var fail atomic.Bool
	be := &backend{fn: func(args spec.List) (spec.List, spec.Dict, error) {
		if fail.Load() {
			return nil, nil, errors.New("backend down")
		}
		uri := args[1].(string)
		switch uri {
		case "com.bool":
			return spec.List{args[2] == "call"}, nil, nil
		case "com.dict":
			return spec.List{spec.Dict{"allow": true, "disclose": true}}, nil, nil
		case "com.deny.disclose":
			return spec.List{spec.Dict{"allow": false, "disclose": true}}, nil, nil
		case "com.kw":
			return nil, spec.Dict{"allow": true}, nil
		case "com.bad":
			return spec.List{"yes"}, nil, nil
		case "com.nodict":
			return spec.List{spec.Dict{"disclose": true}}, nil, nil
		}
		return spec.List{false}, nil, nil
	}}
	a := mustAuthorizer(t, []Role{{Name: "p", Authorizer: "com.authz", CacheTTL: time.Minute}, {Name: "q", Authorizer: "com.authz"}},
		AuthorizerOptions{Caller: be, Now: clk.Now, CacheSize: 3})
	who := &Identity{AuthID: "joe", AuthRole: "p", AuthMethod: "ticket", AuthProvider: "static", AuthExtra: spec.Dict{"k": "v"}}
	d, err := a.Authorize(ctxT(t), who, 77, ActionCall, "com.bool")
	if err != nil || !d.Allow || d.Disclose {
		t.Fatalf("%+v %v", d, err)
	}
	args := be.lastArgs()
	details := args[0].(spec.Dict)
	if details["session"] != int64(77) || details["authid"] != "joe" || details["authrole"] != "p" || details["authmethod"] != "ticket" ||
		details["authextra"].(spec.Dict)["k"] != "v" || args[1] != "com.bool" || args[2] != "call" {
		t.Fatalf("args %v", args)
	}
	if d, _ := a.Authorize(ctxT(t), who, 77, ActionSubscribe, "com.bool"); d.Allow {
		t.Fatal("bool false")
	}
	for uri, want := range map[spec.URI]Decision{"com.dict": {true, true}, "com.deny.disclose": {false, false}, "com.kw": {Allow: true}} {
		if d, err := a.Authorize(ctxT(t), who, 77, ActionPublish, uri); err != nil || d != want {
			t.Errorf("%s: %+v %v", uri, d, err)
		}
	}
	for _, uri := range []spec.URI{"com.bad", "com.nodict"} {
		if _, err := a.Authorize(ctxT(t), who, 77, ActionCall, uri); err == nil {
			t.Errorf("%s: malformed answer accepted", uri)
		}
	}
	// Reserved URIs never reach the backend.
	n := be.calls.Load()
	if d, _ := a.Authorize(ctxT(t), who, 77, ActionRegister, "wamp.x"); d.Allow || be.calls.Load() != n {
		t.Fatal("reserved register reached the dynamic authorizer")
	}

	t.Run("cache", func(t *testing.T) {
		a.Authorize(ctxT(t), who, 1, ActionCall, "com.bool") // (re)fill: the 3-entry cache has moved on
		n := be.calls.Load()
		for range 5 {
			a.Authorize(ctxT(t), &Identity{AuthID: fmt.Sprint(n), AuthRole: "p"}, 1, ActionCall, "com.bool")
		}
		if be.calls.Load() != n {
			t.Fatalf("cached answer not used: %d calls", be.calls.Load()-n)
		}
		a.Authorize(ctxT(t), who, 1, ActionRegister, "com.bool") // another action
		if be.calls.Load() != n+1 {
			t.Fatal("action not part of the key")
		}
		clk.Add(2 * time.Minute)
		a.Authorize(ctxT(t), who, 1, ActionCall, "com.bool")
		if be.calls.Load() != n+2 {
			t.Fatal("expired answer reused")
		}
		// Role q has no TTL: every action calls.
		q := &Identity{AuthRole: "q"}
		a.Authorize(ctxT(t), q, 1, ActionCall, "com.bool")
		a.Authorize(ctxT(t), q, 1, ActionCall, "com.bool")
		if be.calls.Load() != n+4 {
			t.Fatal("role without TTL cached")
		}
		if l := a.roles["p"].dynamic.CacheLen(); l > 3 {
			t.Fatalf("cache holds %d > 3", l)
		}
	})
	t.Run("failure is an error and is not cached", func(t *testing.T) {
		fail.Store(true)
		_, err := a.Authorize(ctxT(t), who, 1, ActionCall, "com.fresh")
		if err == nil {
			t.Fatal("backend failure hidden")
		}
		fail.Store(false)
		if d, err := a.Authorize(ctxT(t), who, 1, ActionCall, "com.fresh"); err != nil || d.Allow {
			t.Fatalf("after recovery: %+v %v", d, err)
		}
	})
}

func TestDynamicAuthorizerSingleFlight(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	be := CallerFunc(func(ctx context.Context, _ spec.URI, _ spec.List, _ spec.Dict) (spec.List, spec.Dict, error) {
		calls.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		return spec.List{true}, nil, nil
	})
	d, err := NewDynamicAuthorizer(DynamicAuthorizerOptions{Procedure: "p", Caller: be, CacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	who := &Identity{AuthRole: "r"}
	var wg sync.WaitGroup
	results := make(chan Decision, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dec, err := d.Authorize(context.Background(), who, 1, ActionCall, "com.x")
			if err != nil {
				t.Error(err)
			}
			results <- dec
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	close(results)
	for r := range results {
		if !r.Allow {
			t.Fatal("waiter got a denial")
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("%d backend calls for one key", calls.Load())
	}
	// A waiter whose context ends stops waiting.
	block := CallerFunc(func(ctx context.Context, _ spec.URI, _ spec.List, _ spec.Dict) (spec.List, spec.Dict, error) {
		<-ctx.Done()
		return nil, nil, ctx.Err()
	})
	d2, _ := NewDynamicAuthorizer(DynamicAuthorizerOptions{Procedure: "p", Caller: block, CacheTTL: time.Minute})
	leaderCtx, cancelLeader := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelLeader()
	go d2.Authorize(leaderCtx, who, 1, ActionCall, "com.y")
	time.Sleep(20 * time.Millisecond)
	if _, err := d2.Authorize(shortCtx(t), who, 1, ActionCall, "com.y"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter: %v", err)
	}
}
