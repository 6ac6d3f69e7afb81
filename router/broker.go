package router

import (
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/auth"
	"sync"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// broker routes PubSub within one realm.
type broker struct {
	realm *Realm

	mu    sync.RWMutex // guards the fields below; publishes only read
	index *uriIndex[*subscription]
	byID  map[spec.ID]*subscription

	retMu    sync.Mutex // guards retained
	retained map[spec.URI]*publication

	// history is fixed at creation: read without a lock.
	history *uriIndex[*historyLog]
}

// subscription is shared by every session subscribed to the same topic with
// the same match policy, so one event is encoded once for all of them.
type subscription struct {
	id          spec.ID
	topic       spec.URI
	match       string
	created     time.Time
	subscribers []*session // guarded by broker.mu
}

func newBroker(realm *Realm, history []HistoryConfig) *broker {
	b := &broker{
		realm:    realm,
		index:    newURIIndex[*subscription](),
		byID:     make(map[spec.ID]*subscription),
		retained: make(map[spec.URI]*publication),
		history:  newURIIndex[*historyLog](),
	}
	for _, h := range history {
		limit := h.Limit
		if limit <= 0 {
			limit = 100
		}
		match := h.Match
		if match == "" {
			match = spec.MatchExact
		}
		b.history.put(match, h.Topic, &historyLog{limit: limit})
	}
	return b
}

func (b *broker) subscribe(s *session, m *spec.Subscribe) {
	match := optString(m.Options, spec.OptMatch, spec.MatchExact)
	if !spec.ValidURI(m.Topic, b.realm.router.rule, match) {
		s.sendError(spec.TypeSubscribe, m.Request, spec.ErrInvalidURI, "invalid topic URI "+string(m.Topic)+" for match policy "+match)
		return
	}
	if _, ok := s.authorize(auth.ActionSubscribe, m.Topic, spec.TypeSubscribe, m.Request, true); !ok {
		return
	}
	// A cluster learns of the interest before SUBSCRIBED is sent; the count
	// is given back below when the session did not attach.
	link := b.realm.cluster
	attached := false
	if link != nil {
		link.AddInterest(match, m.Topic)
		defer func() {
			if !attached {
				link.RemoveInterest(match, m.Topic)
			}
		}()
	}
	var meta []metaEvent
	b.mu.Lock()
	sub, ok := b.index.get(match, m.Topic)
	// Subscribing again to a topic the session holds is not a new
	// subscription: the limit does not apply to it.
	held := ok && s.subscriptions[sub.id] != nil
	if !held && len(s.subscriptions) >= b.realm.router.opts.MaxSubscriptionsPerSession {
		b.mu.Unlock()
		s.sendError(spec.TypeSubscribe, m.Request, ErrLimitExceeded, "at most "+itoa(b.realm.router.opts.MaxSubscriptionsPerSession)+" subscriptions per session")
		return
	}
	if !ok {
		sub = &subscription{id: b.subscriptionID(match, m.Topic), topic: m.Topic, match: match, created: time.Now()}
		b.index.put(match, m.Topic, sub)
		b.byID[sub.id] = sub
		if b.saysCreated(sub) {
			meta = append(meta, metaEvent{"wamp.subscription.on_create", spec.List{int64(s.id), subDetails(sub)}})
		}
	}
	if _, already := s.subscriptions[sub.id]; !already {
		if s.subscriptions == nil {
			s.subscriptions = make(map[spec.ID]*subscription)
		}
		s.subscriptions[sub.id] = sub
		sub.subscribers = append(sub.subscribers, s)
		attached = true
		meta = append(meta, metaEvent{"wamp.subscription.on_subscribe", spec.List{int64(s.id), int64(sub.id)}})
	}
	// Sent under the lock so SUBSCRIBED is queued before any EVENT a
	// concurrent publish routes to this subscription, retained ones first.
	s.send(&spec.Subscribed{Request: m.Request, Subscription: sub.id})
	if optBool(m.Options, "get_retained", false) {
		b.sendRetained(s, sub)
	}
	b.mu.Unlock()
	b.realm.emit(meta)
}

// newID picks an unused random subscription ID. Random IDs stay unique if
// several nodes ever serve one realm. Called with b.mu held.
func (b *broker) newID() spec.ID {
	for {
		id := spec.GlobalID()
		if b.byID[id] == nil {
			return id
		}
	}
}

func (b *broker) unsubscribe(s *session, m *spec.Unsubscribe) {
	var meta []metaEvent
	b.mu.Lock()
	sub, ok := s.subscriptions[m.Subscription]
	if ok {
		meta = b.detach(s, sub, meta)
	}
	b.mu.Unlock()
	if !ok {
		s.sendError(spec.TypeUnsubscribe, m.Request, spec.ErrNoSuchSubscription, "no subscription "+idString(m.Subscription)+" for this session")
		return
	}
	s.send(&spec.Unsubscribed{Request: m.Request})
	b.realm.emit(meta)
}

// detach removes s from sub and deletes sub when it has no subscribers,
// appending the meta events that follow to meta. Called with b.mu held.
func (b *broker) detach(s *session, sub *subscription, meta []metaEvent) []metaEvent {
	delete(s.subscriptions, sub.id)
	subs := sub.subscribers
	for i, x := range subs {
		if x == s {
			subs[i] = subs[len(subs)-1]
			subs[len(subs)-1] = nil
			sub.subscribers = subs[:len(subs)-1]
			break
		}
	}
	last := len(sub.subscribers) == 0
	sayDeleted := last && b.saysDeleted(s, sub) // before RemoveInterest announces it
	if link := b.realm.cluster; link != nil {
		link.RemoveInterest(sub.match, sub.topic)
	}
	meta = append(meta, metaEvent{"wamp.subscription.on_unsubscribe", spec.List{int64(s.id), int64(sub.id)}})
	if last {
		b.index.remove(sub.match, sub.topic)
		delete(b.byID, sub.id)
		if sayDeleted {
			meta = append(meta, metaEvent{"wamp.subscription.on_delete", spec.List{int64(s.id), int64(sub.id)}})
		}
	}
	return meta
}

// removeSession drops all of s's subscriptions and returns the meta events
// to publish.
func (b *broker) removeSession(s *session) []metaEvent {
	var meta []metaEvent
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, sub := range s.subscriptions {
		meta = b.detach(s, sub, meta)
	}
	return meta
}

// publication is a PUBLISH after its options have been read once. A
// retained or historic publication is a copy that outlives its publisher,
// so it holds the publisher's identity, not the session.
type publication struct {
	pub    *session // nil for the router's own and for stored copies
	id     spec.ID
	topic  spec.URI
	args   spec.List
	kwargs spec.Dict
	// raw, when set, is the payload as the publisher (or, for a publication
	// from another node, its publisher) encoded it; args and kwargs then
	// hold its values only once decoded is set (see payload).
	raw       spec.Raw
	decoded   bool
	options   spec.Dict
	excludeMe bool
	disclose  bool
	publisher struct {
		id               spec.ID
		authID, authRole string
	}
	filter   deliveryFilter
	retained bool
	when     time.Time
}

func (b *broker) publish(s *session, m *spec.Publish) bool {
	ack := optBool(m.Options, spec.OptAcknowledge, false)
	if hasPassthru(m.Options) && !s.features.has(publisherPassthru) {
		s.violation("ppt_* options without announcing payload_passthru_mode")
		return false
	}
	if !spec.ValidURI(m.Topic, b.realm.router.rule, spec.MatchExact) {
		if ack {
			s.sendError(spec.TypePublish, m.Request, spec.ErrInvalidURI, "invalid topic URI "+string(m.Topic))
		}
		return true
	}
	if spec.IsReservedURI(m.Topic) {
		if ack {
			s.sendError(spec.TypePublish, m.Request, spec.ErrNotAuthorized, "topics under wamp. are reserved for the router")
		}
		return true
	}
	decision, ok := s.authorize(auth.ActionPublish, m.Topic, spec.TypePublish, m.Request, ack)
	if !ok {
		return true
	}
	link := b.realm.cluster
	if ack && link != nil {
		// Acknowledge only what the cluster can be handed.
		if err := link.Err(); err != nil {
			s.sendError(spec.TypePublish, m.Request, ErrClusterUnreachable, err.Error())
			return true
		}
	}
	id := b.publishFrom(s, m, decision.Disclose)
	if ack {
		if link != nil {
			if err := link.Flush(); err != nil {
				s.sendError(spec.TypePublish, m.Request, ErrClusterUnreachable, err.Error())
				return true
			}
		}
		s.send(&spec.Published{Request: m.Request, Publication: id})
	}
	return true
}

// publishFrom routes a publication to every matching subscription, keeps
// it for retention and history where asked, and returns its ID. pub is nil
// for the router's own publications (meta events, testaments). This is the
// one place the cluster layer extends with remote delivery.
// disclose forces publisher identification, as the role's configuration
// may (autobahn never sends disclose_me).
func (b *broker) publishFrom(pub *session, m *spec.Publish, disclose bool) spec.ID {
	p := &publication{
		pub:       pub,
		id:        spec.GlobalID(),
		topic:     m.Topic,
		args:      m.Arguments,
		kwargs:    m.ArgumentsKw,
		raw:       m.Raw,
		options:   m.Options,
		excludeMe: optBool(m.Options, spec.OptExcludeMe, true),
		disclose:  pub != nil && (disclose || optBool(m.Options, spec.OptDiscloseMe, false)),
		filter:    newDeliveryFilter(m.Options),
	}
	if p.disclose {
		p.publisher.id, p.publisher.authID, p.publisher.authRole = pub.id, pub.AuthID, pub.AuthRole
	}
	if pub != nil {
		// Kept before it is delivered: whoever sees the event live and then
		// subscribes with get_retained must find it.
		b.keep(p, optBool(m.Options, "retain", false))
	}
	b.mu.RLock()
	b.index.matchAll(m.Topic, func(sub *subscription) { b.deliver(p, sub) })
	b.mu.RUnlock()
	if link := b.realm.cluster; link != nil {
		b.publishRemote(link, p, pub)
	}
	return p.id
}

// hasSubscribers reports whether some subscription on this node matches
// topic.
func (b *broker) hasSubscribers(topic spec.URI) bool {
	found := false
	b.mu.RLock()
	b.index.matchAll(topic, func(*subscription) { found = true })
	b.mu.RUnlock()
	return found
}

// deliver queues the publication's EVENT to each eligible subscriber of sub,
// encoding it once per serializer. Called with b.mu read-locked; Send only
// appends to a queue, so no I/O happens under the lock.
func (b *broker) deliver(p *publication, sub *subscription) {
	var frames frameCache
	passthru := hasPassthru(p.options)
	for _, s := range sub.subscribers {
		if s == p.pub && p.excludeMe {
			continue
		}
		if !p.filter.allows(s) {
			continue
		}
		if passthru && !s.features.has(subscriberPassthru) {
			continue // it could not make sense of the payload
		}
		b.sendEvent(s, p, sub, &frames)
	}
}

func (b *broker) sendEvent(s *session, p *publication, sub *subscription, frames *frameCache) {
	frame, err := frames.get(s.ser, p, sub)
	if err != nil {
		if !frames.logged {
			frames.logged = true // once per fan-out, not per subscriber
			s.logger().Error("cannot encode event", "topic", p.topic, "error", err)
		}
		return
	}
	// sendFrame counts the EVENT: one atomic add per delivery, as before.
	switch err := s.sendFrame(spec.TypeEvent, frame); {
	case errors.Is(err, transport.ErrFrameTooLarge):
		s.logger().Warn("event dropped: larger than the subscriber accepts", "topic", p.topic, "bytes", len(frame))
	}
}

// event returns p's EVENT for sub, to be encoded in format. A raw payload
// goes as it is to an encoder of its own format, which splices it; any
// other format gets the values, decoded once per publication.
func (p *publication) event(sub *subscription, format string) (*spec.Event, error) {
	var details spec.Dict
	if sub.match != spec.MatchExact {
		details = setDetail(details, "topic", string(p.topic))
	}
	if p.disclose {
		details = setDetail(details, "publisher", int64(p.publisher.id))
		details["publisher_authid"] = p.publisher.authID
		details["publisher_authrole"] = p.publisher.authRole
	}
	if p.retained {
		details = setDetail(details, "retained", true)
	}
	details = copyPassthru(details, p.options)
	ev := &spec.Event{Subscription: sub.id, Publication: p.id, Details: details}
	if p.raw.N > 0 && p.raw.Format == format {
		ev.Raw = p.raw
		return ev, nil
	}
	if err := p.payload(); err != nil {
		return nil, err
	}
	ev.Arguments, ev.ArgumentsKw = p.args, p.kwargs
	return ev, nil
}

// payload decodes a raw payload into p.args and p.kwargs, once. Only the
// goroutine delivering p calls it; a stored copy is decoded before it is
// shared (see stored).
func (p *publication) payload() error {
	if p.raw.N == 0 || p.decoded {
		return nil
	}
	args, kwargs, err := spec.Payload(nil, nil, p.raw)
	if err != nil {
		return fmt.Errorf("router: publication %d: cannot decode its %s payload: %w", p.id, p.raw.Format, err)
	}
	p.args, p.kwargs, p.decoded = args, kwargs, true
	return nil
}

// frameCache holds one encoded frame per serializer for a fan-out. There
// are at most three serializers, so a tiny array beats a map.
type frameCache struct {
	n      int
	sers   [4]serializer.Serializer
	frames [4][]byte
	errs   [4]error
	// logged: an encode error of this fan-out was logged.
	logged bool
}

// get returns p's EVENT for sub encoded by ser, encoding it on first use.
// The cached path allocates nothing.
func (c *frameCache) get(ser serializer.Serializer, p *publication, sub *subscription) ([]byte, error) {
	for i := 0; i < c.n; i++ {
		if c.sers[i] == ser {
			return c.frames[i], c.errs[i]
		}
	}
	ev, err := p.event(sub, ser.Name())
	var frame []byte
	if err == nil {
		frame, err = ser.Encode(nil, ev)
	}
	if c.n < len(c.sers) {
		c.sers[c.n], c.frames[c.n], c.errs[c.n] = ser, frame, err
		c.n++
	}
	return frame, err
}

// deliveryFilter is the subscriber black- and whitelisting of a PUBLISH:
// a subscriber receives the event only if every present condition holds.
type deliveryFilter struct {
	exclude, eligible                 []spec.ID
	excludeAuthID, eligibleAuthID     []string
	excludeAuthRole, eligibleAuthRole []string
	hasEligible, hasEligibleAuthID    bool
	hasEligibleAuthRole               bool
	any                               bool
}

func newDeliveryFilter(opts spec.Dict) deliveryFilter {
	var f deliveryFilter
	if len(opts) == 0 {
		return f
	}
	f.exclude, _ = optIDs(opts, "exclude")
	f.eligible, f.hasEligible = optIDs(opts, "eligible")
	f.excludeAuthID, _ = optStrings(opts, "exclude_authid")
	f.eligibleAuthID, f.hasEligibleAuthID = optStrings(opts, "eligible_authid")
	f.excludeAuthRole, _ = optStrings(opts, "exclude_authrole")
	f.eligibleAuthRole, f.hasEligibleAuthRole = optStrings(opts, "eligible_authrole")
	f.any = len(f.exclude) > 0 || len(f.excludeAuthID) > 0 || len(f.excludeAuthRole) > 0 ||
		f.hasEligible || f.hasEligibleAuthID || f.hasEligibleAuthRole
	return f
}

func (f *deliveryFilter) allows(s *session) bool {
	if !f.any {
		return true
	}
	if containsID(f.exclude, s.id) || containsString(f.excludeAuthID, s.AuthID) || containsString(f.excludeAuthRole, s.AuthRole) {
		return false
	}
	if f.hasEligible && !containsID(f.eligible, s.id) {
		return false
	}
	if f.hasEligibleAuthID && !containsString(f.eligibleAuthID, s.AuthID) {
		return false
	}
	if f.hasEligibleAuthRole && !containsString(f.eligibleAuthRole, s.AuthRole) {
		return false
	}
	return true
}
