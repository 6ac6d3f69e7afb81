package router

import (
	"sort"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// The meta procedures across a cluster. On a clustered realm, the session
// kill procedures and the subscription and registration meta procedures
// (remove_callee and remove_subscriber included) answer for every node:
// the caller's node runs the procedure on its own sessions, subscriptions
// or registrations, asks the other nodes to run the same procedure on
// theirs (ClusterMeta.RemoteMeta), and merges the answers as one node
// holding everything would have given them. Authorization is the caller's
// node's: the other nodes run only what it already allowed.
//
// A subscription has one ID cluster-wide: every node derives it from the
// realm, match policy and topic (ClusterMeta.SubscriptionID), so
// subscribers on different nodes hold the same ID, as on one node; so has
// a registration (cluster_regmeta.go).

// ClusterMeta is the part of a ClusterLink the meta API uses.
type ClusterMeta interface {
	// RemoteMeta asks every other node to run meta procedure call.Procedure
	// on its own part of the realm and returns their answers. It waits a
	// bounded time; a node that does not answer in time is left out.
	// Called under no lock but Realm.routeMu held shared.
	RemoteMeta(call *spec.Call) []MetaAnswer
	// SubscriptionID returns the cluster-wide ID of the subscription to
	// topic under match (0: let the broker pick one). Called with broker.mu
	// held: it must not block.
	SubscriptionID(match string, topic spec.URI) spec.ID
	// SubscriptionCreated is called when this node creates its subscription
	// to topic under match; it reports whether no other node has one, that
	// is, whether wamp.subscription.on_create is this node's to say.
	// Called with broker.mu held: it must not block or call back.
	SubscriptionCreated(match string, topic spec.URI) bool
	// SubscriptionDeleted is called when the last subscriber on this node
	// of the subscription id leaves (session is that subscriber); it
	// reports whether wamp.subscription.on_delete is this node's to say
	// now. When another node still has subscribers, the link keeps the
	// event and says it (through Realm.SayDeleted) if that node's last
	// subscriber leaves without saying it. Called with broker.mu held,
	// before RemoveInterest: it must not block or call back.
	SubscriptionDeleted(match string, topic spec.URI, session, id spec.ID) bool
}

// MetaAnswer is one node's answer to a meta procedure: a RESULT's
// arguments, or an ERROR's URI.
type MetaAnswer struct {
	Arguments spec.List
	Error     spec.URI
}

// clusterMetaProcedures replace their single-node versions on a clustered
// realm. Each runs the single-node version, asks the other nodes, and
// merges.
var clusterMetaProcedures = map[spec.URI]metaProcedure{
	"wamp.session.kill":                   clusterKill,
	"wamp.session.kill_by_authid":         mergeAll(metaKillByAuthID, mergeIDLists),
	"wamp.session.kill_by_authrole":       mergeAll(metaKillByAuthRole, mergeCounts),
	"wamp.session.kill_all":               mergeAll(metaKillAll, mergeCounts),
	"wamp.subscription.list":              mergeAll(metaSubscriptionList, mergePatternLists),
	"wamp.subscription.lookup":            mergeAll(metaSubscriptionLookup, mergeFirstID),
	"wamp.subscription.match":             mergeAll(metaSubscriptionMatch, mergeMatch),
	"wamp.subscription.get":               mergeFound(metaSubscriptionGet, spec.ErrNoSuchSubscription, mergeEarliest),
	"wamp.subscription.list_subscribers":  mergeFound(metaSubscriptionListSubscribers, spec.ErrNoSuchSubscription, mergeIDLists),
	"wamp.subscription.count_subscribers": mergeFound(metaSubscriptionCountSubscribers, spec.ErrNoSuchSubscription, mergeCounts),
	"wamp.registration.list":              mergeAll(metaRegistrationList, mergePatternLists),
	"wamp.registration.lookup":            mergeAll(metaRegistrationLookup, mergeFirstID),
	"wamp.registration.match":             mergeAll(registrationMatchPart, mergeBestRegistration),
	"wamp.registration.get":               mergeFound(metaRegistrationGet, spec.ErrNoSuchRegistration, mergeEarliest),
	"wamp.registration.list_callees":      mergeFound(metaRegistrationListCallees, spec.ErrNoSuchRegistration, mergeIDLists),
	"wamp.registration.count_callees":     mergeFound(metaRegistrationCountCallees, spec.ErrNoSuchRegistration, mergeCounts),
	"wamp.registration.remove_callee":     clusterRevocation(removeCallee),
	"wamp.subscription.remove_subscriber": clusterRevocation(removeSubscriber),
}

// clusterMetaParts are the procedures whose part on each node answers more
// than the single-node procedure does, for the merge to use (match: which
// pattern each node's best registration has, to rank them).
var clusterMetaParts = map[spec.URI]metaProcedure{
	"wamp.registration.match": registrationMatchPart,
}

// clusterMeta returns the realm's meta link, or nil on a single node.
func (realm *Realm) clusterMeta(proc spec.URI) metaProcedure {
	if realm.cluster == nil {
		return nil
	}
	return clusterMetaProcedures[proc]
}

// RemoteMeta runs, for another node, this node's part of a meta procedure
// that node's caller was allowed to call. Only the procedures that merge
// across nodes may be run so; there is no calling session here.
func (realm *Realm) RemoteMeta(call *spec.Call) MetaAnswer {
	if clusterMetaProcedures[call.Procedure] == nil {
		return MetaAnswer{Error: spec.ErrNoSuchProcedure}
	}
	proc := metaProcedures[call.Procedure]
	if part := clusterMetaParts[call.Procedure]; part != nil {
		proc = part
	}
	realm.routeMu.RLock()
	defer realm.routeMu.RUnlock()
	args, _, err := proc(realm, nil, call)
	if err != nil {
		return MetaAnswer{Error: err.uri}
	}
	return MetaAnswer{Arguments: args}
}

// SayDeleted publishes wamp.subscription.on_delete for a subscription whose
// last subscriber cluster-wide was on this node, when the cluster decides
// so after the fact (see ClusterMeta.SubscriptionDeleted).
func (realm *Realm) SayDeleted(session, id spec.ID) {
	realm.routeMu.RLock()
	defer realm.routeMu.RUnlock()
	realm.emit([]metaEvent{{"wamp.subscription.on_delete", spec.List{int64(session), int64(id)}}})
}

// clusterKill is wamp.session.kill: the session is on this node, or the
// other nodes are asked.
func clusterKill(realm *Realm, caller *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	args, kwargs, err := metaSessionKill(realm, caller, m)
	if err == nil || err.uri != spec.ErrNoSuchSession {
		return args, kwargs, err
	}
	id, _ := argID(m, 0)
	if id == caller.id {
		return nil, nil, err // a session cannot kill itself
	}
	for _, a := range realm.cluster.RemoteMeta(m) {
		if a.Error == "" {
			return nil, nil, nil
		}
	}
	return nil, nil, err
}

// clusterRevocation is remove_callee or remove_subscriber: the session
// holding the registration or subscription may be on any node, so when it
// is not removed here the other nodes are asked.
func clusterRevocation(rv revocation) metaProcedure {
	return func(realm *Realm, caller *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
		args, kwargs, err := rv.call(realm, caller, m)
		if err == nil || (err.uri != rv.noSuch && err.uri != spec.ErrNoSuchSession) {
			return args, kwargs, err
		}
		id, _ := argID(m, 0)
		sid, _ := argID(m, 1)
		heldHere := err.uri == spec.ErrNoSuchSession
		return nil, nil, mergeRevocation(rv, id, sid, heldHere, realm.cluster.RemoteMeta(m))
	}
}

// mergeRevocation decides a revocation from the other nodes' answers: done
// if one node removed the session; no_such_session if some node has the
// registration or subscription but not that session on it; otherwise no
// node has it.
func mergeRevocation(rv revocation, id, sid spec.ID, heldHere bool, answers []MetaAnswer) *metaError {
	exists := heldHere
	for _, a := range answers {
		switch a.Error {
		case "":
			return nil
		case spec.ErrNoSuchSession:
			exists = true
		}
	}
	if exists {
		return rv.notHeld(id, sid)
	}
	return rv.noEntry(id)
}

// mergeAll runs proc here and on every other node and merges all the
// answers that succeeded; an error here (a bad argument) is the answer.
func mergeAll(proc metaProcedure, merge func([]spec.List) spec.List) metaProcedure {
	return func(realm *Realm, caller *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
		args, _, err := proc(realm, caller, m)
		if err != nil {
			return nil, nil, err
		}
		all := []spec.List{args}
		for _, a := range realm.cluster.RemoteMeta(m) {
			if a.Error == "" {
				all = append(all, a.Arguments)
			}
		}
		return merge(all), nil, nil
	}
}

// mergeFound is mergeAll for the procedures about one subscription or
// registration: it may exist on other nodes only, so noSuch here (no such
// subscription or registration) is the answer only if no node has it.
func mergeFound(proc metaProcedure, noSuch spec.URI, merge func([]spec.List) spec.List) metaProcedure {
	return func(realm *Realm, caller *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
		args, _, err := proc(realm, caller, m)
		if err != nil && err.uri != noSuch {
			return nil, nil, err
		}
		var all []spec.List
		if err == nil {
			all = append(all, args)
		}
		for _, a := range realm.cluster.RemoteMeta(m) {
			if a.Error == "" {
				all = append(all, a.Arguments)
			}
		}
		if len(all) == 0 {
			return nil, nil, err
		}
		return merge(all), nil, nil
	}
}

func firstArg(l spec.List) any {
	if len(l) == 0 {
		return nil
	}
	return l[0]
}

// sortedIDs returns the IDs in seen, in ascending order.
func sortedIDs(seen map[spec.ID]bool) spec.List {
	ids := make([]spec.ID, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make(spec.List, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out
}

func addIDs(seen map[spec.ID]bool, v any) {
	l, _ := v.([]any)
	for _, x := range l {
		if id, ok := spec.AsID(x); ok {
			seen[id] = true
		}
	}
}

// mergeIDLists unites lists of IDs (killed sessions, subscribers), sorted.
func mergeIDLists(all []spec.List) spec.List {
	seen := map[spec.ID]bool{}
	for _, a := range all {
		addIDs(seen, firstArg(a))
	}
	return spec.List{sortedIDs(seen)}
}

// mergeCounts sums counts.
func mergeCounts(all []spec.List) spec.List {
	var n int64
	for _, a := range all {
		c, _ := spec.AsInt(firstArg(a))
		n += c
	}
	return spec.List{n}
}

// mergeFirstID is lookup's: the subscription's ID is the same on every node
// that has it, so any node's answer will do; null when none has it.
func mergeFirstID(all []spec.List) spec.List {
	for _, a := range all {
		if id, ok := spec.AsID(firstArg(a)); ok {
			return spec.List{int64(id)}
		}
	}
	return spec.List{nil}
}

// mergeMatch unites the subscriptions matching a topic; null when none.
func mergeMatch(all []spec.List) spec.List {
	seen := map[spec.ID]bool{}
	for _, a := range all {
		addIDs(seen, firstArg(a))
	}
	if len(seen) == 0 {
		return spec.List{nil}
	}
	return spec.List{sortedIDs(seen)}
}

// mergePatternLists unites wamp.subscription.list's per-policy lists.
func mergePatternLists(all []spec.List) spec.List {
	out := spec.Dict{}
	for _, match := range []string{spec.MatchExact, spec.MatchPrefix, spec.MatchWildcard} {
		seen := map[spec.ID]bool{}
		for _, a := range all {
			d, _ := firstArg(a).(map[string]any)
			addIDs(seen, d[match])
		}
		out[match] = sortedIDs(seen)
	}
	return spec.List{out}
}

// mergeEarliest is get's: the details are the same on every node but for
// when the node created its subscription or registration; the earliest is
// the cluster's.
func mergeEarliest(all []spec.List) spec.List {
	var best spec.Dict
	var bestT time.Time
	for _, a := range all {
		d, _ := firstArg(a).(map[string]any)
		if d == nil {
			continue
		}
		s, _ := d["created"].(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			continue
		}
		if best == nil || t.Before(bestT) {
			best, bestT = d, t
		}
	}
	if best == nil {
		return firstIfAny(all)
	}
	return spec.List{best}
}

func firstIfAny(all []spec.List) spec.List {
	if len(all) == 0 {
		return spec.List{nil}
	}
	return all[0]
}

// subscriptionID picks the ID of a new subscription: the cluster's when the
// realm is clustered (unless, against all odds, another pattern here has
// it), a fresh random one otherwise. Called with b.mu held.
func (b *broker) subscriptionID(match string, topic spec.URI) spec.ID {
	if l := b.realm.cluster; l != nil {
		if id := l.SubscriptionID(match, topic); id != 0 && b.byID[id] == nil {
			return id
		}
	}
	return b.newID()
}

// saysCreated reports whether this node says on_create for its new
// subscription: always on a single node, only if no other node has it in a
// cluster. Called with b.mu held.
func (b *broker) saysCreated(sub *subscription) bool {
	l := b.realm.cluster
	return l == nil || l.SubscriptionCreated(sub.match, sub.topic)
}

// saysDeleted is saysCreated's counterpart for the last subscriber's
// leaving. Called with b.mu held, before RemoveInterest.
func (b *broker) saysDeleted(s *session, sub *subscription) bool {
	l := b.realm.cluster
	return l == nil || l.SubscriptionDeleted(sub.match, sub.topic, s.id, sub.id)
}
