package router

import (
	"errors"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// RPC across the nodes of a cluster. Each node keeps its own registrations
// (the dealer's index, with its meta events and IDs) and, beside them, a
// table of the other nodes' claims: which node has callees for which
// (match policy, procedure), with which invocation policy and how many. A
// CALL whose best registration is on another node goes there once, and its
// RESULT or ERROR comes back once. Local callees never wait for the
// cluster: routing a call to one costs one extra look-up in the claims
// table, and nothing without a cluster.
//
// A new registration on a node is a proposal that every live node must
// acknowledge before REGISTERED (see ClusterRPC.ProposeRegistration and
// CheckRegistration for the conflict rule that leaves exactly one winner).

// ClusterRPC is the part of a ClusterLink that carries RPC between nodes. A
// link that implements it gets cluster-wide registrations and calls; the
// dealer type-asserts it once, when the realm is created.
//
// Nodes are named by opaque tokens (a node's incarnation) that compare as
// strings: the conflict rule orders proposals by them.
type ClusterRPC interface {
	// ProposeRegistration asks every live node to accept a new
	// registration of this node. It returns nil once all accepted,
	// ErrRegistrationConflict when one refused, or another error when the
	// cluster did not answer in time; held reports that a node that
	// accepted has callees of it already (so on_create is not this node's
	// to say). Called under no lock.
	ProposeRegistration(match string, procedure spec.URI, invoke string) (held bool, err error)
	// AnnounceRegistration tells the other nodes how many callees this node
	// has for a registration (0: it has none any more) and when its first
	// and last callee registered. It must not block: it is called with
	// dealer.mu held.
	AnnounceRegistration(r RemoteRegistration)
	// WithdrawRegistration withdraws this node's refused proposal and
	// returns once every live node has forgotten it (or a bound passed),
	// so that no node routes a call to it after the refusal is answered.
	// Called under no lock.
	WithdrawRegistration(match string, procedure spec.URI, invoke string)
	// SendCall sends a call (or a progressive call's continuation) to the
	// node with the callee; SendReply sends a result or error back to the
	// caller's node; SendCancel forwards a caller's CANCEL. None blocks.
	SendCall(node string, c *RemoteCall)
	SendReply(node string, r *RemoteReply)
	SendCancel(node string, key spec.ID, mode string)
	// RegistrationID returns the cluster-wide ID of the registration of
	// procedure under match (0: let the dealer pick one). Called with
	// dealer.mu held: it must not block.
	RegistrationID(match string, procedure spec.URI) spec.ID
}

// ErrRegistrationConflict: another node holds or won the procedure.
var ErrRegistrationConflict = errors.New("cluster: the procedure is registered on another node")

// RemoteCall is a CALL crossing to the node of its callee. Key identifies
// the call on the caller's node; the callee's node answers under it.
type RemoteCall struct {
	Key       spec.ID
	Procedure spec.URI
	// Options are the CALL's options (timeout, receive_progress, progress,
	// ppt_* ...).
	Options     spec.Dict
	Arguments   spec.List
	ArgumentsKw spec.Dict
	// Raw, when set, is the caller's payload as it encoded it, carried
	// unread (Arguments and ArgumentsKw are then empty).
	Raw spec.Raw
	// Disclose: the caller's node decided the caller is disclosed
	// (its authorizer or disclose_me); the callee's registration may
	// still ask for it (disclose_caller).
	Disclose         bool
	Caller           spec.ID
	AuthID, AuthRole string
	// Continue marks a further CALL of a progressive call invocation.
	Continue bool
}

// RemoteReply is a callee's answer going back to the caller's node: a
// RESULT (Error empty) or an ERROR.
type RemoteReply struct {
	Key         spec.ID
	Error       spec.URI
	Details     spec.Dict
	Arguments   spec.List
	ArgumentsKw spec.Dict
	// Raw, when set, is the callee's payload as it encoded it, carried
	// unread (Arguments and ArgumentsKw are then empty).
	Raw spec.Raw
}

// RemoteRegistration is one node's claim on a procedure.
type RemoteRegistration struct {
	Match     string
	Procedure spec.URI
	Invoke    string
	Callees   int
	// First and Last are when the node's first and last callee of it
	// registered (Unix nanoseconds of the node's clock), for the first and
	// last invocation policies.
	First, Last int64
	// Said and At, on a withdrawal (Callees 0): whether the node said
	// wamp.registration.on_delete, and if not, when its last callee left
	// (cluster_regmeta.go).
	Said bool
	At   int64
}

// remoteReg is what the other nodes have under one (match, procedure).
type remoteReg struct {
	match     string
	procedure spec.URI
	invoke    string
	nodes     []remoteNode // sorted by token
	next      atomic.Uint64
}

// remoteNode is one node's callees of a remoteReg; a claim with no callees
// from an accepted proposal counts one callee: every node knows it before
// the proposer's REGISTERED, so a call made anywhere after REGISTERED
// reaches it (a refused proposal is withdrawn before its ERROR).
type remoteNode struct {
	token       string
	callees     int
	first, last int64
}

func (r *remoteReg) callees() int {
	n := 0
	for _, x := range r.nodes {
		n += x.callees
	}
	return n
}

// nth returns the node of the i-th remote callee (0 ≤ i < callees()).
func (r *remoteReg) nth(i int) string {
	for _, x := range r.nodes {
		if i < x.callees {
			return x.token
		}
		i -= x.callees
	}
	return ""
}

// clusterState is the dealer's part of RPC across nodes, nil without.
type clusterState struct {
	rpc ClusterRPC

	// Behind dealer.mu:
	claims    *uriIndex[*remoteReg]
	proposing map[regKey]string            // this node's own open proposals: invoke policy
	pending   map[regKey]*pendingRegDelete // on_deletes kept for other nodes

	mu       sync.Mutex
	next     spec.ID
	outgoing map[spec.ID]*call // this node's calls to other nodes' callees
	incoming map[inKey]*call   // other nodes' calls to this node's callees
}

type regKey struct {
	match     string
	procedure spec.URI
}

type inKey struct {
	node string
	key  spec.ID
}

// remoteOrigin marks a call this node serves for a caller on another node.
type remoteOrigin struct {
	node string
	key  spec.ID
}

func newClusterState(rpc ClusterRPC) *clusterState {
	return &clusterState{
		rpc:       rpc,
		claims:    newURIIndex[*remoteReg](),
		proposing: make(map[regKey]string),
		pending:   make(map[regKey]*pendingRegDelete),
		outgoing:  make(map[spec.ID]*call),
		incoming:  make(map[inKey]*call),
	}
}

func compatible(invokeA, invokeB string) bool {
	return invokeA == invokeB && invokeA != invokeSingle
}

// claimCluster runs before a registration the node does not hold yet: it
// refuses one another node holds incompatibly, and otherwise proposes it to
// every node. It reports whether register may go on, and whether another
// node said it holds the registration already.
func (d *dealer) claimCluster(s *session, m *spec.Register, match, invoke string) (ok, held bool) {
	cs := d.cluster
	k := regKey{match, m.Procedure}
	d.mu.Lock()
	if _, here := d.index.get(match, m.Procedure); here {
		d.mu.Unlock()
		return true, false // the local rules decide
	}
	if rr, ok := cs.claims.get(match, m.Procedure); ok && !compatible(rr.invoke, invoke) {
		d.mu.Unlock()
		s.sendError(spec.TypeRegister, m.Request, spec.ErrProcedureAlreadyExists, "procedure "+string(m.Procedure)+" is already registered on another node")
		return false, false
	}
	if other, ok := cs.proposing[k]; ok && !compatible(other, invoke) {
		d.mu.Unlock()
		s.sendError(spec.TypeRegister, m.Request, spec.ErrProcedureAlreadyExists, "procedure "+string(m.Procedure)+" is being registered")
		return false, false
	}
	cs.proposing[k] = invoke
	d.mu.Unlock()

	held, err := cs.rpc.ProposeRegistration(match, m.Procedure, invoke)

	if err != nil {
		d.mu.RLock()
		_, here := d.index.get(match, m.Procedure)
		d.mu.RUnlock()
		if !here {
			cs.rpc.WithdrawRegistration(match, m.Procedure, invoke)
		}
	}
	d.mu.Lock()
	delete(cs.proposing, k)
	d.mu.Unlock()
	switch {
	case errors.Is(err, ErrRegistrationConflict):
		s.sendError(spec.TypeRegister, m.Request, spec.ErrProcedureAlreadyExists, "procedure "+string(m.Procedure)+" is already registered on another node")
		return false, false
	case err != nil:
		s.logger().Warn("cluster: registration not confirmed by every node", "procedure", m.Procedure, "error", err)
		s.sendError(spec.TypeRegister, m.Request, ErrClusterUnreachable, "the cluster did not confirm the registration: "+err.Error())
		return false, false
	}
	return true, held
}

// CheckRegistration decides another node's proposal of a registration, for
// the cluster layer (never with a cluster lock held). It accepts unless the
// proposal conflicts (a single registration, or another invocation policy)
// with a registration this node holds, with this node's own open proposal
// of a lower token, or with another node's claim of a lower token. An
// accepted proposal is remembered as a claim until its node announces its
// callees or withdraws it. held reports that this node has callees of the
// registration (for the proposer's on_create).
//
// Why exactly one of several racing proposals wins: a node proposes only
// while it knows no conflicting claim, so of two racing proposers each
// receives the other's proposal while its own is open (or already won);
// the higher token is then refused by the lower, and the lowest is refused
// by nobody.
func (realm *Realm) CheckRegistration(self, from, match string, procedure spec.URI, invoke string) (ok, held bool) {
	d := realm.dealer
	cs := d.cluster
	if cs == nil {
		return true, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	reg, held := d.index.get(match, procedure)
	if held && !compatible(reg.invoke, invoke) {
		return false, true
	}
	if own, ok := cs.proposing[regKey{match, procedure}]; ok && !compatible(own, invoke) && self < from {
		return false, false
	}
	rr, ok := cs.claims.get(match, procedure)
	if ok && !compatible(rr.invoke, invoke) {
		for _, x := range rr.nodes {
			if x.token != from && x.token < from {
				return false, held
			}
		}
	}
	d.setClaimLocked(from, match, procedure, invoke, -1)
	return true, held
}

// RemoteRegistrationChanged records how many callees node has for a
// registration (0: none; the claim is dropped).
func (realm *Realm) RemoteRegistrationChanged(node string, r RemoteRegistration) {
	d := realm.dealer
	if d.cluster == nil {
		return
	}
	var say *pendingRegDelete
	d.mu.Lock()
	d.setClaimTimesLocked(node, r.Match, r.Procedure, r.Invoke, r.Callees, r.First, r.Last)
	if r.Callees == 0 {
		say = d.settleLocked(node, r)
	}
	d.mu.Unlock()
	if say != nil {
		realm.sayRegDeleted(say)
	}
}

// SetRemoteRegistrations replaces all of node's claims (from its snapshot).
func (realm *Realm) SetRemoteRegistrations(node string, regs []RemoteRegistration) {
	d := realm.dealer
	if d.cluster == nil {
		return
	}
	d.mu.Lock()
	d.dropClaimsLocked(node)
	for _, r := range regs {
		if r.Callees > 0 {
			d.setClaimTimesLocked(node, r.Match, r.Procedure, r.Invoke, r.Callees, r.First, r.Last)
		}
	}
	d.forgetPendingLocked()
	d.mu.Unlock()
}

// setClaimLocked sets node's callee count under (match, procedure); -1
// records an accepted proposal (one callee, unless more are known), 0
// drops the claim. Called with d.mu held.
func (d *dealer) setClaimLocked(node, match string, procedure spec.URI, invoke string, callees int) {
	d.setClaimTimesLocked(node, match, procedure, invoke, callees, 0, 0)
}

// setClaimTimesLocked is setClaimLocked with the node's first and last
// callee registration times (0: unknown, kept as they were).
func (d *dealer) setClaimTimesLocked(node, match string, procedure spec.URI, invoke string, callees int, first, last int64) {
	cs := d.cluster
	rr, ok := cs.claims.get(match, procedure)
	if !ok {
		if callees == 0 {
			return
		}
		rr = &remoteReg{match: match, procedure: procedure, invoke: invoke}
		cs.claims.put(match, procedure, rr)
	}
	i := sort.Search(len(rr.nodes), func(i int) bool { return rr.nodes[i].token >= node })
	found := i < len(rr.nodes) && rr.nodes[i].token == node
	switch {
	case callees == 0:
		if found {
			rr.nodes = append(rr.nodes[:i], rr.nodes[i+1:]...)
		}
	case found:
		if callees > 0 {
			rr.nodes[i].callees = callees
		}
		if first != 0 {
			rr.nodes[i].first, rr.nodes[i].last = first, last
		}
	default:
		rr.nodes = append(rr.nodes, remoteNode{})
		copy(rr.nodes[i+1:], rr.nodes[i:])
		rr.nodes[i] = remoteNode{token: node, callees: max(callees, 1), first: first, last: last}
	}
	if len(rr.nodes) == 0 {
		cs.claims.remove(match, procedure)
		return
	}
	if callees > 0 || len(rr.nodes) == 1 {
		rr.invoke = invoke
	}
}

func (d *dealer) dropClaimsLocked(node string) {
	var drop []*remoteReg
	d.cluster.claims.each(func(_ string, _ spec.URI, rr *remoteReg) {
		for _, x := range rr.nodes {
			if x.token == node {
				drop = append(drop, rr)
				return
			}
		}
	})
	for _, rr := range drop {
		d.setClaimLocked(node, rr.match, rr.procedure, rr.invoke, 0)
	}
}

// LocalRegistrations lists this node's registrations, for its snapshot.
func (realm *Realm) LocalRegistrations() []RemoteRegistration {
	d := realm.dealer
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []RemoteRegistration
	d.index.each(func(match string, procedure spec.URI, reg *registration) {
		out = append(out, reg.remote())
	})
	return out
}

// remote describes reg for the other nodes. Called with d.mu held.
func (reg *registration) remote() RemoteRegistration {
	r := RemoteRegistration{Match: reg.match, Procedure: reg.procedure, Invoke: reg.invoke, Callees: len(reg.callees)}
	if n := len(reg.since); n > 0 {
		r.First, r.Last = reg.since[0].UnixNano(), reg.since[n-1].UnixNano()
	}
	return r
}

// announce tells the other nodes reg's callee count. Called with d.mu held.
func (d *dealer) announce(reg *registration) {
	if d.cluster != nil {
		d.cluster.rpc.AnnounceRegistration(reg.remote())
	}
}

// firstOrLast picks, for the first or last policy, this node's callee
// (node "") or the node whose callee registered first (last). Wall clocks
// of different nodes decide, so skew between them shifts the choice.
func (rr *remoteReg) firstOrLast(reg *registration, last bool) (node string) {
	best := int64(0)
	if reg != nil && len(reg.since) > 0 {
		best = reg.since[0].UnixNano()
		if last {
			best = reg.since[len(reg.since)-1].UnixNano()
		}
	}
	for _, x := range rr.nodes {
		if x.callees == 0 || x.first == 0 {
			continue
		}
		t := x.first
		if last {
			t = x.last
		}
		if (node == "" && best == 0) || (!last && t < best) || (last && t > best) {
			best, node = t, x.token
		}
	}
	return node
}

// rank orders match policies by WAMP's precedence: exact, then the longest
// prefix, then wildcard.
func rank(match string, procedure spec.URI) int {
	switch match {
	case spec.MatchExact:
		return 1 << 30
	case spec.MatchPrefix:
		return 1<<20 + len(procedure)
	}
	return 0
}

// routeCluster routes a CALL on a node of a cluster: to a local callee
// (callee set) or to another node (node set). A registration shared across
// nodes picks among all its callees by its policy: roundrobin and random
// over every callee of every node; first and last pick on the node they
// are on, or on this node when it has callees itself.
func (d *dealer) routeCluster(procedure spec.URI) (reg *registration, callee *session, node string) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	reg, local := d.index.best(procedure)
	if local && len(reg.callees) == 0 {
		local = false
	}
	rr, ok := d.cluster.claims.best(procedure)
	remote := 0
	if ok {
		remote = rr.callees()
	}
	if remote == 0 {
		if !local {
			return nil, nil, ""
		}
		return reg, reg.pick(), ""
	}
	if !local {
		if rr.invoke == invokeFirst || rr.invoke == invokeLast {
			if node := rr.firstOrLast(nil, rr.invoke == invokeLast); node != "" {
				return nil, nil, node
			}
		}
		return nil, nil, rr.nth(d.spread(rr, remote))
	}
	switch {
	case precedes(reg.match, reg.procedure, rr.match, rr.procedure):
		return reg, reg.pick(), ""
	case reg.match != rr.match || reg.procedure != rr.procedure:
		return nil, nil, rr.nth(d.spread(rr, remote))
	}
	total := len(reg.callees) + remote
	var i int
	switch reg.invoke {
	case invokeRoundRobin:
		i = int((reg.next.Add(1) - 1) % uint64(total))
	case invokeRandom:
		i = rand.IntN(total)
	case invokeFirst, invokeLast:
		if node := rr.firstOrLast(reg, reg.invoke == invokeLast); node != "" {
			return nil, nil, node
		}
		return reg, reg.pick(), ""
	default:
		return reg, reg.pick(), ""
	}
	if i < len(reg.callees) {
		return reg, reg.callees[i], ""
	}
	return nil, nil, rr.nth(i - len(reg.callees))
}

// spread picks one of a remote-only registration's callees by its policy.
func (d *dealer) spread(rr *remoteReg, n int) int {
	switch rr.invoke {
	case invokeRoundRobin:
		return int((rr.next.Add(1) - 1) % uint64(n))
	case invokeRandom:
		return rand.IntN(n)
	case invokeLast:
		return n - 1
	}
	return 0
}

// remoteTimeoutGrace is how much longer than the callee's node the caller's
// node waits before it answers a timed call itself.
const remoteTimeoutGrace = time.Second

// errNoCalleeHere is a node's answer to a CALL routed to it after its last
// callee of the procedure left, before the caller's node heard so. The
// caller's node routes the call again (at most maxBounces times): no
// callee saw it, so it is not invoked twice. It never reaches a client.
const errNoCalleeHere spec.URI = "switchyard.cluster.no_callee_here"

// maxBounces bounds how often a call is routed again, for claims that stay
// stale; then the caller gets wamp.error.no_such_procedure.
const maxBounces = 3

// callRemote sends a CALL to the node of its callee.
func (d *dealer) callRemote(s *session, m *spec.Call, node string, disclose bool, progressive bool, start time.Duration, bounces int) {
	cs := d.cluster
	cs.mu.Lock()
	cs.next++
	key := cs.next
	c := &call{
		caller:          s,
		callerReq:       m.Request,
		remoteNode:      node,
		invReq:          key,
		receiveProgress: optBool(m.Options, spec.OptReceiveProgress, false),
		streaming:       progressive,
		start:           start,
		disclose:        disclose,
		bounces:         bounces,
	}
	if !progressive {
		c.resend = m
	}
	cs.outgoing[key] = c
	cs.mu.Unlock()
	s.mu.Lock()
	if s.calls == nil {
		s.calls = make(map[spec.ID]*call)
	}
	s.calls[m.Request] = c
	s.mu.Unlock()
	d.realm.router.stats.CallsInFlight.Add(1)
	d.realm.stats.inFlight.Add(1)
	// The callee's node enforces the timeout. This node's own timer, a
	// little later, answers the caller if that node's answer never comes
	// while it stays alive (a message lost with a route).
	if ms, ok := optUint(m.Options, spec.OptTimeout); ok && ms > 0 {
		c.timeout = millis(ms) + remoteTimeoutGrace
	} else if t := d.realm.router.opts.DefaultCallTimeout; t > 0 {
		c.timeout = t + remoteTimeoutGrace
	}
	d.armTimeout(c)
	cs.rpc.SendCall(node, &RemoteCall{
		Key: key, Procedure: m.Procedure, Options: m.Options, Arguments: m.Arguments, ArgumentsKw: m.ArgumentsKw, Raw: m.Raw,
		Disclose: disclose, Caller: s.id, AuthID: s.AuthID, AuthRole: s.AuthRole,
	})
}

// HandleRemoteCall serves a CALL from a caller on another node with one of
// this node's callees, or answers it with an error.
func (realm *Realm) HandleRemoteCall(from string, rc *RemoteCall) {
	d := realm.dealer
	cs := d.cluster
	if cs == nil {
		return
	}
	if rc.Continue {
		cs.mu.Lock()
		c := cs.incoming[inKey{from, rc.Key}]
		cs.mu.Unlock()
		if c != nil {
			d.continueWith(c, &spec.Call{Request: rc.Key, Options: rc.Options, Procedure: rc.Procedure, Arguments: rc.Arguments, ArgumentsKw: rc.ArgumentsKw, Raw: rc.Raw})
		}
		return
	}
	fail := func(uri spec.URI, msg string) {
		cs.rpc.SendReply(from, &RemoteReply{Key: rc.Key, Error: uri, Details: spec.Dict{}, Arguments: spec.List{msg}})
	}
	progressive := optBool(rc.Options, spec.OptProgress, false)
	reg, callee := d.route(rc.Procedure)
	switch {
	case callee == nil:
		fail(errNoCalleeHere, "no callee registered for "+string(rc.Procedure)+" on this node")
		return
	case progressive && !(callee.features.has(calleeProgressiveInvocations | calleeCanceling)):
		fail(spec.ErrFeatureNotSupported, "the callee does not support progressive call invocations")
		return
	case hasPassthru(rc.Options) && !callee.features.has(calleePassthru):
		fail(spec.ErrFeatureNotSupported, "the callee does not support payload passthru mode")
		return
	}
	c := &call{
		origin:          &remoteOrigin{node: from, key: rc.Key},
		callerReq:       rc.Key,
		callee:          callee,
		invReq:          callee.invocations.Next(),
		registration:    reg.id,
		receiveProgress: optBool(rc.Options, spec.OptReceiveProgress, false) && callee.features.has(calleeProgress),
		streaming:       progressive,
		start:           monoNow(),
	}
	details := d.invocationDetails(c, reg, rc.Procedure, rc.Options, progressive, rc.Disclose, rc.Caller, rc.AuthID, rc.AuthRole)
	cs.mu.Lock()
	cs.incoming[inKey{from, rc.Key}] = c
	cs.mu.Unlock()
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
	d.invoke(c, &spec.Invocation{Request: c.invReq, Registration: reg.id, Details: details, Arguments: rc.Arguments, ArgumentsKw: rc.ArgumentsKw, Raw: rc.Raw})
}

// HandleRemoteReply delivers a result or error from another node's callee
// to this node's caller.
func (realm *Realm) HandleRemoteReply(r *RemoteReply) {
	d := realm.dealer
	cs := d.cluster
	if cs == nil {
		return
	}
	cs.mu.Lock()
	c := cs.outgoing[r.Key]
	cs.mu.Unlock()
	if c == nil {
		return // answered already (canceled, or its caller left)
	}
	if r.Error == "" && optBool(r.Details, spec.OptProgress, false) {
		if c.receiveProgress && !c.done.Load() {
			c.mu.Lock()
			if c.timer != nil {
				c.timer.Reset(c.timeout) // as the callee's node does
			}
			c.mu.Unlock()
			c.caller.send(&spec.Result{Request: c.callerReq, Details: r.Details, Arguments: r.Arguments, ArgumentsKw: r.ArgumentsKw, Raw: r.Raw})
		}
		return
	}
	if r.Error == errNoCalleeHere {
		d.bounced(c)
		return
	}
	if !d.finish(c) {
		return
	}
	if r.Error == "" {
		c.caller.send(&spec.Result{Request: c.callerReq, Details: r.Details, Arguments: r.Arguments, ArgumentsKw: r.ArgumentsKw, Raw: r.Raw})
		return
	}
	c.caller.send(&spec.Error{RequestType: spec.TypeCall, Request: c.callerReq, Details: r.Details, Error: r.Error, Arguments: r.Arguments, ArgumentsKw: r.ArgumentsKw, Raw: r.Raw})
}

// bounced routes again a call whose callee's node had no callee left for
// it: to the callees the cluster has now, or, when none is left or the
// claims stay stale, to wamp.error.no_such_procedure as on one node.
func (d *dealer) bounced(c *call) {
	if !d.release(c) {
		return // answered already (canceled, timed out, or its caller left)
	}
	s, m := c.caller, c.resend
	s.mu.Lock()
	left := s.left
	s.mu.Unlock()
	switch {
	case left:
		return
	case m == nil || c.bounces+1 >= maxBounces:
		d.realm.stats.calls.observe(monoNow() - c.start)
		s.sendError(spec.TypeCall, c.callerReq, spec.ErrNoSuchProcedure, "no callee left for the call")
		return
	}
	d.dispatch(s, m, c.disclose, false, c.start, c.bounces+1)
}

// HandleRemoteCancel applies a caller's CANCEL, forwarded by its node, to
// the call this node serves.
func (realm *Realm) HandleRemoteCancel(from string, key spec.ID, mode string) {
	d := realm.dealer
	cs := d.cluster
	if cs == nil {
		return
	}
	cs.mu.Lock()
	c := cs.incoming[inKey{from, key}]
	cs.mu.Unlock()
	if c != nil {
		d.cancelCall(c, mode)
	}
}

// NodeLost ends what this node had going with a node that left or died:
// its claims are dropped, calls to its callees end in wamp.error.canceled,
// and invocations for its callers are interrupted (killnowait) and never
// answered, nor made again.
func (realm *Realm) NodeLost(node string) {
	d := realm.dealer
	cs := d.cluster
	if cs == nil {
		return
	}
	d.mu.Lock()
	d.dropClaimsLocked(node)
	d.forgetPendingLocked()
	d.mu.Unlock()
	var out, in []*call
	cs.mu.Lock()
	for _, c := range cs.outgoing {
		if c.remoteNode == node {
			out = append(out, c)
		}
	}
	for k, c := range cs.incoming {
		if k.node == node {
			in = append(in, c)
		}
	}
	cs.mu.Unlock()
	for _, c := range out {
		d.fail(c, spec.ErrCanceled, "the callee's node left the cluster")
	}
	for _, c := range in {
		if d.finish(c) && c.callee.features.has(calleeCanceling) {
			c.callee.send(&spec.Interrupt{Request: c.invReq, Options: spec.Dict{"mode": "killnowait", "reason": string(spec.ErrCanceled)}})
		}
	}
}

// unlinkRemote forgets a finished call in the cluster tables.
func (d *dealer) unlinkRemote(c *call) {
	cs := d.cluster
	cs.mu.Lock()
	if c.remoteNode != "" {
		delete(cs.outgoing, c.invReq)
	}
	if c.origin != nil {
		delete(cs.incoming, inKey{c.origin.node, c.origin.key})
	}
	cs.mu.Unlock()
}

// toCaller sends m (a RESULT or ERROR for the call) to its caller, on this
// node or, for a caller on another node, to that node.
func (d *dealer) toCaller(c *call, m spec.Message) error {
	if c.origin == nil {
		return c.caller.send(m)
	}
	// The callee's payload crosses as it is, raw or values.
	r := &RemoteReply{Key: c.origin.key}
	switch m := m.(type) {
	case *spec.Result:
		r.Details, r.Arguments, r.ArgumentsKw, r.Raw = m.Details, m.Arguments, m.ArgumentsKw, m.Raw
	case *spec.Error:
		r.Error, r.Details, r.Arguments, r.ArgumentsKw, r.Raw = m.Error, m.Details, m.Arguments, m.ArgumentsKw, m.Raw
	}
	if r.Details == nil {
		r.Details = spec.Dict{}
	}
	d.cluster.rpc.SendReply(c.origin.node, r)
	return nil
}

// errorToCaller answers the call with an error of the router's.
func (d *dealer) errorToCaller(c *call, uri spec.URI, message string) {
	if c.origin == nil {
		c.caller.sendError(spec.TypeCall, c.callerReq, uri, message)
		return
	}
	d.toCaller(c, &spec.Error{RequestType: spec.TypeCall, Request: c.callerReq, Details: spec.Dict{}, Error: uri, Arguments: spec.List{message}})
}
