package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/spec"
)

// Result is a call's result, or one progressive part of it.
type Result struct {
	Arguments   spec.List
	ArgumentsKw spec.Dict
	Details     spec.Dict
}

func resultOf(m *spec.Result) *Result {
	return &Result{Arguments: m.Arguments, ArgumentsKw: m.ArgumentsKw, Details: m.Details}
}

// Invocation is what a registered procedure receives.
type Invocation struct {
	Procedure   spec.URI
	Arguments   spec.List
	ArgumentsKw spec.Dict
	Details     spec.Dict
	// Progress sends a progressive result, when the caller asked for them.
	Progress func(args spec.List, kwargs spec.Dict) error
}

// Handler implements a procedure. Returning an *Error sends that WAMP
// error to the caller; any other error becomes wamp.error.runtime_error
// (autobahn's convention) with the error text as argument.
type Handler func(ctx context.Context, inv *Invocation) (*Result, error)

// CallOptions are a call's options.
type CallOptions struct {
	// Options go into CALL.Options verbatim (timeout, disclose_me, ...).
	Options spec.Dict
	// OnProgress, when set, asks for progressive results and receives each.
	OnProgress func(*Result)
}

// Call calls procedure and waits for its result. When ctx ends first, the
// call is canceled at the router (CANCEL, mode killnowait).
func (c *Client) Call(ctx context.Context, procedure string, args spec.List, kwargs spec.Dict, opts *CallOptions) (*Result, error) {
	options := spec.Dict{}
	var onProgress func(*Result)
	if opts != nil {
		for k, v := range opts.Options {
			options[k] = v
		}
		if opts.OnProgress != nil {
			options[spec.OptReceiveProgress] = true
			onProgress = opts.OnProgress
		}
	}
	var reqID spec.ID
	m, err := c.request(ctx, func(id spec.ID) spec.Message {
		reqID = id
		if onProgress != nil {
			c.progress[id] = onProgress
		}
		return &spec.Call{Request: id, Options: options, Procedure: spec.URI(procedure), Arguments: args, ArgumentsKw: kwargs}
	})
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			_ = c.send(&spec.Cancel{Request: reqID, Options: spec.Dict{"mode": "killnowait"}})
		}
		return nil, err
	}
	switch m := m.(type) {
	case *spec.Result:
		return resultOf(m), nil
	case *spec.Error:
		return nil, &Error{URI: m.Error, Details: m.Details, Arguments: m.Arguments, ArgumentsKw: m.ArgumentsKw}
	}
	return nil, fmt.Errorf("client: unexpected %s answering CALL", m.Type())
}

// registration is one Register, kept to be re-established on reconnect.
type registration struct {
	procedure spec.URI
	options   spec.Dict
	handler   Handler
	userID    spec.ID // the ID Register returned
}

// Register registers handler for procedure. opts go into REGISTER.Options.
// It returns the router's registration ID or, with Config.Reconnect, an ID
// of the client's own that stays valid for Unregister across reconnects
// (the router's IDs change with each session, and a restarted router may
// hand out an old one again).
func (c *Client) Register(ctx context.Context, procedure string, handler Handler, opts spec.Dict) (spec.ID, error) {
	if opts == nil {
		opts = spec.Dict{}
	}
	reg := &registration{procedure: spec.URI(procedure), options: opts, handler: handler, userID: c.localID()}
	id, err := c.register(ctx, reg)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	if reg.userID == 0 {
		reg.userID = id
	}
	c.regIDs[reg.userID] = id
	c.mu.Unlock()
	return reg.userID, nil
}

// register sends REGISTER for reg and returns the router's ID.
func (c *Client) register(ctx context.Context, reg *registration) (spec.ID, error) {
	m, err := c.request(ctx, func(id spec.ID) spec.Message {
		c.pendingRegs[id] = reg
		return &spec.Register{Request: id, Options: reg.options, Procedure: reg.procedure}
	})
	if err != nil {
		return 0, err
	}
	switch m := m.(type) {
	case *spec.Registered:
		return m.Registration, nil
	case *spec.Error:
		return 0, &Error{URI: m.Error, Details: m.Details, Arguments: m.Arguments, ArgumentsKw: m.ArgumentsKw}
	}
	return 0, fmt.Errorf("client: unexpected %s answering REGISTER", m.Type())
}

// Unregister removes a registration (by the ID Register returned).
func (c *Client) Unregister(ctx context.Context, registration spec.ID) error {
	c.mu.Lock()
	current, ok := c.regIDs[registration]
	c.mu.Unlock()
	if !ok {
		current = registration
	}
	m, err := c.request(ctx, func(id spec.ID) spec.Message {
		return &spec.Unregister{Request: id, Registration: current}
	})
	if err != nil {
		return err
	}
	if e, ok := m.(*spec.Error); ok {
		return &Error{URI: e.Error, Details: e.Details, Arguments: e.Arguments, ArgumentsKw: e.ArgumentsKw}
	}
	c.mu.Lock()
	delete(c.registrations, current)
	delete(c.regIDs, registration)
	c.mu.Unlock()
	return nil
}

// dispatchInvocation runs the handler in its own goroutine, owned by
// c.handlers, and answers with YIELD or ERROR.
func (c *Client) dispatchInvocation(sess *session, m *spec.Invocation) {
	c.mu.Lock()
	var handler Handler
	if reg := c.registrations[m.Registration]; reg != nil {
		handler = reg.handler
	}
	if handler == nil || c.closed {
		c.mu.Unlock()
		_ = c.sendOn(sess, &spec.Error{RequestType: spec.TypeInvocation, Request: m.Request, Details: spec.Dict{}, Error: spec.ErrNoSuchRegistration})
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.invocations[m.Request] = cancel
	c.handlers.Add(1)
	c.mu.Unlock()

	procedure, _ := m.Details["procedure"].(string)
	inv := &Invocation{
		Procedure:   spec.URI(procedure),
		Arguments:   m.Arguments,
		ArgumentsKw: m.ArgumentsKw,
		Details:     m.Details,
		Progress: func(args spec.List, kwargs spec.Dict) error {
			if !optBool(m.Details, spec.OptReceiveProgress) {
				return errors.New("client: the caller did not ask for progressive results")
			}
			return c.sendOn(sess, &spec.Yield{Request: m.Request, Options: spec.Dict{spec.OptProgress: true}, Arguments: args, ArgumentsKw: kwargs})
		},
	}
	go func() {
		defer c.handlers.Done()
		defer func() {
			c.mu.Lock()
			delete(c.invocations, m.Request)
			c.mu.Unlock()
			cancel()
		}()
		res, err := handler(ctx, inv)
		var answer spec.Message
		var werr *Error
		switch {
		case err == nil:
			if res == nil {
				res = &Result{}
			}
			answer = &spec.Yield{Request: m.Request, Options: spec.Dict{}, Arguments: res.Arguments, ArgumentsKw: res.ArgumentsKw}
		case errors.As(err, &werr):
			details := werr.Details
			if details == nil {
				details = spec.Dict{}
			}
			answer = &spec.Error{RequestType: spec.TypeInvocation, Request: m.Request, Details: details, Error: werr.URI, Arguments: werr.Arguments, ArgumentsKw: werr.ArgumentsKw}
		default:
			answer = &spec.Error{RequestType: spec.TypeInvocation, Request: m.Request, Details: spec.Dict{}, Error: "wamp.error.runtime_error", Arguments: spec.List{err.Error()}}
		}
		if err := c.sendOn(sess, answer); err != nil {
			c.log.Warn("cannot answer invocation", "error", err)
		}
	}()
}
