package router

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// Counting on the message path is one atomic add per message, into an
// array indexed by the WAMP message code: no map, no lock, no allocation.
// Everything else an operator wants (sessions by transport, subscriptions,
// registrations) is read from the router's own state when it is asked for,
// through Snapshot, so that it costs nothing until someone scrapes it.

// maxTypeCode bounds the message codes counted per type (YIELD, 70, is the
// highest the spec defines).
const maxTypeCode = 128

// TypeCounters counts messages by WAMP message code; read them with ByType.
type TypeCounters [maxTypeCode]atomic.Uint64

func (tc *TypeCounters) add(t spec.MessageType) {
	tc[t&(maxTypeCode-1)].Add(1)
}

// ByType returns the non-zero counts by message type name (CALL, EVENT...).
func (tc *TypeCounters) ByType() map[string]uint64 {
	out := make(map[string]uint64)
	for code := range tc {
		if n := tc[code].Load(); n != 0 {
			out[spec.MessageType(code).String()] = n
		}
	}
	return out
}

func (tc *TypeCounters) total() uint64 {
	var n uint64
	for code := range tc {
		n += tc[code].Load()
	}
	return n
}

// MessagesIn returns the messages received from clients, all types.
func (st *Stats) MessagesIn() uint64 { return st.Received.total() }

// MessagesOut returns the messages queued to clients, all types.
func (st *Stats) MessagesOut() uint64 { return st.Sent.total() }

// EventsDelivered returns the EVENTs queued to subscribers.
func (st *Stats) EventsDelivered() uint64 { return st.Sent[spec.TypeEvent].Load() }

// maxErrorURIs bounds the distinct URIs counted by ErrorsSent: callees
// choose their error URIs freely, and a metric must not grow without bound.
// Past it, errors are counted under OtherErrorURI.
const maxErrorURIs = 256

// OtherErrorURI labels errors whose URI came after the first maxErrorURIs.
const OtherErrorURI = "other"

// errorCounts counts ERROR messages sent, by URI. Errors are rare next to
// the messages they answer, so a mutex is fine here.
type errorCounts struct {
	mu    sync.Mutex
	byURI map[spec.URI]uint64
}

func (ec *errorCounts) add(uri spec.URI) {
	ec.mu.Lock()
	if ec.byURI == nil {
		ec.byURI = make(map[spec.URI]uint64)
	}
	if _, ok := ec.byURI[uri]; !ok && len(ec.byURI) >= maxErrorURIs {
		uri = OtherErrorURI
	}
	ec.byURI[uri]++
	ec.mu.Unlock()
}

func (ec *errorCounts) snapshot() map[string]uint64 {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	out := make(map[string]uint64, len(ec.byURI))
	for uri, n := range ec.byURI {
		out[string(uri)] = n
	}
	return out
}

// ErrorsSent returns the ERROR messages sent to clients, by error URI.
func (st *Stats) ErrorsSent() map[string]uint64 { return st.errors.snapshot() }

// CallDurationBuckets are the upper bounds, in seconds, of the call
// duration histogram: from 100 µs (a local call on an idle router) to 10 s.
var CallDurationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// bucketNanos are CallDurationBuckets in nanoseconds, for the hot path.
var bucketNanos = func() []int64 {
	out := make([]int64, len(CallDurationBuckets))
	for i, b := range CallDurationBuckets {
		out[i] = int64(b * 1e9)
	}
	return out
}()

// durationHistogram is a lock-free histogram of call durations: one atomic
// add to a bucket and one to the sum per observation.
type durationHistogram struct {
	buckets [17]atomic.Uint64 // per bucket (not cumulative); the last is +Inf
	sumNs   atomic.Uint64
}

func (h *durationHistogram) observe(d time.Duration) {
	ns := int64(d)
	if ns < 0 {
		ns = 0
	}
	i := 0
	for i < len(bucketNanos) && ns > bucketNanos[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sumNs.Add(uint64(ns))
}

// HistogramSnapshot is a histogram read at one instant: Cumulative[i] counts
// the observations at or below CallDurationBuckets[i].
type HistogramSnapshot struct {
	Cumulative []uint64
	Count      uint64
	Sum        float64 // seconds
}

func (h *durationHistogram) snapshot() HistogramSnapshot {
	s := HistogramSnapshot{Cumulative: make([]uint64, len(bucketNanos))}
	var n uint64
	for i := range h.buckets {
		n += h.buckets[i].Load()
		if i < len(bucketNanos) {
			s.Cumulative[i] = n
		}
	}
	s.Count = n
	s.Sum = float64(h.sumNs.Load()) / 1e9
	return s
}

// realmStats are the per-realm counters.
type realmStats struct {
	inFlight atomic.Int64
	calls    durationHistogram

	mu     sync.Mutex // guards the maps below (handshakes only)
	opened map[string]uint64
	auth   map[AuthKey]uint64
}

// AuthKey labels an authentication outcome.
type AuthKey struct {
	Method  string // the method tried, or "none" when none was acceptable
	Outcome string // "success" or "failure"
}

// Authentication outcomes.
const (
	AuthSuccess = "success"
	AuthFailure = "failure"
)

func (rs *realmStats) countOpened(transport string) {
	rs.mu.Lock()
	if rs.opened == nil {
		rs.opened = make(map[string]uint64)
	}
	rs.opened[transport]++
	rs.mu.Unlock()
}

func (rs *realmStats) countAuth(method, outcome string) {
	if method == "" {
		method = "none"
	}
	rs.mu.Lock()
	if rs.auth == nil {
		rs.auth = make(map[AuthKey]uint64)
	}
	rs.auth[AuthKey{Method: method, Outcome: outcome}]++
	rs.mu.Unlock()
}

// SessionKey labels a group of sessions.
type SessionKey struct {
	Transport  string // websocket, rawsocket, pipe...
	Serializer string // json, msgpack, cbor
}

// RealmSnapshot is one realm's state and counters, read at one instant.
type RealmSnapshot struct {
	Name           spec.URI
	Sessions       map[SessionKey]int
	SessionsOpened map[string]uint64 // by transport
	Auth           map[AuthKey]uint64
	CallsInFlight  int64
	CallDuration   HistogramSnapshot
	Subscriptions  int
	Registrations  int
}

// Snapshot reads every realm's gauges and counters, sorted by realm name.
// It takes each realm's locks briefly, one at a time, and is meant for a
// metrics scrape, not for the message path.
func (r *Router) Snapshot() []RealmSnapshot {
	r.mu.Lock()
	realms := make([]*Realm, 0, len(r.realms))
	for _, realm := range r.realms {
		realms = append(realms, realm)
	}
	r.mu.Unlock()
	sort.Slice(realms, func(i, j int) bool { return realms[i].name < realms[j].name })
	out := make([]RealmSnapshot, len(realms))
	for i, realm := range realms {
		out[i] = realm.snapshot()
	}
	return out
}

func (realm *Realm) snapshot() RealmSnapshot {
	s := RealmSnapshot{Name: realm.name, Sessions: make(map[SessionKey]int)}
	realm.mu.RLock()
	for _, sess := range realm.sessions {
		if sess.trusted {
			continue
		}
		s.Sessions[SessionKey{Transport: sess.peer.Info().Transport, Serializer: sess.ser.Name()}]++
	}
	realm.mu.RUnlock()
	st := &realm.stats
	st.mu.Lock()
	s.SessionsOpened = make(map[string]uint64, len(st.opened))
	for k, v := range st.opened {
		s.SessionsOpened[k] = v
	}
	s.Auth = make(map[AuthKey]uint64, len(st.auth))
	for k, v := range st.auth {
		s.Auth[k] = v
	}
	st.mu.Unlock()
	s.CallsInFlight = st.inFlight.Load()
	s.CallDuration = st.calls.snapshot()
	realm.broker.mu.RLock()
	s.Subscriptions = len(realm.broker.byID)
	realm.broker.mu.RUnlock()
	realm.dealer.mu.RLock()
	s.Registrations = len(realm.dealer.byID)
	realm.dealer.mu.RUnlock()
	return s
}
