package router

import (
	"sort"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// A broker's memory across nodes. Every node keeps the retained events and
// the event history of the whole cluster, because retained and historic
// publications are handed to every node (publishRemote's broadcast). A node
// that joins later has missed them: it asks the nodes it finds for what
// they keep (KeptEvents) and merges their answers into its own memory
// (AddKept), so that get_retained and wamp.subscription.get_events answer
// the same on every node.

// KeptEvent is a retained or historic publication, as one node hands it to
// another.
type KeptEvent struct {
	RemoteEvent
	// Retained: the topic's retained event on the sending node. History:
	// in at least one of its history logs.
	Retained, History bool
	// When the sending node stored it: the newer retained event of a topic
	// wins, and history logs are ordered by it.
	When time.Time
}

// KeptEvents returns the realm's retained events and event history, each
// publication once, oldest first.
func (realm *Realm) KeptEvents() []KeptEvent {
	b := realm.broker
	byID := map[spec.ID]*KeptEvent{}
	add := func(p *publication) *KeptEvent {
		if k := byID[p.id]; k != nil {
			return k
		}
		k := &KeptEvent{RemoteEvent: p.remote(), When: p.when}
		byID[p.id] = k
		return k
	}
	b.retMu.Lock()
	for _, p := range b.retained {
		add(p).Retained = true
	}
	b.retMu.Unlock()
	b.history.each(func(_ string, _ spec.URI, h *historyLog) {
		for _, p := range h.snapshot() {
			add(p).History = true
		}
	})
	out := make([]KeptEvent, 0, len(byID))
	for _, k := range byID {
		out = append(out, *k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].When.Before(out[j].When) })
	return out
}

// remote is a stored publication as it crosses to another node.
func (p *publication) remote() RemoteEvent {
	e := RemoteEvent{
		Publication: p.id,
		Topic:       p.topic,
		Options:     p.options,
		Disclose:    p.disclose,
		Publisher:   p.publisher.id,
	}
	if p.raw.N > 0 {
		e.Raw = p.raw
	} else {
		e.Arguments, e.ArgumentsKw = p.args, p.kwargs
	}
	if p.disclose {
		e.PublisherAuthID, e.PublisherAuthRole = p.publisher.authID, p.publisher.authRole
	}
	return e
}

// AddKept merges another node's retained events and event history into
// this node's: a retained event replaces this node's for its topic only if
// it is newer; a historic one joins every local history log its topic
// matches unless the log has it already, and each log keeps its newest
// Limit events in order. Events whose payload cannot be decoded are left
// out, as keep leaves them out.
func (realm *Realm) AddKept(events []KeptEvent) {
	b := realm.broker
	changed := map[*historyLog]bool{}
	for i := range events {
		k := &events[i]
		p := k.stored()
		if p == nil {
			continue
		}
		if k.Retained {
			r := *p
			r.retained = true
			b.retMu.Lock()
			if cur := b.retained[p.topic]; cur == nil || cur.when.Before(p.when) {
				b.retained[p.topic] = &r
			}
			b.retMu.Unlock()
		}
		if k.History && !p.filter.hasSessionLists() {
			b.history.matchAll(p.topic, func(h *historyLog) {
				if h.insert(p) {
					changed[h] = true
				}
			})
		}
	}
	for h := range changed {
		h.settle()
	}
}

// stored builds the publication a node keeps from k, or nil when its
// payload cannot be decoded.
func (k *KeptEvent) stored() *publication {
	p := &publication{
		id:        k.Publication,
		topic:     k.Topic,
		args:      k.Arguments,
		kwargs:    k.ArgumentsKw,
		raw:       k.Raw,
		options:   k.Options,
		excludeMe: true,
		disclose:  k.Disclose,
		filter:    newDeliveryFilter(k.Options),
		when:      k.When,
	}
	p.publisher.id = k.Publisher
	if p.disclose {
		p.publisher.authID, p.publisher.authRole = k.PublisherAuthID, k.PublisherAuthRole
	}
	if p.payload() != nil {
		return nil
	}
	return p
}

// insert adds p to the log unless it holds it already; settle restores the
// log's order and bound after inserts.
func (h *historyLog) insert(p *publication) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.ids[p.id]; dup {
		return false
	}
	if h.ids == nil {
		h.ids = make(map[spec.ID]struct{}, h.limit)
	}
	h.ids[p.id] = struct{}{}
	h.events = append(h.events, p)
	return true
}

func (h *historyLog) settle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	sort.SliceStable(h.events, func(i, j int) bool { return h.events[i].when.Before(h.events[j].when) })
	if n := len(h.events) - h.limit; n > 0 {
		for _, p := range h.events[:n] {
			delete(h.ids, p.id)
		}
		h.events = append(h.events[:0:0], h.events[n:]...)
	}
}
