package bench

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// Fanout is the PubSub scenario: Publishers sessions publish to one topic
// that Subscribers sessions subscribe to. Every event carries its
// publisher's index, a sequence number, its send time and a payload; every
// subscriber checks each publisher's sequence, so a lost event is counted,
// not guessed.
//
// Publications are acknowledged (acknowledge: true) and paced end to end:
// a publisher has at most Window publications that some subscriber still
// waits for. Pacing by acknowledgements alone would measure how fast the
// router can queue, and then disconnect subscribers for falling behind a
// generator that shares their CPU; pacing by delivery measures the rate at
// which events actually reach every subscriber, which is the figure that
// matters, and keeps "no event lost to a subscriber that keeps up"
// meaningful.
type Fanout struct {
	Common
	Publishers  int // default 1
	Subscribers int // default 1000
	// Window is the number of publications per publisher not yet received
	// by every subscriber (default 16).
	Window  int
	Payload int // bytes per event (default 16)
	// Topic published to (default "bench.fanout").
	Topic string
	// Drain bounds the wait for the last events after publishing stops
	// (default 5s).
	Drain time.Duration
	// SubscriberURLs, if set, spread the subscribers over these routers
	// (round robin) while the publishers use the target's URL: the nodes of
	// a cluster.
	SubscriberURLs []string
}

// Name implements Scenario.
func (*Fanout) Name() string { return "fanout" }

func (o *Fanout) setDefaults() {
	o.Common.setDefaults(5_000, 10*time.Second)
	if o.Publishers <= 0 {
		o.Publishers = 1
	}
	if o.Subscribers <= 0 {
		o.Subscribers = 1000
	}
	if o.Window <= 0 {
		o.Window = 16
	}
	if o.Payload < 0 {
		o.Payload = 0
	}
	if o.Topic == "" {
		o.Topic = "bench.fanout"
	}
	if o.Drain <= 0 {
		o.Drain = 5 * time.Second
	}
}

// Run implements Scenario.
func (o *Fanout) Run(ctx context.Context, t Target) (*Result, error) {
	o.setDefaults()
	ep, d, err := o.prepare(ctx, t, transport.Options{})
	if err != nil {
		return nil, err
	}
	if err := raiseFileLimit(o.Subscribers + o.Publishers + 64); err != nil {
		return nil, err
	}
	res := newResult(o.Name(), t, ep, o.Serializer, "events", map[string]any{
		"publishers": o.Publishers, "subscribers": o.Subscribers, "window": o.Window,
		"payload": o.Payload, "count": o.Count, "duration_s": o.Duration.Seconds(),
	})
	r := &fanRun{
		ctx: ctx, window: o.Window, payload: payloadOf(o.Payload), topic: spec.URI(o.Topic),
		meter: o.Meter, label: t.Label + " fanout", count: o.Count, duration: o.Duration, drain: o.Drain,
	}
	defer r.close()
	subDialers := []*dialer{d}
	if len(o.SubscriberURLs) > 0 {
		subDialers = subDialers[:0]
		for _, u := range o.SubscriberURLs {
			_, sd, err := o.prepare(ctx, Target{URL: u}, transport.Options{})
			if err != nil {
				return nil, err
			}
			subDialers = append(subDialers, sd)
		}
		res.Params["subscriber_urls"] = strings.Join(o.SubscriberURLs, ",")
	}
	r.subDialers = subDialers
	if err := r.setup(ctx, d, o.Realm, o.Publishers, o.Subscribers, o.SetupTimeout); err != nil {
		return nil, err
	}
	m := startMeasure(t.pids(), true)
	r.run()
	r.finish(res, m)
	if ctxDone(ctx) {
		return res, ctx.Err()
	}
	return res, nil
}

// ackOptions asks for PUBLISHED.
var ackOptions = spec.Dict{spec.OptAcknowledge: true}

// stallTimeout is how long a publisher waits for a publication to reach
// every subscriber before it counts a stall and goes on: a lost event must
// not stop the run, it is counted by the subscribers.
const stallTimeout = time.Second

// fanPublisher is one publishing session: its sender goroutine publishes,
// its reader goroutine counts the acknowledgements.
type fanPublisher struct {
	idx int
	s   *session
	// slots[n % window] counts the subscribers that received publication
	// n; the sender waits for it to reach the live subscriber count before
	// it reuses the slot for publication n + window.
	slots []atomic.Int64
	wake  chan struct{} // poked when a slot may be complete

	sent     atomic.Int64
	answered atomic.Int64 // PUBLISHED and ERROR answers

	// Owned by the sender until it is joined.
	stalls  int64
	sendErr error
	// Owned by the reader until it is joined.
	errors map[string]int64
	closed bool
}

func (p *fanPublisher) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// fanSubscriber is one subscribing session and its reader's tally, owned
// by the reader until it is joined (atomics excepted).
type fanSubscriber struct {
	s          *session
	next       []int64 // per publisher: the sequence number expected next
	received   []int64 // per publisher
	outOfOrder int64
	malformed  int64
	hist       histogram
	closed     bool // the router ended the session or connection

	delivered atomic.Int64
	last      atomic.Int64 // nanoseconds since the start, of the last event
	gone      atomic.Bool  // the reader ended because the router closed
}

// fanRun is one fan-out run; Fanout and Slow share it.
type fanRun struct {
	ctx        context.Context
	subDialers []*dialer // where subscribers join (nil: the target)
	window     int
	payload    []byte
	topic      spec.URI
	meter      *Meter
	label      string
	count      int64
	duration   time.Duration
	drain      time.Duration
	// stop, if set, ends publishing early (Slow: once the stalled
	// subscriber is gone and enough was published after).
	stop func(totalSent int64) bool

	sessions pool
	readers  sync.WaitGroup
	pubs     []*fanPublisher
	subs     []*fanSubscriber
	alive    atomic.Int64 // subscribers still connected
	total    atomic.Int64 // publications sent, all publishers
	start    time.Time
	elapsed  time.Duration
}

// setup opens the subscribers (subscribed) and the publishers, and starts
// their readers.
func (r *fanRun) setup(ctx context.Context, d *dialer, realm string, pubs, subs int, timeout time.Duration) error {
	setup, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r.subs = make([]*fanSubscriber, subs)
	err := parallel(setup, subs, 8, func(i int) error {
		sd := d
		if len(r.subDialers) > 0 {
			sd = r.subDialers[i%len(r.subDialers)]
		}
		s, err := sd.join(setup, realm)
		if err != nil {
			return setupError("subscriber", i, err)
		}
		r.sessions.add(s)
		if err := s.subscribe(setup, string(r.topic)); err != nil {
			return setupError("subscriber", i, err)
		}
		r.subs[i] = &fanSubscriber{s: s, next: make([]int64, pubs), received: make([]int64, pubs)}
		return nil
	})
	if err != nil {
		return err
	}
	r.pubs = make([]*fanPublisher, pubs)
	for i := range r.pubs {
		s, err := d.join(setup, realm)
		if err != nil {
			return setupError("publisher", i, err)
		}
		r.sessions.add(s)
		r.pubs[i] = &fanPublisher{idx: i, s: s, slots: make([]atomic.Int64, r.window), wake: make(chan struct{}, 1), errors: map[string]int64{}}
	}
	r.alive.Store(int64(subs))
	for _, sub := range r.subs {
		r.readers.Add(1)
		go func() {
			defer r.readers.Done()
			r.subscriber(sub)
		}()
	}
	for _, p := range r.pubs {
		r.readers.Add(1)
		go func() {
			defer r.readers.Done()
			r.acknowledgements(p)
		}()
	}
	return nil
}

// run publishes until the count, the duration or the stop condition ends
// it, then waits for the last events to arrive.
func (r *fanRun) run() {
	var tickets atomic.Int64
	tickets.Store(r.count)
	r.meter.begin(r.label, "publications", r.count, r.duration)
	r.start = time.Now()
	var senders sync.WaitGroup
	for _, p := range r.pubs {
		senders.Add(1)
		go func() {
			defer senders.Done()
			r.publish(p, &tickets)
		}()
	}
	senders.Wait()
	r.awaitDelivery()
	var last int64
	for _, sub := range r.subs {
		last = max(last, sub.last.Load())
	}
	r.elapsed = time.Duration(last)
	if r.elapsed <= 0 {
		r.elapsed = time.Since(r.start)
	}
}

// publish is a publisher's sender.
func (r *fanRun) publish(p *fanPublisher, tickets *atomic.Int64) {
	w := int64(r.window)
	timer := time.NewTimer(stallTimeout)
	timer.Stop()
	for n := int64(0); ; n++ {
		if time.Since(r.start) >= r.duration || ctxDone(r.ctx) {
			return
		}
		if r.stop != nil && r.stop(r.total.Load()) {
			return
		}
		if tickets.Add(-1) < 0 {
			return
		}
		if n >= w {
			slot := &p.slots[n%w]
			if !r.waitSlot(p, slot, timer) {
				p.stalls++
			}
			slot.Store(0)
		}
		err := p.s.send(&spec.Publish{
			Request:   p.s.nextRequest(),
			Options:   ackOptions,
			Topic:     r.topic,
			Arguments: spec.List{int64(p.idx), n, int64(time.Since(r.start)), r.payload},
		})
		if err != nil {
			p.sendErr = err
			return
		}
		p.sent.Add(1)
		r.total.Add(1)
		r.meter.add(1)
	}
}

// waitSlot waits until every live subscriber has received the publication
// that last used slot; false after stallTimeout.
func (r *fanRun) waitSlot(p *fanPublisher, slot *atomic.Int64, timer *time.Timer) bool {
	if slot.Load() >= r.alive.Load() {
		return true
	}
	timer.Reset(stallTimeout)
	defer timer.Stop()
	for slot.Load() < r.alive.Load() {
		select {
		case <-p.wake:
		case <-timer.C:
			return false
		case <-r.ctx.Done():
			return false
		}
	}
	return true
}

// acknowledgements is a publisher's reader.
func (r *fanRun) acknowledgements(p *fanPublisher) {
	for {
		msg, err := p.s.peer.Recv(context.Background())
		if err != nil {
			var pe *spec.ProtocolError
			if errors.As(err, &pe) {
				continue
			}
			p.closed = !p.s.leaving.Load()
			return
		}
		switch msg := msg.(type) {
		case *spec.Published:
			p.answered.Add(1)
		case *spec.Error:
			p.errors[errorKey(msg.Error)]++
			p.answered.Add(1)
		case *spec.Goodbye:
			p.closed = p.s.answerGoodbye()
			return
		case *spec.Abort:
			p.closed = true
			return
		}
	}
}

// subscriber is a subscriber's reader: it checks every event's sequence
// number and reports its receipt to the publisher's pacing slot.
func (r *fanRun) subscriber(sub *fanSubscriber) {
	w := int64(r.window)
	defer func() {
		if sub.closed {
			sub.gone.Store(true)
			r.alive.Add(-1)
			for _, p := range r.pubs {
				p.poke()
			}
		}
	}()
	for {
		msg, err := sub.s.peer.Recv(context.Background())
		if err != nil {
			var pe *spec.ProtocolError
			if errors.As(err, &pe) {
				sub.malformed++
				continue
			}
			sub.closed = !sub.s.leaving.Load()
			return
		}
		var args spec.List
		switch msg := msg.(type) {
		case *spec.Event:
			args = msg.Arguments
		case *spec.Goodbye:
			sub.closed = sub.s.answerGoodbye()
			return
		case *spec.Abort:
			sub.closed = true
			return
		default:
			continue
		}
		pi, seq, sent, ok := eventArgs(args, len(sub.next))
		if !ok {
			sub.malformed++
			continue
		}
		now := time.Since(r.start)
		sub.hist.record(now - sent)
		sub.last.Store(int64(now))
		if seq < sub.next[pi] {
			sub.outOfOrder++
		} else {
			sub.next[pi] = seq + 1
		}
		sub.received[pi]++
		sub.delivered.Add(1)
		p := r.pubs[pi]
		if p.slots[seq%w].Add(1) >= r.alive.Load() {
			p.poke()
		}
	}
}

// eventArgs reads [publisher, sequence, sent, payload].
func eventArgs(args spec.List, pubs int) (pi int, seq int64, sent time.Duration, ok bool) {
	if len(args) < 3 {
		return 0, 0, 0, false
	}
	p, ok1 := asInt(args[0])
	seq, ok2 := asInt(args[1])
	ns, ok3 := asInt(args[2])
	if !ok1 || !ok2 || !ok3 || p < 0 || p >= int64(pubs) || seq < 0 {
		return 0, 0, 0, false
	}
	return int(p), seq, time.Duration(ns), true
}

// awaitDelivery waits until every publication is answered and has reached
// every subscriber still connected, or until nothing arrived for drain.
func (r *fanRun) awaitDelivery() {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	var lastProgress int64
	quietSince := time.Now()
	for {
		if r.deliveredToLive(r.total.Load()) {
			return
		}
		var progress int64
		for _, p := range r.pubs {
			progress += p.answered.Load()
		}
		for _, sub := range r.subs {
			progress += sub.delivered.Load()
		}
		if progress != lastProgress {
			lastProgress, quietSince = progress, time.Now()
		} else if time.Since(quietSince) >= r.drain {
			return
		}
		select {
		case <-t.C:
		case <-r.ctx.Done():
			return
		}
	}
}

// deliveredToLive reports whether every publication was answered and every
// subscriber still connected has received total events.
func (r *fanRun) deliveredToLive(total int64) bool {
	for _, p := range r.pubs {
		if p.answered.Load() < p.sent.Load() {
			return false
		}
	}
	for _, sub := range r.subs {
		if !sub.gone.Load() && sub.delivered.Load() < total {
			return false
		}
	}
	return true
}

// finish ends the measurement, closes every session, joins every reader and
// fills res.
func (r *fanRun) finish(res *Result, m *measure) {
	var delivered int64
	for _, sub := range r.subs {
		delivered += sub.delivered.Load()
	}
	m.finish(res, delivered)
	r.close()

	fs := &FanoutStats{}
	var hist histogram
	sent := make([]int64, len(r.pubs))
	for i, p := range r.pubs {
		sent[i] = p.sent.Load()
		fs.Published += sent[i]
		fs.Acks += p.answered.Load()
		fs.Stalls += p.stalls
		res.addErrors(p.errors)
		if p.sendErr != nil {
			res.Errors["publish: "+p.sendErr.Error()]++
		}
		if p.closed {
			res.Errors["publisher closed by the router"]++
		}
	}
	for _, sub := range r.subs {
		fs.Delivered += sub.delivered.Load()
		fs.OutOfOrder += sub.outOfOrder
		hist.merge(&sub.hist)
		if sub.malformed > 0 {
			res.Errors["malformed event"] += sub.malformed
		}
		if sub.closed {
			fs.Disconnected++
			continue
		}
		for i := range sent {
			fs.Expected += sent[i]
			fs.Lost += max(0, sent[i]-sub.received[i])
		}
	}
	res.setRate(fs.Delivered, r.elapsed)
	if r.elapsed > 0 {
		fs.AckRate = float64(fs.Acks) / r.elapsed.Seconds()
	}
	res.Latency = hist.summary()
	res.Fanout = fs
}

// close ends every session and joins every reader; it is idempotent.
func (r *fanRun) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.sessions.closeAll(ctx, &r.readers, 2*time.Second)
	r.readers.Wait()
}

// parallel runs fn(0..n-1) on up to workers goroutines and returns the
// first error; after an error (or ctx's end) no new index is started. It
// joins its goroutines before returning.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return first != nil
	}
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed() || ctxDone(ctx) {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil && ctxDone(ctx) {
		return ctx.Err()
	}
	return first
}
