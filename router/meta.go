package router

import (
	"sort"
	"strconv"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// The meta API: procedures the router itself implements under wamp., and
// the meta events it publishes about sessions, registrations and
// subscriptions in the realm they concern.

// metaProcedure answers one meta call from caller.
type metaProcedure func(realm *Realm, caller *session, m *spec.Call) (spec.List, spec.Dict, *metaError)

type metaError struct {
	uri     spec.URI
	message string
}

func errMeta(uri spec.URI, message string) *metaError { return &metaError{uri: uri, message: message} }

var metaProcedures map[spec.URI]metaProcedure

func init() {
	metaProcedures = map[spec.URI]metaProcedure{
		"wamp.session.count":                  metaSessionCount,
		"wamp.session.list":                   metaSessionList,
		"wamp.session.get":                    metaSessionGet,
		"wamp.session.kill":                   metaSessionKill,
		"wamp.session.kill_by_authid":         metaKillByAuthID,
		"wamp.session.kill_by_authrole":       metaKillByAuthRole,
		"wamp.session.kill_all":               metaKillAll,
		"wamp.session.add_testament":          metaAddTestament,
		"wamp.session.flush_testaments":       metaFlushTestaments,
		"wamp.registration.list":              metaRegistrationList,
		"wamp.registration.lookup":            metaRegistrationLookup,
		"wamp.registration.match":             metaRegistrationMatch,
		"wamp.registration.get":               metaRegistrationGet,
		"wamp.registration.list_callees":      metaRegistrationListCallees,
		"wamp.registration.count_callees":     metaRegistrationCountCallees,
		"wamp.subscription.list":              metaSubscriptionList,
		"wamp.subscription.lookup":            metaSubscriptionLookup,
		"wamp.subscription.match":             metaSubscriptionMatch,
		"wamp.subscription.get":               metaSubscriptionGet,
		"wamp.subscription.list_subscribers":  metaSubscriptionListSubscribers,
		"wamp.subscription.count_subscribers": metaSubscriptionCountSubscribers,
		"wamp.subscription.get_events":        metaGetEvents,
		"wamp.subscription.remove_subscriber": removeSubscriber.call,
		"wamp.registration.remove_callee":     removeCallee.call,
	}
}

// callMeta answers a CALL to a wamp. procedure. It reports false when no
// such meta procedure exists.
func (d *dealer) callMeta(s *session, m *spec.Call) bool {
	proc := metaProcedures[m.Procedure]
	if proc == nil {
		return false
	}
	if cp := d.realm.clusterMeta(m.Procedure); cp != nil {
		proc = cp // cluster_meta.go: answers for every node
	}
	// The router's own procedures read their arguments: decode a payload
	// the transport kept raw.
	if err := spec.Materialize(m); err != nil {
		s.sendError(spec.TypeCall, m.Request, spec.ErrInvalidArgument, "cannot decode the arguments")
		return true
	}
	args, kwargs, err := proc(d.realm, s, m)
	if err != nil {
		s.sendError(spec.TypeCall, m.Request, err.uri, err.message)
		return true
	}
	s.send(&spec.Result{Request: m.Request, Details: spec.Dict{}, Arguments: args, ArgumentsKw: kwargs})
	return true
}

func argID(m *spec.Call, i int) (spec.ID, *metaError) {
	if i >= len(m.Arguments) {
		return 0, errMeta(spec.ErrInvalidArgument, "missing argument "+itoa(i+1))
	}
	id, ok := spec.AsID(m.Arguments[i])
	if !ok {
		return 0, errMeta(spec.ErrInvalidArgument, "argument "+itoa(i+1)+" is not an ID")
	}
	return id, nil
}

func argString(m *spec.Call, i int) (string, *metaError) {
	if i >= len(m.Arguments) {
		return "", errMeta(spec.ErrInvalidArgument, "missing argument "+itoa(i+1))
	}
	s, ok := m.Arguments[i].(string)
	if !ok {
		return "", errMeta(spec.ErrInvalidArgument, "argument "+itoa(i+1)+" is not a string")
	}
	return s, nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// --- sessions ---

// sessionsWhere returns the realm's sessions that pass keep, sorted by ID so
// answers are deterministic. Sessions the router is already saying GOODBYE
// to are gone as far as the meta API is concerned.
func (realm *Realm) sessionsWhere(keep func(*session) bool) []*session {
	realm.mu.RLock()
	out := make([]*session, 0, len(realm.sessions))
	for _, s := range realm.sessions {
		if !s.closing.Load() && keep(s) {
			out = append(out, s)
		}
	}
	realm.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// roleFilter reads the optional filter_authroles argument.
func roleFilter(m *spec.Call) (func(*session) bool, *metaError) {
	if len(m.Arguments) == 0 || m.Arguments[0] == nil {
		return func(*session) bool { return true }, nil
	}
	l, ok := m.Arguments[0].([]any)
	if !ok {
		return nil, errMeta(spec.ErrInvalidArgument, "filter_authroles must be a list of strings")
	}
	roles := make([]string, 0, len(l))
	for _, v := range l {
		if s, ok := v.(string); ok {
			roles = append(roles, s)
		}
	}
	return func(s *session) bool { return containsString(roles, s.AuthRole) }, nil
}

// remoteRoleFilter is roleFilter for the sessions of other cluster nodes,
// known by their details.
func remoteRoleFilter(m *spec.Call) func(authrole string) bool {
	if len(m.Arguments) == 0 || m.Arguments[0] == nil {
		return func(string) bool { return true }
	}
	l, _ := m.Arguments[0].([]any)
	return func(role string) bool {
		for _, v := range l {
			if v == role {
				return true
			}
		}
		return false
	}
}

func metaSessionCount(realm *Realm, _ *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	keep, err := roleFilter(m)
	if err != nil {
		return nil, nil, err
	}
	n := len(realm.sessionsWhere(keep))
	if realm.cluster != nil {
		n += len(realm.remoteSessionsWhere(remoteRoleFilter(m)))
	}
	return spec.List{int64(n)}, nil, nil
}

func metaSessionList(realm *Realm, _ *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	keep, err := roleFilter(m)
	if err != nil {
		return nil, nil, err
	}
	ids := spec.List{}
	for _, s := range realm.sessionsWhere(keep) {
		ids = append(ids, int64(s.id))
	}
	if realm.cluster != nil {
		for _, d := range realm.remoteSessionsWhere(remoteRoleFilter(m)) {
			ids = append(ids, d["session"])
		}
		sort.Slice(ids, func(i, j int) bool { a, _ := spec.AsID(ids[i]); b, _ := spec.AsID(ids[j]); return a < b })
	}
	return spec.List{ids}, nil, nil
}

func (realm *Realm) session(id spec.ID) *session {
	realm.mu.RLock()
	defer realm.mu.RUnlock()
	return realm.sessions[id]
}

func metaSessionGet(realm *Realm, _ *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	id, err := argID(m, 0)
	if err != nil {
		return nil, nil, err
	}
	s := realm.session(id)
	if s == nil || s.closing.Load() {
		for _, d := range realm.remoteSessionsWhere(func(string) bool { return true }) {
			if rid, _ := spec.AsID(d["session"]); rid == id {
				return spec.List{d}, nil, nil
			}
		}
		return nil, nil, errMeta(spec.ErrNoSuchSession, "no session "+idString(id))
	}
	return spec.List{s.details()}, nil, nil
}

// killOptions reads the reason and message keyword arguments of the kill
// procedures.
func killOptions(m *spec.Call) (spec.URI, string, *metaError) {
	reason := spec.CloseKilled
	if r, ok := m.ArgumentsKw["reason"].(string); ok {
		if !spec.ValidURI(spec.URI(r), spec.Loose, spec.MatchExact) {
			return "", "", errMeta(spec.ErrInvalidURI, "invalid reason URI "+r)
		}
		reason = spec.URI(r)
	}
	message, _ := m.ArgumentsKw["message"].(string)
	return reason, message, nil
}

func metaSessionKill(realm *Realm, caller *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	id, err := argID(m, 0)
	if err != nil {
		return nil, nil, err
	}
	reason, message, err := killOptions(m)
	if err != nil {
		return nil, nil, err
	}
	s := realm.session(id)
	if s == nil || s == caller || s.closing.Load() {
		return nil, nil, errMeta(spec.ErrNoSuchSession, "no session "+idString(id)+" to kill")
	}
	s.close(reason, message)
	return nil, nil, nil
}

func killWhere(realm *Realm, caller *session, m *spec.Call, keep func(*session) bool) ([]*session, *metaError) {
	reason, message, err := killOptions(m)
	if err != nil {
		return nil, err
	}
	victims := realm.sessionsWhere(func(s *session) bool { return s != caller && keep(s) })
	for _, s := range victims {
		s.close(reason, message)
	}
	return victims, nil
}

func metaKillByAuthID(realm *Realm, caller *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	authid, err := argString(m, 0)
	if err != nil {
		return nil, nil, err
	}
	victims, err := killWhere(realm, caller, m, func(s *session) bool { return s.AuthID == authid })
	if err != nil {
		return nil, nil, err
	}
	ids := spec.List{}
	for _, s := range victims {
		ids = append(ids, int64(s.id))
	}
	return spec.List{ids}, nil, nil
}

func metaKillByAuthRole(realm *Realm, caller *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	authrole, err := argString(m, 0)
	if err != nil {
		return nil, nil, err
	}
	victims, err := killWhere(realm, caller, m, func(s *session) bool { return s.AuthRole == authrole })
	if err != nil {
		return nil, nil, err
	}
	return spec.List{int64(len(victims))}, nil, nil
}

func metaKillAll(realm *Realm, caller *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	victims, err := killWhere(realm, caller, m, func(*session) bool { return true })
	if err != nil {
		return nil, nil, err
	}
	return spec.List{int64(len(victims))}, nil, nil
}

// --- testaments ---

// testament is a publication the router makes on a session's behalf when
// the session goes away.
type testament struct {
	topic   spec.URI
	args    spec.List
	kwargs  spec.Dict
	options spec.Dict
}

func testamentScope(m *spec.Call) (string, *metaError) {
	scope := "destroyed"
	if v, ok := m.ArgumentsKw["scope"]; ok {
		s, _ := v.(string)
		if s != "destroyed" && s != "detached" {
			return "", errMeta(spec.ErrInvalidArgument, "scope must be destroyed or detached")
		}
		scope = s
	}
	return scope, nil
}

func metaAddTestament(realm *Realm, caller *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	topic, err := argString(m, 0)
	if err != nil {
		return nil, nil, err
	}
	if !spec.ValidURI(spec.URI(topic), realm.router.rule, spec.MatchExact) || spec.IsReservedURI(spec.URI(topic)) {
		return nil, nil, errMeta(spec.ErrInvalidURI, "invalid testament topic "+topic)
	}
	t := testament{topic: spec.URI(topic)}
	if len(m.Arguments) > 1 {
		t.args, _ = m.Arguments[1].([]any)
	}
	if len(m.Arguments) > 2 {
		t.kwargs, _ = m.Arguments[2].(map[string]any)
	}
	t.options, _ = m.ArgumentsKw["publish_options"].(map[string]any)
	scope, err := testamentScope(m)
	if err != nil {
		return nil, nil, err
	}
	caller.mu.Lock()
	if caller.testaments == nil {
		caller.testaments = make(map[string][]testament)
	}
	caller.testaments[scope] = append(caller.testaments[scope], t)
	caller.mu.Unlock()
	return nil, nil, nil
}

func metaFlushTestaments(_ *Realm, caller *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	scope, err := testamentScope(m)
	if err != nil {
		return nil, nil, err
	}
	caller.mu.Lock()
	delete(caller.testaments, scope)
	caller.mu.Unlock()
	return nil, nil, nil
}

// publishTestaments publishes a leaving session's testaments in the order
// they were added: detached ones first, then destroyed ones.
func (realm *Realm) publishTestaments(s *session) {
	s.mu.Lock()
	all := append(append([]testament(nil), s.testaments["detached"]...), s.testaments["destroyed"]...)
	s.testaments = nil
	s.mu.Unlock()
	for _, t := range all {
		options := t.options
		if options == nil {
			options = spec.Dict{}
		}
		realm.broker.publishFrom(nil, &spec.Publish{Options: options, Topic: t.topic, Arguments: t.args, ArgumentsKw: t.kwargs}, false)
	}
}

// --- registrations ---

func patternLists[V any](x *uriIndex[V], id func(V) spec.ID) spec.Dict {
	lists := map[string]spec.List{spec.MatchExact: {}, spec.MatchPrefix: {}, spec.MatchWildcard: {}}
	x.each(func(match string, _ spec.URI, v V) {
		lists[match] = append(lists[match], int64(id(v)))
	})
	d := spec.Dict{}
	for k, l := range lists {
		sort.Slice(l, func(i, j int) bool { return l[i].(int64) < l[j].(int64) })
		d[k] = l
	}
	return d
}

func lookupMatch(m *spec.Call) string {
	if len(m.Arguments) > 1 {
		if opts, ok := m.Arguments[1].(map[string]any); ok {
			if s, ok := opts["match"].(string); ok {
				return s
			}
		}
	}
	return spec.MatchExact
}

func regDetails(reg *registration) spec.Dict {
	return spec.Dict{
		"id":      int64(reg.id),
		"created": reg.created.UTC().Format(time.RFC3339Nano),
		"uri":     string(reg.procedure),
		"match":   reg.match,
		"invoke":  reg.invoke,
	}
}

func metaRegistrationList(realm *Realm, _ *session, _ *spec.Call) (spec.List, spec.Dict, *metaError) {
	d := realm.dealer
	d.mu.RLock()
	defer d.mu.RUnlock()
	return spec.List{patternLists(d.index, func(r *registration) spec.ID { return r.id })}, nil, nil
}

func metaRegistrationLookup(realm *Realm, _ *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	uri, err := argString(m, 0)
	if err != nil {
		return nil, nil, err
	}
	d := realm.dealer
	d.mu.RLock()
	defer d.mu.RUnlock()
	if reg, ok := d.index.get(lookupMatch(m), spec.URI(uri)); ok {
		return spec.List{int64(reg.id)}, nil, nil
	}
	return spec.List{nil}, nil, nil
}

func metaRegistrationMatch(realm *Realm, _ *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	uri, err := argString(m, 0)
	if err != nil {
		return nil, nil, err
	}
	d := realm.dealer
	d.mu.RLock()
	defer d.mu.RUnlock()
	if reg, ok := d.index.best(spec.URI(uri)); ok {
		return spec.List{int64(reg.id)}, nil, nil
	}
	return spec.List{nil}, nil, nil
}

func (d *dealer) registrationByID(m *spec.Call) (*registration, *metaError) {
	id, err := argID(m, 0)
	if err != nil {
		return nil, err
	}
	reg := d.byID[id]
	if reg == nil {
		return nil, errMeta(spec.ErrNoSuchRegistration, "no registration "+idString(id))
	}
	return reg, nil
}

func metaRegistrationGet(realm *Realm, _ *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	d := realm.dealer
	d.mu.RLock()
	defer d.mu.RUnlock()
	reg, err := d.registrationByID(m)
	if err != nil {
		return nil, nil, err
	}
	return spec.List{regDetails(reg)}, nil, nil
}

func metaRegistrationListCallees(realm *Realm, _ *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	d := realm.dealer
	d.mu.RLock()
	defer d.mu.RUnlock()
	reg, err := d.registrationByID(m)
	if err != nil {
		return nil, nil, err
	}
	ids := spec.List{}
	for _, s := range reg.callees {
		ids = append(ids, int64(s.id))
	}
	return spec.List{ids}, nil, nil
}

func metaRegistrationCountCallees(realm *Realm, _ *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	d := realm.dealer
	d.mu.RLock()
	defer d.mu.RUnlock()
	reg, err := d.registrationByID(m)
	if err != nil {
		return nil, nil, err
	}
	return spec.List{int64(len(reg.callees))}, nil, nil
}

// --- subscriptions ---

func subDetails(sub *subscription) spec.Dict {
	return spec.Dict{
		"id":      int64(sub.id),
		"created": sub.created.UTC().Format(time.RFC3339Nano),
		"uri":     string(sub.topic),
		"match":   sub.match,
	}
}

func metaSubscriptionList(realm *Realm, _ *session, _ *spec.Call) (spec.List, spec.Dict, *metaError) {
	b := realm.broker
	b.mu.RLock()
	defer b.mu.RUnlock()
	return spec.List{patternLists(b.index, func(s *subscription) spec.ID { return s.id })}, nil, nil
}

func metaSubscriptionLookup(realm *Realm, _ *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	uri, err := argString(m, 0)
	if err != nil {
		return nil, nil, err
	}
	b := realm.broker
	b.mu.RLock()
	defer b.mu.RUnlock()
	if sub, ok := b.index.get(lookupMatch(m), spec.URI(uri)); ok {
		return spec.List{int64(sub.id)}, nil, nil
	}
	return spec.List{nil}, nil, nil
}

func metaSubscriptionMatch(realm *Realm, _ *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	uri, err := argString(m, 0)
	if err != nil {
		return nil, nil, err
	}
	b := realm.broker
	b.mu.RLock()
	defer b.mu.RUnlock()
	ids := spec.List{}
	b.index.matchAll(spec.URI(uri), func(sub *subscription) { ids = append(ids, int64(sub.id)) })
	if len(ids) == 0 {
		return spec.List{nil}, nil, nil
	}
	return spec.List{ids}, nil, nil
}

func (b *broker) subscriptionByID(m *spec.Call) (*subscription, *metaError) {
	id, err := argID(m, 0)
	if err != nil {
		return nil, err
	}
	sub := b.byID[id]
	if sub == nil {
		return nil, errMeta(spec.ErrNoSuchSubscription, "no subscription "+idString(id))
	}
	return sub, nil
}

func metaSubscriptionGet(realm *Realm, _ *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	b := realm.broker
	b.mu.RLock()
	defer b.mu.RUnlock()
	sub, err := b.subscriptionByID(m)
	if err != nil {
		return nil, nil, err
	}
	return spec.List{subDetails(sub)}, nil, nil
}

func metaSubscriptionListSubscribers(realm *Realm, _ *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	b := realm.broker
	b.mu.RLock()
	defer b.mu.RUnlock()
	sub, err := b.subscriptionByID(m)
	if err != nil {
		return nil, nil, err
	}
	ids := spec.List{}
	for _, s := range sub.subscribers {
		ids = append(ids, int64(s.id))
	}
	return spec.List{ids}, nil, nil
}

func metaSubscriptionCountSubscribers(realm *Realm, _ *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	b := realm.broker
	b.mu.RLock()
	defer b.mu.RUnlock()
	sub, err := b.subscriptionByID(m)
	if err != nil {
		return nil, nil, err
	}
	return spec.List{int64(len(sub.subscribers))}, nil, nil
}

// --- revocation (Crossbar's remove_callee / remove_subscriber) ---

// revocation is one of the two revocation meta procedures:
// wamp.registration.remove_callee(registration, callee; kw reason) and
// wamp.subscription.remove_subscriber(subscription, subscriber; kw reason).
// The session loses the registration or subscription and, if it announced
// the revocation feature, is told with UNREGISTERED [67, 0, Details] or
// UNSUBSCRIBED [35, 0, Details].
type revocation struct {
	kind    string // "registration" or "subscription": also the Details key
	noSuch  spec.URI
	feature featureSet
	// remove detaches session sid from entry id; exists reports whether
	// the entry exists, s is the detached session (nil if not attached).
	remove func(realm *Realm, id, sid spec.ID) (exists bool, s *session, meta []metaEvent)
	notice func(details spec.Dict) spec.Message
}

func (rv revocation) call(realm *Realm, _ *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	id, err := argID(m, 0)
	if err != nil {
		return nil, nil, err
	}
	sid, err := argID(m, 1)
	if err != nil {
		return nil, nil, err
	}
	exists, s, meta := rv.remove(realm, id, sid)
	if !exists {
		return nil, nil, rv.noEntry(id)
	}
	if s == nil {
		return nil, nil, rv.notHeld(id, sid)
	}
	if s.features.has(rv.feature) {
		details := spec.Dict{rv.kind: int64(id)}
		if r, ok := m.ArgumentsKw["reason"].(string); ok && r != "" {
			details["reason"] = r
		}
		s.send(rv.notice(details))
	}
	realm.emit(meta)
	return nil, nil, nil
}

// noEntry is the error for a registration or subscription no node has.
func (rv revocation) noEntry(id spec.ID) *metaError {
	return errMeta(rv.noSuch, "no "+rv.kind+" "+idString(id))
}

// notHeld is the error for a session that does not hold the registration
// or subscription.
func (rv revocation) notHeld(id, sid spec.ID) *metaError {
	return errMeta(spec.ErrNoSuchSession, "session "+idString(sid)+" does not hold "+rv.kind+" "+idString(id))
}

var (
	removeCallee = revocation{
		kind: "registration", noSuch: spec.ErrNoSuchRegistration, feature: calleeRevocation,
		remove: func(realm *Realm, id, sid spec.ID) (bool, *session, []metaEvent) {
			d := realm.dealer
			d.mu.Lock()
			defer d.mu.Unlock()
			reg := d.byID[id]
			if reg == nil {
				return false, nil, nil
			}
			for _, s := range reg.callees {
				if s.id == sid {
					return true, s, d.detach(s, reg, nil)
				}
			}
			return true, nil, nil
		},
		notice: func(details spec.Dict) spec.Message { return &spec.Unregistered{Details: details} },
	}
	removeSubscriber = revocation{
		kind: "subscription", noSuch: spec.ErrNoSuchSubscription, feature: subscriberRevocation,
		remove: func(realm *Realm, id, sid spec.ID) (bool, *session, []metaEvent) {
			b := realm.broker
			b.mu.Lock()
			defer b.mu.Unlock()
			sub := b.byID[id]
			if sub == nil {
				return false, nil, nil
			}
			for _, s := range sub.subscribers {
				if s.id == sid {
					return true, s, b.detach(s, sub, nil)
				}
			}
			return true, nil, nil
		},
		notice: func(details spec.Dict) spec.Message { return &spec.Unsubscribed{Details: details} },
	}
)
