package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/spec"
)

// TicketOptions configures NewTicketAuthenticator.
type TicketOptions struct {
	// Principals holds the tickets (plain or hashed, see TicketSecret).
	Principals *Principals
	// Provider is WELCOME's authprovider. Default "static".
	Provider string
}

// Ticket implements the "ticket" method: HELLO names an authid, the router
// sends CHALLENGE("ticket", {}), the client answers with the ticket as the
// AUTHENTICATE signature. The ticket travels in clear text: allow this method
// only on TLS listeners.
//
// A client naming an unknown authid is still challenged, and its ticket is
// checked against a dummy hash, so the answer looks and takes the same as a
// wrong ticket (no authid enumeration).
type Ticket struct {
	principals *Principals
	provider   string
}

// NewTicketAuthenticator returns the static "ticket" method.
func NewTicketAuthenticator(o TicketOptions) *Ticket {
	if o.Provider == "" {
		o.Provider = "static"
	}
	return &Ticket{principals: o.Principals, provider: o.Provider}
}

// Method implements Authenticator.
func (*Ticket) Method() string { return MethodTicket }

// Authenticate implements Authenticator.
func (t *Ticket) Authenticate(ctx context.Context, req *Request, ch Challenger) (Identity, error) {
	if req.AuthID == "" {
		return Identity{}, fmt.Errorf("%w: ticket: HELLO has no authid", ErrAuthenticationFailed)
	}
	ticket, err := challengeTicket(ctx, ch)
	if err != nil {
		return Identity{}, err
	}
	pr, ok := t.principals.ByAuthID(req.AuthID)
	if !ok || pr.Ticket == nil {
		if _, err := dummyTicket().Verify(ctx, ticket); err != nil {
			return Identity{}, fmt.Errorf("auth: ticket: %w", err)
		}
		return Identity{}, fmt.Errorf("%w: ticket: authid %q", ErrNoSuchPrincipal, req.AuthID)
	}
	ok, err = pr.Ticket.Verify(ctx, ticket)
	if err != nil {
		return Identity{}, fmt.Errorf("auth: ticket: authid %q: %w", req.AuthID, err)
	}
	if !ok {
		return Identity{}, fmt.Errorf("%w: ticket: wrong ticket for authid %q", ErrAuthenticationFailed, req.AuthID)
	}
	return pr.identity(MethodTicket, t.provider), nil
}

// challengeTicket sends the ticket CHALLENGE and returns the client's ticket.
func challengeTicket(ctx context.Context, ch Challenger) (string, error) {
	resp, err := challenge(ctx, ch, MethodTicket, spec.Dict{})
	if err != nil {
		return "", err
	}
	if resp.Signature == "" {
		return "", fmt.Errorf("%w: ticket: empty ticket", ErrAuthenticationFailed)
	}
	return resp.Signature, nil
}

// challenge sends one CHALLENGE through ch and returns the AUTHENTICATE.
// Errors (the client went away, the handshake timed out) are wrapped with the
// method's name; they are technical failures, not refusals.
func challenge(ctx context.Context, ch Challenger, method string, extra spec.Dict) (*spec.Authenticate, error) {
	if ch == nil {
		return nil, fmt.Errorf("auth: %s: no challenger", method)
	}
	resp, err := ch.Challenge(ctx, method, extra)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: challenge: %w", method, err)
	}
	if resp == nil {
		return nil, fmt.Errorf("auth: %s: challenge: %w", method, errors.New("no AUTHENTICATE"))
	}
	return resp, nil
}
