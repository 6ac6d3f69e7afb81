package router

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/spec"
)

// A configuration reload happens in two steps, so that a configuration with
// any error changes nothing:
//
//   - PrepareReload builds everything the new configuration needs (each
//     realm's authenticators and authorizer, the new realms) without
//     touching the running router, and fails on the first error.
//   - Commit swaps it in: each realm's authentication and authorization is
//     replaced by one atomic store, so new sessions and the next action of
//     existing ones see the new rules at once, and nothing routed meanwhile
//     waits on a lock. Then the sessions the change removed are closed with
//     wamp.close.killed: those of removed realms, and those whose principal,
//     role or anonymous access is gone. Every other session, and every call
//     in flight between them, carries on untouched.

// ReloadConfig is what a reload may change.
type ReloadConfig struct {
	// Realms is the complete new list of configured realms. A configured
	// realm missing from it is removed; realms created by AutoCreateRealms
	// are left alone.
	Realms []RealmConfig
	// Listeners restrict the authentication methods per listener, by name
	// (see Options.Listeners).
	Listeners map[string]*auth.Listener
}

// Reload is a prepared configuration change; see PrepareReload.
type Reload struct {
	r         *Router
	listeners map[string]*auth.Listener
	keep      map[*Realm]*realmAuth // existing realms and their new auth
	add       []*Realm
	addCfg    map[*Realm]RealmConfig // the configuration of each realm in add
}

// ReloadResult says what a committed reload changed.
type ReloadResult struct {
	Added, Removed, Updated []spec.URI
	// Killed counts the sessions closed because the change removed their
	// realm, principal, role or anonymous access.
	Killed int
}

// PrepareReload checks and builds cfg without changing the router. The
// returned Reload takes effect with Commit; one that is never committed
// costs nothing.
func (r *Router) PrepareReload(cfg ReloadConfig) (*Reload, error) {
	rl := &Reload{r: r, listeners: cfg.Listeners, keep: make(map[*Realm]*realmAuth), addCfg: make(map[*Realm]RealmConfig)}
	if rl.listeners == nil {
		rl.listeners = map[string]*auth.Listener{}
	}
	seen := make(map[spec.URI]bool, len(cfg.Realms))
	for _, rc := range cfg.Realms {
		if seen[rc.Name] {
			return nil, fmt.Errorf("router: reload: realm %s is configured twice", rc.Name)
		}
		seen[rc.Name] = true
		if !spec.ValidURI(rc.Name, spec.Loose, spec.MatchExact) {
			return nil, errors.New("router: reload: invalid realm name " + string(rc.Name))
		}
		if realm := r.Realm(rc.Name); realm != nil {
			ra, err := buildRealmAuth(r, realm, rc.Auth, rl.listeners)
			if err != nil {
				return nil, fmt.Errorf("router: reload: realm %s: %w", rc.Name, err)
			}
			rl.keep[realm] = ra
			continue
		}
		realm, err := newRealmWith(r, rc, rl.listeners)
		if err != nil {
			return nil, fmt.Errorf("router: reload: %w", err)
		}
		rl.add = append(rl.add, realm)
		rl.addCfg[realm] = rc
	}
	return rl, nil
}

// Commit applies the prepared reload. It must be called at most once.
func (rl *Reload) Commit() ReloadResult {
	r := rl.r
	var res ReloadResult
	var removed []*Realm
	type adoption struct {
		realm *Realm
		cfg   RealmConfig
	}
	var adopt []adoption
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		return res
	}
	r.listeners.Store(&rl.listeners)
	for name, realm := range r.realms {
		if _, ok := rl.keep[realm]; !ok && !realm.auto {
			delete(r.realms, name)
			removed = append(removed, realm)
		}
	}
	for _, realm := range rl.add {
		if existing, ok := r.realms[realm.name]; ok {
			// Auto-created since PrepareReload: configured in place below.
			adopt = append(adopt, adoption{existing, rl.addCfg[realm]})
			existing.auto = false
			continue
		}
		r.realms[realm.name] = realm
		res.Added = append(res.Added, realm.name)
	}
	for realm := range rl.keep {
		// A configured realm is never auto-created again, nor skipped by
		// the next reload.
		realm.auto = false
	}
	r.mu.Unlock()
	for _, a := range adopt {
		// Its auth is built for it (dynamic authorizers call through their
		// own realm), outside r.mu: no lock is held across auth code. The
		// same configuration built in PrepareReload, so this fails only on
		// a bug.
		ra, err := buildRealmAuth(r, a.realm, a.cfg.Auth, rl.listeners)
		if err != nil {
			r.log.Error("reload: cannot configure an auto-created realm", "realm", a.realm.name, "error", err)
			continue
		}
		rl.keep[a.realm] = ra
	}

	for realm, ra := range rl.keep {
		realm.auth.Store(ra)
		res.Updated = append(res.Updated, realm.name)
		for _, s := range realm.sessionsWhere(func(s *session) bool { return !ra.admits(s) }) {
			s.logger().Info("session killed by a configuration reload", "authid", s.AuthID, "authrole", s.AuthRole, "reason", ra.refusal(s))
			s.close(spec.CloseKilled, "the router's configuration no longer admits this session: "+ra.refusal(s))
			res.Killed++
		}
	}
	for _, realm := range removed {
		n := realm.SessionCount()
		if n > 0 {
			r.log.Info("realm removed by a configuration reload; its sessions are killed", "realm", realm.name, "sessions", n)
		}
		realm.closeAll(spec.CloseKilled, "realm "+string(realm.name)+" was removed from the router's configuration")
		res.Removed = append(res.Removed, realm.name)
		res.Killed += n
	}
	sortURIs(res.Added)
	sortURIs(res.Removed)
	sortURIs(res.Updated)
	return res
}

func sortURIs(l []spec.URI) { sort.Slice(l, func(i, j int) bool { return l[i] < l[j] }) }

// admits reports whether a session that joined under an earlier
// configuration may stay under this one: its role must still exist, and
// the principal it authenticated as (or anonymous access) must still be
// configured. Sessions authenticated by a dynamic authenticator are judged
// by their role only: the procedure, not the file, vouches for them.
func (ra *realmAuth) admits(s *session) bool { return ra.refusal(s) == "" }

// refusal is admits' reason, or "" when the session is admitted.
func (ra *realmAuth) refusal(s *session) string {
	if s.trusted {
		return ""
	}
	cfg := ra.cfg
	switch {
	case !cfg.HasRole(s.AuthRole):
		return "role " + s.AuthRole + " was removed"
	case s.AuthMethod == auth.MethodAnonymous:
		if cfg.Anonymous == nil {
			return "anonymous access was turned off"
		}
	case s.AuthProvider == "dynamic":
	default:
		i := slices.IndexFunc(cfg.Principals, func(p auth.Principal) bool { return p.AuthID == s.AuthID })
		if i < 0 {
			return "principal " + s.AuthID + " was removed"
		}
		if role := cfg.Principals[i].Role; role != s.AuthRole {
			return "principal " + s.AuthID + " now has role " + role
		}
	}
	return ""
}
