package router

import (
	"strings"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// Registrations across nodes, as the meta API sees them; the registration
// counterpart of the subscription part of cluster_meta.go.
//
// IDs. Every node derives a registration's ID from (realm, match,
// procedure) (ClusterRPC.RegistrationID), so the callees of a shared
// registration on different nodes hold one ID, and wamp.registration.get
// finds it from any node. Unlike on one node, a registration deleted and
// made again gets the same ID back.
//
// on_create and on_delete. A node says on_create for its new registration
// only if no node that accepted its proposal had callees of it then (the
// acknowledgement says so) and no other node has announced callees of it
// since (the claims table; a claim that is only an accepted proposal does
// not count, so two nodes registering together never both stay silent),
// and on_delete for its last callee's leaving only if no other node has
// callees left or an accepted proposal (its callee is about to register).
// Otherwise it keeps the on_delete pending and says so in its withdrawal
// (RemoteRegistration.Said/At): the node whose last callee leaves later
// sees the withdrawal and says the event; when both left before hearing of
// each other, the one whose callee left last (by its clock) says it once
// every withdrawal is known. Residual races, as for subscriptions
// (docs/CLUSTER.md): first callees on two nodes within one control round
// trip both say on_create (and a registration made while the only other
// node's callees leave says none); last callees on two nodes leaving in the
// same nanosecond, or on three or more nodes within one round trip, can say
// on_delete more than once (never not at all).

// pendingRegDelete is an on_delete this node keeps while other nodes still
// have callees of the registration.
type pendingRegDelete struct {
	session, id spec.ID
	at          int64 // when the last callee here left, Unix nanoseconds
	// others: the nodes whose last callees left, not saying on_delete,
	// while this one was pending, with when; the last to leave says it.
	others map[string]int64
}

// registrationID picks the ID of a new registration: the cluster's when
// the realm is clustered (unless, against all odds, another registration
// here has it), a fresh random one otherwise. Called with d.mu held.
func (d *dealer) registrationID(match string, procedure spec.URI) spec.ID {
	if cs := d.cluster; cs != nil {
		if id := cs.rpc.RegistrationID(match, procedure); id != 0 && d.byID[id] == nil {
			return id
		}
	}
	return d.newID()
}

// registeredElsewhereLocked reports whether another node has announced
// callees of (match, procedure). Called with d.mu held.
func (cs *clusterState) registeredElsewhereLocked(match string, procedure spec.URI) bool {
	rr, ok := cs.claims.get(match, procedure)
	if !ok {
		return false
	}
	for _, x := range rr.nodes {
		if x.announced() {
			return true
		}
	}
	return false
}

// claimedElsewhereLocked reports whether another node has callees of
// (match, procedure) or an accepted proposal of it, whose callee is about
// to register: on_delete is then the last one's to say. Called with d.mu
// held.
func (cs *clusterState) claimedElsewhereLocked(match string, procedure spec.URI) bool {
	rr, ok := cs.claims.get(match, procedure)
	return ok && len(rr.nodes) > 0
}

// announced reports whether the node has said it has callees (an accepted
// proposal alone has no registration times yet).
func (x remoteNode) announced() bool { return x.callees > 0 && x.first != 0 }

// saysRegCreated reports whether this node says on_create for its new
// registration: always on a single node, only if no other node has callees
// of it in a cluster — none said so when accepting the proposal
// (heldElsewhere) and none announced any. Called with d.mu held.
func (d *dealer) saysRegCreated(match string, procedure spec.URI, heldElsewhere bool) bool {
	cs := d.cluster
	if cs == nil {
		return true
	}
	delete(cs.pending, regKey{match, procedure}) // registered again here
	return !heldElsewhere && !cs.registeredElsewhereLocked(match, procedure)
}

// removed is called when reg's last callee on this node (s) left: it
// reports whether on_delete is this node's to say now, keeps it pending if
// not, and tells the other nodes. Called with d.mu held, reg already out of
// the index.
func (d *dealer) removed(s *session, reg *registration) bool {
	cs := d.cluster
	if cs == nil {
		return true
	}
	r := reg.remote()
	k := regKey{reg.match, reg.procedure}
	if cs.claimedElsewhereLocked(reg.match, reg.procedure) {
		p := &pendingRegDelete{session: s.id, id: reg.id, at: time.Now().UnixNano(), others: map[string]int64{}}
		cs.pending[k] = p
		r.At = p.at
	} else {
		delete(cs.pending, k)
		r.Said = true
	}
	cs.rpc.AnnounceRegistration(r)
	return r.Said
}

// settleLocked settles a pending on_delete when node withdraws its callees
// of r's registration: it returns the event for this node to say, or nil.
// Called with d.mu held, after node's claim is updated.
func (d *dealer) settleLocked(node string, r RemoteRegistration) *pendingRegDelete {
	cs := d.cluster
	k := regKey{r.Match, r.Procedure}
	p := cs.pending[k]
	if p == nil {
		return nil
	}
	if r.Said {
		delete(cs.pending, k) // that node said it
		return nil
	}
	if r.At != 0 {
		p.others[node] = r.At
	}
	if _, held := d.index.get(r.Match, r.Procedure); held || cs.claimedElsewhereLocked(r.Match, r.Procedure) {
		return nil
	}
	delete(cs.pending, k)
	for _, at := range p.others {
		if at > p.at {
			return nil // that node left last: it says it
		}
	}
	return p
}

// forgetPendingLocked drops the pending on_deletes no live node can settle
// any more (the nodes with callees are gone). Called with d.mu held.
func (d *dealer) forgetPendingLocked() {
	cs := d.cluster
	for k := range cs.pending {
		if !cs.claimedElsewhereLocked(k.match, k.procedure) {
			delete(cs.pending, k)
		}
	}
}

// sayRegDeleted publishes an on_delete the cluster settled after the fact.
func (realm *Realm) sayRegDeleted(p *pendingRegDelete) {
	realm.routeMu.RLock()
	defer realm.routeMu.RUnlock()
	realm.emit([]metaEvent{{"wamp.registration.on_delete", spec.List{int64(p.session), int64(p.id)}}})
}

// precedes reports whether registration pattern a is chosen over b for a
// procedure both match, by WAMP's precedence as one node's index applies
// it: exact, then the longest prefix, then the wildcard whose first
// differing component is literal.
func precedes(matchA string, a spec.URI, matchB string, b spec.URI) bool {
	ra, rb := rank(matchA, a), rank(matchB, b)
	if ra != rb || matchA != spec.MatchWildcard || matchB != spec.MatchWildcard {
		return ra > rb
	}
	// Component by component, without allocating: this runs when a call
	// has a wildcard registration here and another on a node.
	restA, restB := string(a), string(b)
	for restA != "" || restB != "" {
		ca, ta, _ := strings.Cut(restA, ".")
		cb, tb, _ := strings.Cut(restB, ".")
		if ca != cb {
			return ca != ""
		}
		restA, restB = ta, tb
	}
	return false
}

// registrationMatchPart is one node's part of wamp.registration.match: its
// best registration for the procedure with the pattern, so that the asking
// node can rank the nodes' answers: [id, match, pattern], or [null].
func registrationMatchPart(realm *Realm, _ *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	uri, err := argString(m, 0)
	if err != nil {
		return nil, nil, err
	}
	d := realm.dealer
	d.mu.RLock()
	defer d.mu.RUnlock()
	if reg, ok := d.index.best(spec.URI(uri)); ok {
		return spec.List{int64(reg.id), reg.match, string(reg.procedure)}, nil, nil
	}
	return spec.List{nil}, nil, nil
}

// mergeBestRegistration is match's: the registration of the nodes' best
// ones that WAMP's precedence picks; null when no node has one.
func mergeBestRegistration(all []spec.List) spec.List {
	var (
		best        spec.ID
		bestMatch   string
		bestPattern spec.URI
	)
	for _, a := range all {
		if len(a) < 3 {
			continue
		}
		id, ok := spec.AsID(a[0])
		match, _ := a[1].(string)
		pattern, _ := a[2].(string)
		if !ok || match == "" {
			continue
		}
		if best == 0 || precedes(match, spec.URI(pattern), bestMatch, bestPattern) {
			best, bestMatch, bestPattern = id, match, spec.URI(pattern)
		}
	}
	if best == 0 {
		return spec.List{nil}
	}
	return spec.List{int64(best)}
}

// withdrawUnused withdraws the claim the other nodes accepted for a
// registration this node then refused by its own rules (a session's
// limit), so that they neither route calls to it nor keep an on_delete
// for it. Called with d.mu held.
func (d *dealer) withdrawUnused(match string, procedure spec.URI, invoke string) {
	if d.cluster == nil {
		return
	}
	if _, held := d.index.get(match, procedure); !held {
		d.cluster.rpc.AnnounceRegistration(RemoteRegistration{Match: match, Procedure: procedure, Invoke: invoke})
	}
}
