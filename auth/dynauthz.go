package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// DynamicAuthorizerOptions configures NewDynamicAuthorizer.
type DynamicAuthorizerOptions struct {
	// Procedure is the URI of the authorizer procedure.
	Procedure spec.URI
	// Caller calls it.
	Caller Caller
	// CacheTTL is how long an answer is reused for the same (role, action,
	// URI); 0 calls the procedure for every action.
	CacheTTL time.Duration
	// CacheSize bounds the cache (entries, least recently used evicted
	// first). Default 10,000.
	CacheSize int
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// DynamicAuthorizer asks a WAMP procedure whether a session may perform an
// action, as Crossbar's dynamic authorizers do.
//
// # Contract of the procedure
//
// It is called with three positional arguments, (session, uri, action):
//
//   - session (dict): "session" (int), "authid", "authrole", "authmethod",
//     "authprovider" (strings) and "authextra" (dict, if any);
//   - uri (string): the procedure or topic;
//   - action (string): "call", "register", "publish" or "subscribe".
//
// It answers with its first positional result (or, with no positional
// results, its keyword results): a bool (allow or deny), or a dict
// {"allow": bool, "disclose": bool} where disclose asks the router to
// disclose the caller or publisher (see Decision). Anything else, or an
// error, is a failure: Authorize returns an error and the router answers
// wamp.error.authorization_failed.
//
// With a CacheTTL, answers are cached per (role, action, URI): the procedure
// must then decide by role, action and URI only, not by authid or session.
// Concurrent first requests for one key share a single call. Failures are
// not cached.
type DynamicAuthorizer struct {
	procedure spec.URI
	caller    Caller
	ttl       time.Duration
	now       func() time.Time

	mu       sync.Mutex
	cache    *lru[authzKey, authzEntry]
	inflight map[authzKey]*authzFlight
}

type authzKey struct {
	role   string
	action Action
	uri    spec.URI
}

type authzEntry struct {
	dec     Decision
	expires time.Time
}

type authzFlight struct {
	done chan struct{}
	dec  Decision
	err  error
}

// NewDynamicAuthorizer returns a dynamic authorizer.
func NewDynamicAuthorizer(o DynamicAuthorizerOptions) (*DynamicAuthorizer, error) {
	d, err := newDynamicAuthorizer(o)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return d, nil
}

func newDynamicAuthorizer(o DynamicAuthorizerOptions) (*DynamicAuthorizer, error) {
	if o.Procedure == "" {
		return nil, errors.New("dynamic authorizer: no procedure")
	}
	if o.Caller == nil {
		return nil, fmt.Errorf("dynamic authorizer %s: no caller to reach it", o.Procedure)
	}
	if o.CacheTTL < 0 {
		return nil, fmt.Errorf("dynamic authorizer %s: negative cache TTL", o.Procedure)
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 10_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &DynamicAuthorizer{
		procedure: o.Procedure, caller: o.Caller, ttl: o.CacheTTL, now: o.Now,
		cache: newLRU[authzKey, authzEntry](o.CacheSize), inflight: map[authzKey]*authzFlight{},
	}, nil
}

// Authorize implements Authorizer.
func (d *DynamicAuthorizer) Authorize(ctx context.Context, who *Identity, session spec.ID, action Action, uri spec.URI) (Decision, error) {
	if who == nil {
		return Decision{}, fmt.Errorf("auth: dynamic authorizer %s: no identity", d.procedure)
	}
	if d.ttl <= 0 {
		return d.call(ctx, who, session, action, uri)
	}
	key := authzKey{role: who.AuthRole, action: action, uri: uri}
	d.mu.Lock()
	if e, ok := d.cache.get(key); ok {
		if d.now().Before(e.expires) {
			d.mu.Unlock()
			return e.dec, nil
		}
		d.cache.remove(key)
	}
	if f, ok := d.inflight[key]; ok {
		d.mu.Unlock()
		select {
		case <-f.done:
			if f.err == nil {
				return f.dec, nil
			}
			// The first caller failed, perhaps only because its own context
			// ended: try once with ours.
			return d.call(ctx, who, session, action, uri)
		case <-ctx.Done():
			return Decision{}, fmt.Errorf("auth: dynamic authorizer %s: %w", d.procedure, ctx.Err())
		}
	}
	f := &authzFlight{done: make(chan struct{})}
	d.inflight[key] = f
	d.mu.Unlock()

	f.dec, f.err = d.call(ctx, who, session, action, uri)

	d.mu.Lock()
	delete(d.inflight, key)
	if f.err == nil {
		d.cache.put(key, authzEntry{dec: f.dec, expires: d.now().Add(d.ttl)})
	}
	d.mu.Unlock()
	close(f.done)
	return f.dec, f.err
}

// CacheLen returns the number of cached answers.
func (d *DynamicAuthorizer) CacheLen() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cache.len()
}

func (d *DynamicAuthorizer) call(ctx context.Context, who *Identity, session spec.ID, action Action, uri spec.URI) (Decision, error) {
	details := spec.Dict{
		"session":      int64(session),
		"authid":       who.AuthID,
		"authrole":     who.AuthRole,
		"authmethod":   who.AuthMethod,
		"authprovider": who.AuthProvider,
	}
	if len(who.AuthExtra) > 0 {
		details["authextra"] = who.AuthExtra
	}
	args, kwargs, err := d.caller.Call(ctx, d.procedure, spec.List{details, string(uri), string(action)}, nil)
	if err != nil {
		return Decision{}, fmt.Errorf("auth: dynamic authorizer %s for %s %s: %w", d.procedure, action, uri, err)
	}
	var answer any = kwargs
	if len(args) > 0 {
		answer = args[0]
	}
	switch v := answer.(type) {
	case bool:
		return Decision{Allow: v}, nil
	case map[string]any:
		allow, ok := v["allow"].(bool)
		if !ok {
			return Decision{}, fmt.Errorf("auth: dynamic authorizer %s for %s %s: answer has no boolean \"allow\"", d.procedure, action, uri)
		}
		disclose, _ := v["disclose"].(bool)
		return Decision{Allow: allow, Disclose: allow && disclose}, nil
	}
	return Decision{}, fmt.Errorf("auth: dynamic authorizer %s for %s %s: answer is %T, want a bool or {allow, disclose}", d.procedure, action, uri, answer)
}
