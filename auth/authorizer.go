package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// Permission grants actions on the URIs a pattern matches.
type Permission struct {
	// URI is the pattern: a URI (exact), a URI prefix (prefix: a plain
	// string prefix, as in the broker and dealer, so "com.app" also matches
	// "com.apple"; end it with "." to mean whole components), or a URI with
	// empty components that match any one component (wildcard: "com..get").
	// The empty prefix matches every URI.
	URI string
	// Match is "exact" (also when empty), "prefix" or "wildcard".
	Match string
	// The actions granted.
	Call, Register, Publish, Subscribe bool
	// DiscloseCaller discloses the caller's identity to the callee
	// (INVOCATION.Details.caller...) when this role calls a matching
	// procedure; DisclosePublisher discloses the publisher's identity to
	// subscribers when this role publishes to a matching topic. Autobahn
	// never asks for disclosure itself, so this is how it is turned on.
	DiscloseCaller, DisclosePublisher bool
}

// Role is a named set of permissions in a realm.
type Role struct {
	Name        string
	Permissions []Permission
	// Authorizer, when set, is the URI of a procedure that authorizes this
	// role's actions instead of Permissions (see DynamicAuthorizer).
	Authorizer string
	// CacheTTL is how long the dynamic authorizer's answers are cached per
	// (role, action, URI); 0 disables the cache.
	CacheTTL time.Duration
}

// AuthorizerOptions configures NewAuthorizer.
type AuthorizerOptions struct {
	// Caller reaches dynamic authorizers; required when a role has one.
	Caller Caller
	// CacheSize bounds each dynamic authorizer's cache (entries). Default
	// 10,000.
	CacheSize int
	// Now returns the current time, for the caches. Default time.Now.
	Now func() time.Time
}

// RoleAuthorizer is a realm's authorizer: role-based, with each role either
// static (permissions compiled into an index) or dynamic (a procedure).
// Safe for concurrent use.
//
// Static decisions: the most specific permission whose pattern matches the
// URI decides — an exact pattern, else the longest matching prefix, else the
// wildcard pattern whose concrete components come earliest (a concrete
// component beats a wildcard at the first position where two patterns
// differ): the same precedence the dealer uses to pick a registration. What
// no permission allows is denied. Whatever a role says, registering or
// publishing under "wamp." is denied: that namespace belongs to the router.
// An unknown role is denied.
//
// Authorize on a static role costs a map lookup or two and, only if the role
// has wildcard permissions, a walk down a component trie; no allocation, no
// regular expression.
type RoleAuthorizer struct {
	roles map[string]*compiledRole
}

type compiledRole struct {
	static  *ruleIndex
	dynamic *DynamicAuthorizer
}

// NewAuthorizer compiles roles. Errors name the role and permission.
func NewAuthorizer(roles []Role, o AuthorizerOptions) (*RoleAuthorizer, error) {
	a, err := newAuthorizer(roles, o)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return a, nil
}

func newAuthorizer(roles []Role, o AuthorizerOptions) (*RoleAuthorizer, error) {
	a := &RoleAuthorizer{roles: make(map[string]*compiledRole, len(roles))}
	for i, r := range roles {
		if r.Name == "" {
			return nil, fmt.Errorf("role %d has no name", i)
		}
		if _, dup := a.roles[r.Name]; dup {
			return nil, fmt.Errorf("role %q appears twice", r.Name)
		}
		cr := &compiledRole{}
		if r.Authorizer != "" {
			if len(r.Permissions) > 0 {
				return nil, fmt.Errorf("role %q has both an authorizer and permissions", r.Name)
			}
			d, err := newDynamicAuthorizer(DynamicAuthorizerOptions{
				Procedure: spec.URI(r.Authorizer), Caller: o.Caller, CacheTTL: r.CacheTTL,
				CacheSize: o.CacheSize, Now: o.Now,
			})
			if err != nil {
				return nil, fmt.Errorf("role %q: %w", r.Name, err)
			}
			cr.dynamic = d
		} else {
			idx, err := compileRules(r.Permissions)
			if err != nil {
				return nil, fmt.Errorf("role %q: %w", r.Name, err)
			}
			cr.static = idx
		}
		a.roles[r.Name] = cr
	}
	return a, nil
}

// HasRole reports whether the realm defines role.
func (a *RoleAuthorizer) HasRole(role string) bool {
	_, ok := a.roles[role]
	return ok
}

// Authorize implements Authorizer.
func (a *RoleAuthorizer) Authorize(ctx context.Context, who *Identity, session spec.ID, action Action, uri spec.URI) (Decision, error) {
	bit := actionBit(action)
	if bit == 0 {
		return Decision{}, fmt.Errorf("auth: unknown action %q", action)
	}
	if who == nil {
		return Decision{}, fmt.Errorf("auth: authorizing %s %s: no identity", action, uri)
	}
	if bit&(permRegister|permPublish) != 0 && spec.IsReservedURI(uri) {
		return Decision{}, nil
	}
	r, ok := a.roles[who.AuthRole]
	if !ok {
		return Decision{}, nil
	}
	if r.dynamic != nil {
		return r.dynamic.Authorize(ctx, who, session, action, uri)
	}
	return r.static.decide(bit, uri), nil
}

// Permission bits of a compiled rule.
const (
	permCall uint8 = 1 << iota
	permRegister
	permPublish
	permSubscribe
	permDiscloseCaller
	permDisclosePublisher
)

func actionBit(a Action) uint8 {
	switch a {
	case ActionCall:
		return permCall
	case ActionRegister:
		return permRegister
	case ActionPublish:
		return permPublish
	case ActionSubscribe:
		return permSubscribe
	}
	return 0
}

func (p Permission) bits() uint8 {
	var b uint8
	for _, f := range [...]struct {
		on  bool
		bit uint8
	}{
		{p.Call, permCall}, {p.Register, permRegister}, {p.Publish, permPublish}, {p.Subscribe, permSubscribe},
		{p.DiscloseCaller, permDiscloseCaller}, {p.DisclosePublisher, permDisclosePublisher},
	} {
		if f.on {
			b |= f.bit
		}
	}
	return b
}

// ruleIndex finds the most specific permission for a URI.
type ruleIndex struct {
	exact  map[spec.URI]uint8
	prefix map[spec.URI]uint8
	// prefixLens are the distinct lengths of prefix patterns, longest first:
	// a lookup tries uri[:n] for each, so it costs one map lookup per
	// distinct length rather than a scan of all prefixes.
	prefixLens []int
	wild       *wildRule // nil without wildcard patterns
}

type wildRule struct {
	children map[string]*wildRule
	any      *wildRule // the empty (wildcard) component
	bits     uint8
	has      bool
}

func compileRules(perms []Permission) (*ruleIndex, error) {
	x := &ruleIndex{exact: map[spec.URI]uint8{}, prefix: map[spec.URI]uint8{}}
	for i, p := range perms {
		u := spec.URI(p.URI)
		match := p.Match
		if match == "" {
			match = spec.MatchExact
		}
		if !spec.ValidURI(u, spec.Loose, match) {
			return nil, fmt.Errorf("permission %d: %q is not a valid %s URI pattern", i, p.URI, match)
		}
		b := p.bits()
		switch match {
		case spec.MatchExact:
			if _, dup := x.exact[u]; dup {
				return nil, fmt.Errorf("permission %d: exact %q appears twice", i, p.URI)
			}
			x.exact[u] = b
		case spec.MatchPrefix:
			if _, dup := x.prefix[u]; dup {
				return nil, fmt.Errorf("permission %d: prefix %q appears twice", i, p.URI)
			}
			x.prefix[u] = b
			if !slices.Contains(x.prefixLens, len(u)) {
				x.prefixLens = append(x.prefixLens, len(u))
			}
		case spec.MatchWildcard:
			if x.wild == nil {
				x.wild = &wildRule{}
			}
			n := x.wild
			for _, c := range strings.Split(p.URI, ".") {
				if c == "" {
					if n.any == nil {
						n.any = &wildRule{}
					}
					n = n.any
					continue
				}
				if n.children == nil {
					n.children = map[string]*wildRule{}
				}
				child := n.children[c]
				if child == nil {
					child = &wildRule{}
					n.children[c] = child
				}
				n = child
			}
			if n.has {
				return nil, fmt.Errorf("permission %d: wildcard %q appears twice", i, p.URI)
			}
			n.bits, n.has = b, true
		}
	}
	slices.SortFunc(x.prefixLens, func(a, b int) int { return b - a })
	return x, nil
}

// lookup returns the bits of the most specific matching pattern.
func (x *ruleIndex) lookup(uri spec.URI) (uint8, bool) {
	if b, ok := x.exact[uri]; ok {
		return b, true
	}
	for _, n := range x.prefixLens {
		if n <= len(uri) {
			if b, ok := x.prefix[uri[:n]]; ok {
				return b, true
			}
		}
	}
	if x.wild != nil {
		return x.wild.best(string(uri))
	}
	return 0, false
}

// best walks the wildcard trie along the URI's components, trying the
// concrete child before the wildcard one at each level, so the first
// complete match found is the one whose concrete components come earliest.
func (n *wildRule) best(rest string) (uint8, bool) {
	comp, tail, more := strings.Cut(rest, ".")
	for _, child := range [2]*wildRule{n.children[comp], n.any} {
		if child == nil {
			continue
		}
		if !more {
			if child.has {
				return child.bits, true
			}
			continue
		}
		if b, ok := child.best(tail); ok {
			return b, true
		}
	}
	return 0, false
}

func (x *ruleIndex) decide(bit uint8, uri spec.URI) Decision {
	b, ok := x.lookup(uri)
	if !ok || b&bit == 0 {
		return Decision{}
	}
	d := Decision{Allow: true}
	switch bit {
	case permCall:
		d.Disclose = b&permDiscloseCaller != 0
	case permPublish:
		d.Disclose = b&permDisclosePublisher != 0
	}
	return d
}
