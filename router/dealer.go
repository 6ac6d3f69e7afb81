package router

import (
	"errors"

	"github.com/switchyard/switchyard/auth"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// dealer routes RPC within one realm.
//
// Registrations live behind dealer.mu (read-mostly). In-flight calls are not
// behind any realm-wide lock: each call is linked from its caller's and its
// callee's session (each under that session's own mu), and completes exactly
// once through an atomic flag.
type dealer struct {
	realm *Realm

	mu    sync.RWMutex // guards the fields below
	index *uriIndex[*registration]
	byID  map[spec.ID]*registration

	// cluster is nil on a single node (see cluster_rpc.go).
	cluster *clusterState
}

type registration struct {
	id        spec.ID
	procedure spec.URI
	match     string
	invoke    string
	// forwardTimeout: the first callee asked for CALL timeouts to be
	// forwarded to it (REGISTER.Options.forward_timeout) instead of enforced
	// by the dealer.
	forwardTimeout bool
	// discloseCaller: the first callee asked for the caller's identity on
	// every invocation (REGISTER.Options.disclose_caller).
	discloseCaller bool
	created        time.Time
	callees        []*session // guarded by dealer.mu
	// since[i] is when callees[i] registered, for first and last across
	// the nodes of a cluster. Guarded by dealer.mu.
	since []time.Time
	next  atomic.Uint64
}

// Invocation policies of shared registrations.
const (
	invokeSingle     = "single"
	invokeRoundRobin = "roundrobin"
	invokeRandom     = "random"
	invokeFirst      = "first"
	invokeLast       = "last"
)

// pick chooses the callee by the registration's invocation policy. Called
// with dealer.mu read-locked.
func (reg *registration) pick() *session {
	n := len(reg.callees)
	switch reg.invoke {
	case invokeRoundRobin:
		return reg.callees[int((reg.next.Add(1)-1)%uint64(n))]
	case invokeRandom:
		return reg.callees[rand.IntN(n)]
	case invokeLast:
		return reg.callees[n-1]
	}
	return reg.callees[0]
}

// call is one CALL in flight, from CALL to its final RESULT or ERROR.
type call struct {
	caller       *session
	callerReq    spec.ID
	callee       *session
	invReq       spec.ID
	registration spec.ID
	// remoteNode: the callee is on that node (callee is nil, invReq is the
	// call's key there). origin: the caller is on another node (caller is
	// nil, callerReq is the call's key).
	remoteNode string
	origin     *remoteOrigin
	// resend is the CALL sent to remoteNode, kept (unless progressive) so
	// that it can go to another callee if that node has none left; bounces
	// counts the nodes that had none.
	resend          *spec.Call
	disclose        bool
	bounces         int
	receiveProgress bool
	timeout         time.Duration
	start           time.Duration // monoNow() when the call came, for the call duration histogram
	done            atomic.Bool

	// inv and result are the INVOCATION sent for the call and the RESULT
	// forwarded to its caller, kept here so that a call is one allocation,
	// not three: a message is encoded before send returns, and nothing
	// holds it after. result is used by the callee's reader only (YIELDs
	// arrive one at a time); inv by the goroutine dispatching the call.
	inv    spec.Invocation
	result spec.Result

	mu        sync.Mutex  // guards the fields below
	timer     *time.Timer // the dealer-side timeout, if any
	streaming bool        // progressive call invocations still to come
}

func newDealer(realm *Realm) *dealer {
	return &dealer{
		realm: realm,
		index: newURIIndex[*registration](),
		byID:  make(map[spec.ID]*registration),
	}
}

func (d *dealer) register(s *session, m *spec.Register) {
	match := optString(m.Options, spec.OptMatch, spec.MatchExact)
	invoke := optString(m.Options, spec.OptInvoke, invokeSingle)
	if !spec.ValidURI(m.Procedure, d.realm.router.rule, match) {
		s.sendError(spec.TypeRegister, m.Request, spec.ErrInvalidURI, "invalid procedure URI "+string(m.Procedure)+" for match policy "+match)
		return
	}
	if _, ok := s.authorize(auth.ActionRegister, m.Procedure, spec.TypeRegister, m.Request, true); !ok {
		return
	}
	if spec.IsReservedURI(m.Procedure) {
		s.sendError(spec.TypeRegister, m.Request, spec.ErrNotAuthorized, "procedures under wamp. are reserved for the router")
		return
	}
	heldElsewhere := false
	if d.cluster != nil {
		ok, held := d.claimCluster(s, m, match, invoke)
		if !ok {
			return
		}
		heldElsewhere = held
	}
	var meta []metaEvent
	d.mu.Lock()
	defer func() {
		d.mu.Unlock()
		d.realm.emit(meta)
	}()
	if len(s.registrations) >= d.realm.router.opts.MaxRegistrationsPerSession {
		d.withdrawUnused(match, m.Procedure, invoke)
		s.sendError(spec.TypeRegister, m.Request, ErrLimitExceeded, "at most "+itoa(d.realm.router.opts.MaxRegistrationsPerSession)+" registrations per session")
		return
	}
	reg, exists := d.index.get(match, m.Procedure)
	switch {
	case !exists:
		reg = &registration{id: d.registrationID(match, m.Procedure), procedure: m.Procedure, match: match, invoke: invoke, created: time.Now(), callees: []*session{s}, since: []time.Time{time.Now()},
			forwardTimeout: optBool(m.Options, "forward_timeout", false),
			discloseCaller: optBool(m.Options, "disclose_caller", false)}
		d.index.put(match, m.Procedure, reg)
		d.byID[reg.id] = reg
		if d.saysRegCreated(match, m.Procedure, heldElsewhere) {
			meta = append(meta, metaEvent{"wamp.registration.on_create", spec.List{int64(s.id), regDetails(reg)}})
		}
	case invoke == invokeSingle || reg.invoke != invoke:
		msg := "procedure " + string(m.Procedure) + " is already registered"
		if reg.invoke != invoke {
			msg += " with invocation policy " + reg.invoke
		}
		s.sendError(spec.TypeRegister, m.Request, spec.ErrProcedureAlreadyExists, msg)
		return
	case s.registrations[reg.id] != nil:
		s.sendError(spec.TypeRegister, m.Request, spec.ErrProcedureAlreadyExists, "this session already registered "+string(m.Procedure))
		return
	default:
		reg.callees = append(reg.callees, s)
		reg.since = append(reg.since, time.Now())
	}
	if s.registrations == nil {
		s.registrations = make(map[spec.ID]*registration)
	}
	s.registrations[reg.id] = reg
	meta = append(meta, metaEvent{"wamp.registration.on_register", spec.List{int64(s.id), int64(reg.id)}})
	d.announce(reg)
	// Queued under the lock: REGISTERED precedes any INVOCATION for it.
	s.send(&spec.Registered{Request: m.Request, Registration: reg.id})
}

// newID picks an unused random registration ID. Called with d.mu held.
func (d *dealer) newID() spec.ID {
	for {
		id := spec.GlobalID()
		if d.byID[id] == nil {
			return id
		}
	}
}

func (d *dealer) unregister(s *session, m *spec.Unregister) {
	var meta []metaEvent
	d.mu.Lock()
	reg, ok := s.registrations[m.Registration]
	if ok {
		meta = d.detach(s, reg, meta)
	}
	d.mu.Unlock()
	if !ok {
		s.sendError(spec.TypeUnregister, m.Request, spec.ErrNoSuchRegistration, "no registration "+idString(m.Registration)+" for this session")
		return
	}
	s.send(&spec.Unregistered{Request: m.Request})
	d.realm.emit(meta)
}

// detach removes s from reg's callees, appending the meta events that
// follow. Called with d.mu held.
func (d *dealer) detach(s *session, reg *registration, meta []metaEvent) []metaEvent {
	delete(s.registrations, reg.id)
	for i, x := range reg.callees {
		if x == s {
			reg.callees = append(reg.callees[:i], reg.callees[i+1:]...)
			reg.since = append(reg.since[:i], reg.since[i+1:]...)
			break
		}
	}
	meta = append(meta, metaEvent{"wamp.registration.on_unregister", spec.List{int64(s.id), int64(reg.id)}})
	if len(reg.callees) > 0 {
		d.announce(reg)
		return meta
	}
	d.index.remove(reg.match, reg.procedure)
	delete(d.byID, reg.id)
	if d.removed(s, reg) {
		meta = append(meta, metaEvent{"wamp.registration.on_delete", spec.List{int64(s.id), int64(reg.id)}})
	}
	return meta
}

// route picks the callee of a CALL. It is the one place a future cluster
// layer would extend with remote callees.
func (d *dealer) route(procedure spec.URI) (*registration, *session) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	reg, ok := d.index.best(procedure)
	if !ok || len(reg.callees) == 0 {
		return nil, nil
	}
	return reg, reg.pick()
}

// call routes a CALL. It returns false on a protocol violation, after
// sending ABORT.
func (d *dealer) call(s *session, m *spec.Call) bool {
	start := monoNow()
	if !spec.ValidURI(m.Procedure, d.realm.router.rule, spec.MatchExact) {
		s.sendError(spec.TypeCall, m.Request, spec.ErrInvalidURI, "invalid procedure URI "+string(m.Procedure))
		return true
	}
	progressive := optBool(m.Options, spec.OptProgress, false)
	if progressive && !s.features.has(callerProgressiveInvocations) {
		s.violation("CALL.Options.progress without announcing progressive_call_invocations")
		return false
	}
	if hasPassthru(m.Options) && !s.features.has(callerPassthru) {
		s.violation("ppt_* options without announcing payload_passthru_mode")
		return false
	}
	decision, ok := s.authorize(auth.ActionCall, m.Procedure, spec.TypeCall, m.Request, true)
	if !ok {
		return true
	}
	s.mu.Lock()
	busy := len(s.calls) >= d.realm.router.opts.MaxCallsPerSession
	s.mu.Unlock()
	if busy {
		s.sendError(spec.TypeCall, m.Request, ErrLimitExceeded, "at most "+itoa(d.realm.router.opts.MaxCallsPerSession)+" calls in flight per session")
		return true
	}
	if spec.IsReservedURI(m.Procedure) && d.callMeta(s, m) {
		return true
	}
	disclose := decision.Disclose || optBool(m.Options, spec.OptDiscloseMe, false)
	d.dispatch(s, m, disclose, progressive, start, 0)
	return true
}

// dispatch hands an allowed CALL to its callee, here or on another node.
// bounces counts the nodes that already answered they had no callee left
// for it (see HandleRemoteReply).
func (d *dealer) dispatch(s *session, m *spec.Call, disclose, progressive bool, start time.Duration, bounces int) {
	var reg *registration
	var callee *session
	if d.cluster != nil {
		var node string
		reg, callee, node = d.routeCluster(m.Procedure)
		if node != "" {
			d.callRemote(s, m, node, disclose, progressive, start, bounces)
			return
		}
	} else {
		reg, callee = d.route(m.Procedure)
	}
	if callee == nil {
		s.sendError(spec.TypeCall, m.Request, spec.ErrNoSuchProcedure, "no callee registered for "+string(m.Procedure))
		return
	}
	switch {
	case progressive && !(callee.features.has(calleeProgressiveInvocations | calleeCanceling)):
		s.sendError(spec.TypeCall, m.Request, spec.ErrFeatureNotSupported, "the callee does not support progressive call invocations")
		return
	case hasPassthru(m.Options) && !callee.features.has(calleePassthru):
		s.sendError(spec.TypeCall, m.Request, spec.ErrFeatureNotSupported, "the callee does not support payload passthru mode")
		return
	}
	c := &call{
		caller:          s,
		callerReq:       m.Request,
		callee:          callee,
		invReq:          callee.invocations.Next(),
		registration:    reg.id,
		receiveProgress: optBool(m.Options, spec.OptReceiveProgress, false) && callee.features.has(calleeProgress),
		streaming:       progressive,
		start:           start,
	}
	details := d.invocationDetails(c, reg, m.Procedure, m.Options, progressive, disclose, s.id, s.AuthID, s.AuthRole)

	s.mu.Lock()
	if s.calls == nil {
		s.calls = make(map[spec.ID]*call)
	}
	s.calls[m.Request] = c
	s.mu.Unlock()
	d.realm.router.stats.CallsInFlight.Add(1)
	d.realm.stats.inFlight.Add(1)
	callee.mu.Lock()
	gone := callee.left
	if !gone {
		if callee.pending == nil {
			callee.pending = make(map[spec.ID]*call)
		}
		callee.pending[c.invReq] = c
	}
	callee.mu.Unlock()
	if gone {
		d.fail(c, spec.ErrCanceled, "the callee left")
		return
	}
	d.armTimeout(c)
	c.inv = spec.Invocation{
		Request:      c.invReq,
		Registration: reg.id,
		Details:      details,
		Arguments:    m.Arguments,
		ArgumentsKw:  m.ArgumentsKw,
		Raw:          m.Raw,
	}
	d.invoke(c, &c.inv)
	c.inv = spec.Invocation{} // encoded: do not pin the payload while the call runs
}

// invocationDetails builds an INVOCATION's details for call c (and sets
// its timeout): the caller is disclosed when its node decided so (disclose)
// or the registration asks for it.
func (d *dealer) invocationDetails(c *call, reg *registration, procedure spec.URI, opts spec.Dict, progressive, disclose bool, caller spec.ID, authID, authRole string) spec.Dict {
	var details spec.Dict
	if reg.match != spec.MatchExact {
		details = setDetail(details, "procedure", string(procedure))
	}
	if c.receiveProgress {
		details = setDetail(details, spec.OptReceiveProgress, true)
	}
	if progressive {
		details = setDetail(details, spec.OptProgress, true)
	}
	if disclose || reg.discloseCaller {
		details = setDetail(details, "caller", int64(caller))
		details["caller_authid"] = authID
		details["caller_authrole"] = authRole
	}
	details = copyPassthru(details, opts)
	if ms, ok := optUint(opts, spec.OptTimeout); ok && ms > 0 {
		c.timeout = millis(ms)
		if c.callee.features.has(calleeTimeout) && reg.forwardTimeout {
			// The callee enforces it; the dealer only forwards it.
			details = setDetail(details, spec.OptTimeout, ms)
			c.timeout = 0
		}
	} else if d.realm.router.opts.DefaultCallTimeout > 0 {
		// A callee that never answers must not hold its caller forever.
		c.timeout = d.realm.router.opts.DefaultCallTimeout
	}
	return details
}

// invoke sends an INVOCATION for c, failing the call if it cannot be sent.
func (d *dealer) invoke(c *call, inv *spec.Invocation) {
	err := c.callee.send(inv)
	switch {
	case err == nil:
	case errors.Is(err, transport.ErrFrameTooLarge):
		d.fail(c, spec.ErrPayloadSizeExceeded, "the call is larger than the callee accepts")
	default:
		d.fail(c, spec.ErrCanceled, "the callee could not be reached")
	}
}

// continueCall forwards a progressive call invocation: a further CALL with
// the request ID of a call still streaming goes to the same callee under the
// same INVOCATION request ID. The options of the first CALL stay in force.
func (d *dealer) continueCall(s *session, m *spec.Call) {
	s.mu.Lock()
	c := s.calls[m.Request]
	s.mu.Unlock()
	if c == nil || c.done.Load() {
		return // the call is over: the spec says to discard the continuation
	}
	d.continueWith(c, m)
}

// continueWith forwards a continuation of c's progressive invocation.
func (d *dealer) continueWith(c *call, m *spec.Call) {
	more := optBool(m.Options, spec.OptProgress, false)
	c.mu.Lock()
	open := c.streaming
	c.streaming = more
	c.mu.Unlock()
	if !open {
		return
	}
	var details spec.Dict
	if more {
		details = setDetail(details, spec.OptProgress, true)
	}
	details = copyPassthru(details, m.Options)
	if c.remoteNode != "" {
		d.cluster.rpc.SendCall(c.remoteNode, &RemoteCall{Key: c.invReq, Options: m.Options, Arguments: m.Arguments, ArgumentsKw: m.ArgumentsKw, Raw: m.Raw, Continue: true,
			Caller: c.caller.id, AuthID: c.caller.AuthID, AuthRole: c.caller.AuthRole})
		return
	}
	d.invoke(c, &spec.Invocation{Request: c.invReq, Registration: c.registration, Details: details, Arguments: m.Arguments, ArgumentsKw: m.ArgumentsKw, Raw: m.Raw})
}

// armTimeout starts the dealer-side call timeout. When it fires the caller
// gets wamp.error.timeout and the callee, if it supports canceling, an
// INTERRUPT (killnowait); otherwise its late answer is dropped (skip).
func (d *dealer) armTimeout(c *call) {
	if c.timeout <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done.Load() {
		return
	}
	c.timer = time.AfterFunc(c.timeout, func() {
		if !d.finish(c) {
			return
		}
		switch {
		case c.remoteNode != "":
			d.cluster.rpc.SendCancel(c.remoteNode, c.invReq, "killnowait")
		case c.callee.features.has(calleeCanceling):
			c.callee.send(&spec.Interrupt{Request: c.invReq, Options: spec.Dict{"mode": "killnowait", "reason": string(spec.ErrTimeout)}})
		}
		d.errorToCaller(c, spec.ErrTimeout, "the call timed out")
	})
}

// hasPassthru reports whether options use payload passthru mode.
func hasPassthru(opts spec.Dict) bool {
	_, ok := opts["ppt_scheme"]
	return ok
}

// copyPassthru copies the ppt_* keys from one message's options to the
// next message's details: the router never looks inside such a payload.
func copyPassthru(dst, src spec.Dict) spec.Dict {
	if !hasPassthru(src) {
		return dst
	}
	for _, k := range [...]string{"ppt_scheme", "ppt_serializer", "ppt_cipher", "ppt_keyid"} {
		if v, ok := src[k]; ok {
			dst = setDetail(dst, k, v)
		}
	}
	return dst
}

// setDetail sets key k of a message's Details d, making d on first use:
// most INVOCATIONs, RESULTs and EVENTs carry no details, and nil Details
// encode as {} without a map made for each message.
func setDetail(d spec.Dict, k string, v any) spec.Dict {
	if d == nil {
		d = make(spec.Dict, 4)
	}
	d[k] = v
	return d
}

// finish marks c complete and unlinks it from both sessions. Only the first
// caller of finish gets true and answers the caller.
func (d *dealer) finish(c *call) bool {
	if !d.release(c) {
		return false
	}
	d.realm.stats.calls.observe(monoNow() - c.start)
	return true
}

// release is finish without the call's end being counted: a call bounced
// by a node without callees goes on as a new call.
func (d *dealer) release(c *call) bool {
	if !c.done.CompareAndSwap(false, true) {
		return false
	}
	if c.caller != nil {
		c.caller.mu.Lock()
		if c.caller.calls[c.callerReq] == c {
			delete(c.caller.calls, c.callerReq)
		}
		c.caller.mu.Unlock()
	}
	if c.callee != nil {
		c.callee.mu.Lock()
		delete(c.callee.pending, c.invReq)
		c.callee.mu.Unlock()
	}
	if d.cluster != nil {
		d.unlinkRemote(c)
	}
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.streaming = false
	c.mu.Unlock()
	d.realm.router.stats.CallsInFlight.Add(-1)
	d.realm.stats.inFlight.Add(-1)
	return true
}

// fail completes c with an error from the router.
func (d *dealer) fail(c *call, uri spec.URI, message string) {
	if d.finish(c) {
		d.errorToCaller(c, uri, message)
	}
}

// pendingCall finds the call behind an INVOCATION request of callee. ok is
// false when the request ID was never issued: a protocol violation. A nil
// call with ok true is a late answer to a call already over.
func (d *dealer) pendingCall(callee *session, req spec.ID) (c *call, ok bool) {
	callee.mu.Lock()
	c = callee.pending[req]
	callee.mu.Unlock()
	if c != nil {
		return c, true
	}
	return nil, req <= callee.invocations.Last()
}

// yield forwards a callee's YIELD. It returns false on a protocol
// violation, after sending ABORT.
func (d *dealer) yield(callee *session, m *spec.Yield) bool {
	c, ok := d.pendingCall(callee, m.Request)
	if !ok {
		callee.violation("YIELD for unknown INVOCATION request " + idString(m.Request))
		return false
	}
	if c == nil {
		return true // the call was canceled or its caller left: drop the late result
	}
	details := copyPassthru(nil, m.Options)
	if optBool(m.Options, spec.OptProgress, false) {
		if c.receiveProgress && !c.done.Load() {
			// The timeout runs between results of a progressive call.
			c.mu.Lock()
			if c.timer != nil {
				c.timer.Reset(c.timeout)
			}
			c.mu.Unlock()
			details = setDetail(details, spec.OptProgress, true)
			d.toCaller(c, c.resultOf(m, details))
			c.result = spec.Result{}
		}
		return true
	}
	if !d.finish(c) {
		return true
	}
	err := d.toCaller(c, c.resultOf(m, details))
	if errors.Is(err, transport.ErrFrameTooLarge) {
		c.caller.sendError(spec.TypeCall, c.callerReq, spec.ErrPayloadSizeExceeded, "the result is larger than the caller accepts")
	}
	return true
}

// resultOf fills c's RESULT for the callee's YIELD m. The callee's reader
// alone calls it, so one RESULT per call serves every progressive result.
func (c *call) resultOf(m *spec.Yield, details spec.Dict) *spec.Result {
	c.result = spec.Result{Request: c.callerReq, Details: details, Arguments: m.Arguments, ArgumentsKw: m.ArgumentsKw, Raw: m.Raw}
	return &c.result
}

// calleeError forwards a callee's ERROR for an INVOCATION to the caller,
// payload unchanged.
func (d *dealer) calleeError(callee *session, m *spec.Error) bool {
	c, ok := d.pendingCall(callee, m.Request)
	if !ok {
		callee.violation("ERROR for unknown INVOCATION request " + idString(m.Request))
		return false
	}
	if c == nil || !d.finish(c) {
		return true
	}
	err := d.toCaller(c, &spec.Error{RequestType: spec.TypeCall, Request: c.callerReq, Details: m.Details, Error: m.Error, Arguments: m.Arguments, ArgumentsKw: m.ArgumentsKw, Raw: m.Raw})
	if errors.Is(err, transport.ErrFrameTooLarge) {
		c.caller.sendError(spec.TypeCall, c.callerReq, spec.ErrPayloadSizeExceeded, "the error is larger than the caller accepts")
	}
	return true
}

// cancel handles a caller's CANCEL. Modes: skip answers the caller at once
// and leaves the callee alone; killnowait answers at once and interrupts the
// callee; kill interrupts the callee and lets its answer reach the caller.
// A callee that did not announce call_canceling only ever gets skip.
func (d *dealer) cancel(s *session, m *spec.Cancel) {
	s.mu.Lock()
	c := s.calls[m.Request]
	s.mu.Unlock()
	if c == nil {
		return // already answered: nothing to cancel
	}
	mode := optString(m.Options, "mode", "killnowait")
	if c.remoteNode != "" {
		// The callee's node knows whether it can interrupt; kill waits
		// for its answer, the other modes answer here at once.
		if mode != "kill" && d.finish(c) {
			s.sendError(spec.TypeCall, c.callerReq, spec.ErrCanceled, "canceled by the caller")
		}
		d.cluster.rpc.SendCancel(c.remoteNode, c.invReq, mode)
		return
	}
	d.cancelCall(c, mode)
}

// cancelCall cancels c on its callee's node.
func (d *dealer) cancelCall(c *call, mode string) {
	if !c.callee.features.has(calleeCanceling) {
		mode = "skip"
	}
	switch mode {
	case "kill":
		c.callee.send(&spec.Interrupt{Request: c.invReq, Options: spec.Dict{"mode": "kill"}})
	case "killnowait":
		if d.finish(c) {
			c.callee.send(&spec.Interrupt{Request: c.invReq, Options: spec.Dict{"mode": "killnowait"}})
			d.errorToCaller(c, spec.ErrCanceled, "canceled by the caller")
		}
	default:
		d.fail(c, spec.ErrCanceled, "canceled by the caller")
	}
}

// failCallsOf answers every call s has in flight as a caller with
// wamp.error.canceled, for a shutdown: no call is left unanswered.
func (d *dealer) failCallsOf(s *session, message string) {
	s.mu.Lock()
	calls := make([]*call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	for _, c := range calls {
		d.fail(c, spec.ErrCanceled, message)
	}
}

// removeSession drops s's registrations and ends its calls: callers of its
// pending invocations get wamp.error.canceled, and callees of its own calls
// are interrupted (killnowait) when they support canceling.
func (d *dealer) removeSession(s *session) []metaEvent {
	var meta []metaEvent
	d.mu.Lock()
	for _, reg := range s.registrations {
		meta = d.detach(s, reg, meta)
	}
	d.mu.Unlock()
	d.endCalls(s)
	return meta
}

// endCalls ends every call s takes part in, and attaches no new one to it:
// callers of its pending invocations get wamp.error.canceled, and callees
// of its own calls are interrupted (killnowait) when they support
// canceling. It runs when s leaves, and as soon as the router closes s.
func (d *dealer) endCalls(s *session) {
	s.mu.Lock()
	s.left = true
	asCaller := make([]*call, 0, len(s.calls))
	for _, c := range s.calls {
		asCaller = append(asCaller, c)
	}
	asCallee := make([]*call, 0, len(s.pending))
	for _, c := range s.pending {
		asCallee = append(asCallee, c)
	}
	s.mu.Unlock()

	for _, c := range asCallee {
		d.fail(c, spec.ErrCanceled, "the callee left")
	}
	for _, c := range asCaller {
		if c.remoteNode != "" {
			if d.finish(c) {
				d.cluster.rpc.SendCancel(c.remoteNode, c.invReq, "killnowait")
			}
			continue
		}
		if d.finish(c) && c.callee.features.has(calleeCanceling) && c.callee != s {
			c.callee.send(&spec.Interrupt{Request: c.invReq, Options: spec.Dict{"mode": "killnowait"}})
		}
	}
}

// clockEpoch anchors monoNow.
var clockEpoch = time.Now()

// monoNow is the monotonic clock as a duration since the process began. A
// call's duration needs no wall time, and one monotonic reading costs half
// of time.Now's two clock reads on the path of every call.
func monoNow() time.Duration { return time.Since(clockEpoch) }
