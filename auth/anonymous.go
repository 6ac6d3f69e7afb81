package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
)

// AnonymousOptions configures NewAnonymousAuthenticator.
type AnonymousOptions struct {
	// Role is the authrole anonymous sessions get. Default "anonymous".
	Role string
	// Provider is WELCOME's authprovider. Default "static".
	Provider string
	// RandomAuthID ignores the authid the client asked for in HELLO and gives
	// every anonymous session a random one. Set it when callees trust
	// caller_authid: otherwise an anonymous client can appear under any
	// name (its authrole still says what it is).
	RandomAuthID bool
}

// Anonymous admits every client without a challenge.
type Anonymous struct {
	role, provider string
	randomID       bool
}

// NewAnonymousAuthenticator returns the "anonymous" method. The session
// keeps the authid the client asked for in HELLO, unless
// it gave none or RandomAuthID is set: then it gets a random one (26 base32
// characters, crypto/rand).
func NewAnonymousAuthenticator(o AnonymousOptions) *Anonymous {
	if o.Role == "" {
		o.Role = "anonymous"
	}
	if o.Provider == "" {
		o.Provider = "static"
	}
	return &Anonymous{role: o.Role, provider: o.Provider, randomID: o.RandomAuthID}
}

// Method implements Authenticator.
func (*Anonymous) Method() string { return MethodAnonymous }

// Authenticate implements Authenticator.
func (a *Anonymous) Authenticate(ctx context.Context, req *Request, _ Challenger) (Identity, error) {
	if err := ctx.Err(); err != nil {
		return Identity{}, fmt.Errorf("auth: anonymous: %w", err)
	}
	if req == nil {
		return Identity{}, errors.New("auth: anonymous: nil request")
	}
	authid := req.AuthID
	if authid == "" || a.randomID {
		authid = rand.Text()
	}
	return Identity{AuthID: authid, AuthRole: a.role, AuthMethod: MethodAnonymous, AuthProvider: a.provider}, nil
}
