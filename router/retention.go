package router

import (
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// Event retention and event history: the broker's memory of publications.

// HistoryConfig turns on event history for a topic (or topic pattern): the
// broker keeps the last Limit events published to it, for
// wamp.subscription.get_events.
type HistoryConfig struct {
	Topic spec.URI
	Match string // exact (default), prefix or wildcard
	Limit int    // events kept (0 → 100)
}

// ErrHistoryUnavailable answers get_events for a subscription whose topic
// has no history configured (Crossbar's URI).
const ErrHistoryUnavailable spec.URI = "wamp.error.history_unavailable"

// historyLog is a bounded ring of past publications.
type historyLog struct {
	mu     sync.Mutex
	limit  int
	events []*publication // oldest first, at most limit
	// ids holds the publications in events: in a cluster one can arrive
	// both live and in another node's history (AddKept).
	ids map[spec.ID]struct{}
}

func (h *historyLog) add(p *publication) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.ids[p.id]; dup {
		return
	}
	if h.ids == nil {
		h.ids = make(map[spec.ID]struct{}, h.limit)
	}
	h.ids[p.id] = struct{}{}
	if len(h.events) >= h.limit {
		delete(h.ids, h.events[0].id)
		copy(h.events, h.events[1:])
		h.events[len(h.events)-1] = p
		return
	}
	h.events = append(h.events, p)
}

func (h *historyLog) snapshot() []*publication {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*publication(nil), h.events...)
}

// stored returns a copy of p that no longer references its publisher,
// with a raw payload's values decoded already (get_events reads them, and
// the copy is shared by every reader from now on), or nil when the payload
// cannot be decoded.
func (p *publication) stored() *publication {
	if p.payload() != nil {
		return nil
	}
	c := *p
	c.pub = nil
	c.when = time.Now()
	return &c
}

// keep retains p (PUBLISH.Options.retain) and records it in every history
// log whose topic matches. Publications aimed at particular sessions
// (exclude / eligible session lists) are not kept in history: those
// sessions will be gone when somebody reads it.
func (b *broker) keep(p *publication, retain bool) {
	if retain {
		c := p.stored()
		if c == nil {
			return
		}
		c.retained = true
		b.retMu.Lock()
		b.retained[p.topic] = c
		b.retMu.Unlock()
	}
	if b.history.Len() == 0 || p.filter.hasSessionLists() {
		return
	}
	var c *publication
	b.history.matchAll(p.topic, func(h *historyLog) {
		if c == nil {
			c = p.stored()
		}
		if c != nil {
			h.add(c)
		}
	})
}

// sendRetained sends the retained events matching sub that s is eligible
// for, marked Details.retained. Called with b.mu held, right after
// SUBSCRIBED, so they precede any live event.
func (b *broker) sendRetained(s *session, sub *subscription) {
	b.retMu.Lock()
	var matches []*publication
	if sub.match == spec.MatchExact {
		if p := b.retained[sub.topic]; p != nil {
			matches = append(matches, p)
		}
	} else {
		for topic, p := range b.retained {
			if uriMatches(sub.match, sub.topic, topic) {
				matches = append(matches, p)
			}
		}
	}
	b.retMu.Unlock()
	for _, p := range matches {
		if p.filter.allows(s) {
			var frames frameCache
			b.sendEvent(s, p, sub, &frames)
		}
	}
}

// uriMatches applies a match policy to one URI: for the rare paths (retained
// events on subscribe) where building an index is not worth it.
func uriMatches(match string, pattern, uri spec.URI) bool {
	switch match {
	case spec.MatchPrefix:
		return strings.HasPrefix(string(uri), string(pattern))
	case spec.MatchWildcard:
		pc := strings.Split(string(pattern), ".")
		uc := strings.Split(string(uri), ".")
		if len(pc) != len(uc) {
			return false
		}
		for i := range pc {
			if pc[i] != "" && pc[i] != uc[i] {
				return false
			}
		}
		return true
	}
	return pattern == uri
}

func (f *deliveryFilter) hasSessionLists() bool {
	return len(f.exclude) > 0 || f.hasEligible
}

// metaGetEvents implements wamp.subscription.get_events(subscription, kw
// limit, reverse, after_time, before_time, from_time, until_time): the
// history of the subscription's topic, oldest first unless reverse, with
// only the events the caller would have been eligible for.
func metaGetEvents(realm *Realm, caller *session, m *spec.Call) (spec.List, spec.Dict, *metaError) {
	b := realm.broker
	b.mu.RLock()
	sub, err := b.subscriptionByID(m)
	b.mu.RUnlock()
	if err != nil {
		return nil, nil, err
	}
	h, ok := b.history.get(sub.match, sub.topic)
	if !ok {
		return nil, nil, errMeta(ErrHistoryUnavailable, "no event history is kept for "+string(sub.topic))
	}
	kw := m.ArgumentsKw
	limit, hasLimit := optInt(kw, "limit")
	reverse := optBool(kw, "reverse", false)
	var bounds [4]time.Time
	for i, key := range [...]string{"after_time", "from_time", "before_time", "until_time"} {
		if v, ok := kw[key].(string); ok {
			t, perr := time.Parse(time.RFC3339Nano, v)
			if perr != nil {
				return nil, nil, errMeta(spec.ErrInvalidArgument, key+" is not an RFC 3339 time")
			}
			bounds[i] = t
		}
	}
	inRange := func(t time.Time) bool {
		return (bounds[0].IsZero() || t.After(bounds[0])) &&
			(bounds[1].IsZero() || !t.Before(bounds[1])) &&
			(bounds[2].IsZero() || t.Before(bounds[2])) &&
			(bounds[3].IsZero() || !t.After(bounds[3]))
	}
	events := h.snapshot()
	if reverse {
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i], events[j] = events[j], events[i]
		}
	}
	out := spec.List{}
	for _, p := range events {
		if hasLimit && int64(len(out)) >= limit {
			break
		}
		if !inRange(p.when) || !p.filter.allows(caller) {
			continue
		}
		ev, err := p.event(sub, "")
		if err != nil {
			continue
		}
		entry := spec.Dict{
			"timestamp":    p.when.UTC().Format(time.RFC3339Nano),
			"subscription": int64(sub.id),
			"publication":  int64(p.id),
			"topic":        string(p.topic),
			"details":      ev.Details,
			"args":         listOrEmpty(p.args),
			"kwargs":       dictOrEmpty(p.kwargs),
		}
		out = append(out, entry)
	}
	return spec.List{out}, nil, nil
}

func listOrEmpty(l spec.List) spec.List {
	if l == nil {
		return spec.List{}
	}
	return l
}

func dictOrEmpty(d spec.Dict) spec.Dict {
	if d == nil {
		return spec.Dict{}
	}
	return d
}
