package auth

import (
	"fmt"
	"slices"
)

// Authentication method names, as clients put them in HELLO.Details.authmethods.
const (
	MethodAnonymous  = "anonymous"
	MethodTicket     = "ticket"
	MethodWampCRA    = "wampcra"
	MethodCryptosign = "cryptosign"
	// MethodScram is SCRAM as Autobahn and Crossbar speak it; MethodWampScram
	// is the spec's flavour. The two differ in the AuthMessage and in where
	// the server signature goes (see ScramOptions).
	MethodScram     = "scram"
	MethodWampScram = "wamp-scram"
	MethodTLS       = "tls"
)

// KnownMethods lists every method this package implements.
var KnownMethods = []string{MethodAnonymous, MethodTicket, MethodWampCRA, MethodCryptosign, MethodScram, MethodWampScram, MethodTLS}

// Methods is the set of authenticators allowed for one realm on one
// listener. Safe for concurrent use.
type Methods struct {
	byName map[string]Authenticator
	names  []string
}

// NewMethods builds a set from authenticators; two with the same Method()
// are an error.
func NewMethods(auths ...Authenticator) (*Methods, error) {
	m := &Methods{byName: make(map[string]Authenticator, len(auths))}
	for _, a := range auths {
		name := a.Method()
		if _, dup := m.byName[name]; dup {
			return nil, fmt.Errorf("auth: two authenticators for method %q", name)
		}
		m.byName[name] = a
		m.names = append(m.names, name)
	}
	return m, nil
}

// Select returns the authenticator for the first of the client's methods
// (in the client's order of preference, see RequestedMethods) that is
// allowed here, as Crossbar does: the client decides the order, the router
// decides what is allowed. Methods the router does not know are skipped.
// None allowed: an error wrapping ErrNoAuthMethod.
func (m *Methods) Select(requested []string) (Authenticator, error) {
	if m != nil {
		for _, name := range requested {
			if a, ok := m.byName[name]; ok {
				return a, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: client offered %q, allowed here: %q", ErrNoAuthMethod, requested, m.Names())
}

// Names returns the allowed method names, sorted.
func (m *Methods) Names() []string {
	if m == nil {
		return nil
	}
	out := slices.Clone(m.names)
	slices.Sort(out)
	return out
}

// Get returns the authenticator for one method.
func (m *Methods) Get(method string) (Authenticator, bool) {
	if m == nil {
		return nil, false
	}
	a, ok := m.byName[method]
	return a, ok
}
