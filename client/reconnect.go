package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// State is the state of a client's connection, as Config.OnStateChange
// sees it.
type State int

const (
	// StateConnected: a session is joined and, after a reconnect, its
	// registrations and subscriptions are re-established.
	StateConnected State = iota + 1
	// StateDisconnected: the connection was lost; the client is redialing.
	StateDisconnected
	// StateClosed: the client has ended for good (Done is closed).
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateConnected:
		return "connected"
	case StateDisconnected:
		return "disconnected"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Reconnect is how a client redials after losing its connection. The zero
// value retries forever, after 0.5 s, then doubling up to 30 s.
type Reconnect struct {
	// InitialDelay is the first wait after a loss (default 500 ms).
	InitialDelay time.Duration
	// MaxDelay caps the wait between attempts (default 30 s).
	MaxDelay time.Duration
	// MaxAttempts is how many failed attempts in a row end the client
	// (0: never give up).
	MaxAttempts int
	// AttemptTimeout bounds one dial and join (default 10 s).
	AttemptTimeout time.Duration
}

func (r Reconnect) withDefaults() Reconnect {
	if r.InitialDelay <= 0 {
		r.InitialDelay = 500 * time.Millisecond
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = 30 * time.Second
	}
	if r.MaxDelay < r.InitialDelay {
		r.MaxDelay = r.InitialDelay
	}
	if r.AttemptTimeout <= 0 {
		r.AttemptTimeout = 10 * time.Second
	}
	return r
}

// delay is the wait before attempt n (0-based): exponential, capped, and
// "equal jitter" (a random point in the upper half) so that many clients
// cut off by one router restart do not all come back in the same instant.
func (r Reconnect) delay(n int) time.Duration {
	d := r.InitialDelay
	for i := 0; i < n && d < r.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, r.MaxDelay)
	half := d / 2
	return half + rand.N(d-half+1)
}

// errGaveUp ends a client whose reconnect attempts ran out.
var errGaveUp = errors.New("client: reconnect gave up")

// run owns the client's sessions: it reads each one (in a goroutine it
// waits for), re-establishes state on each new one, and decides after each
// loss whether to redial. It closes c.done when the client ends for good.
func (c *Client) run(sess *session) {
	defer close(c.done)
	var restore []restoreItem
	for {
		readDone := make(chan error, 1)
		go func() { readDone <- c.read(sess) }()
		if restore != nil {
			c.restore(restore)
			restore = nil
		}
		c.notify(StateConnected, nil)
		cause := <-readDone
		if c.cfg.Reconnect == nil || c.leaving.Load() {
			c.shutdown(cause)
			drain(sess.peer)
			return
		}
		restore = c.disconnected(sess, cause)
		next, err := c.redial()
		if err != nil {
			c.shutdown(err)
			return
		}
		sess = next
		if c.leaving.Load() { // Close started while we joined
			c.shutdown(ErrClosed)
			drain(sess.peer)
			return
		}
	}
}

// drain reads a closing peer until it ends, and waits for its end, so that
// the transport's close handshake completes: the router answers a
// WebSocket close frame with its own, which only a read takes in. Left
// unread, it was still in the socket when the peer closed it, and the
// kernel answered the router's close with a reset (one per session in
// bench connect, with a retransmission each). The peer ends within its
// CloseTimeout whatever the router does; a read still blocked once the
// peer is done (a Config.Dial peer that does not end its reads itself) is
// cancelled then. Messages still arriving, and frames that do not decode,
// are dropped: the session is over.
func drain(p transport.Peer) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // ends with drain, whose return cancels ctx
		select {
		case <-p.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		_, err := p.Recv(ctx)
		var pe *spec.ProtocolError
		if err != nil && !errors.As(err, &pe) {
			break
		}
	}
	<-p.Done()
}

// restoreItem is one subscription or registration to re-establish.
type restoreItem struct {
	subs []*subscriber // all share a topic and options
	reg  *registration
}

// disconnected marks the client down after sess was lost: waiting requests
// fail with ErrDisconnected, running invocations are interrupted, and the
// subscriptions and registrations are kept aside to re-establish.
func (c *Client) disconnected(sess *session, cause error) []restoreItem {
	c.mu.Lock()
	c.up = false
	waiting := c.waiting
	c.waiting = make(map[spec.ID]chan spec.Message)
	clear(c.progress)
	clear(c.pendingSubs)
	clear(c.pendingRegs)
	for _, cancel := range c.invocations {
		cancel()
	}
	items := make([]restoreItem, 0, len(c.subscriptions)+len(c.registrations))
	for _, subs := range c.subscriptions {
		items = append(items, restoreItem{subs: subs})
	}
	for _, reg := range c.registrations {
		items = append(items, restoreItem{reg: reg})
	}
	clear(c.subscriptions)
	clear(c.registrations)
	c.mu.Unlock()
	for _, ch := range waiting {
		ch <- lost{}
	}
	sess.peer.Close("connection lost")
	c.log.Warn("connection lost; reconnecting", "error", cause)
	c.notify(StateDisconnected, cause)
	return items
}

// redial dials and joins until it succeeds, Close is called, or the
// attempts run out. On success the new session is current and usable.
func (c *Client) redial() (*session, error) {
	policy := c.cfg.Reconnect.withDefaults()
	var last error
	for n := 0; policy.MaxAttempts == 0 || n < policy.MaxAttempts; n++ {
		t := time.NewTimer(policy.delay(n))
		select {
		case <-c.life.Done():
			t.Stop()
			return nil, ErrClosed
		case <-t.C:
		}
		sess, err := c.attempt(policy.AttemptTimeout)
		if err == nil {
			c.mu.Lock()
			c.reqIDs = spec.IDGen{}
			c.cur.Store(sess)
			c.up = true
			c.mu.Unlock()
			c.log.Info("reconnected", "session", sess.id, "attempts", n+1)
			return sess, nil
		}
		if c.life.Err() != nil {
			return nil, ErrClosed
		}
		last = err
		c.log.Debug("reconnect attempt failed", "attempt", n+1, "error", err)
	}
	return nil, fmt.Errorf("%w after %d attempts: %w", errGaveUp, policy.MaxAttempts, last)
}

func (c *Client) attempt(timeout time.Duration) (*session, error) {
	ctx, cancel := context.WithTimeout(c.life, timeout)
	defer cancel()
	peer, err := c.cfg.Dial(ctx)
	if err != nil {
		return nil, err
	}
	sess, err := join(ctx, peer, c.cfg)
	if err != nil {
		peer.Close("join failed")
		return nil, err
	}
	return sess, nil
}

// restore re-establishes subscriptions and registrations on the new
// session, mapping the IDs their users hold to the router's new ones. One
// the router now refuses is logged and dropped.
func (c *Client) restore(items []restoreItem) {
	ctx, cancel := context.WithTimeout(c.life, c.cfg.Reconnect.withDefaults().AttemptTimeout)
	defer cancel()
	for _, it := range items {
		if it.reg != nil {
			reg := it.reg
			id, err := c.register(ctx, reg)
			if err != nil {
				c.log.Warn("cannot re-register after reconnect", "procedure", reg.procedure, "error", err)
				c.mu.Lock()
				delete(c.regIDs, reg.userID)
				c.mu.Unlock()
				continue
			}
			c.mu.Lock()
			c.regIDs[reg.userID] = id
			c.mu.Unlock()
			continue
		}
		first := it.subs[0]
		id, err := c.subscribe(ctx, it.subs)
		c.mu.Lock()
		for _, s := range it.subs {
			if err != nil {
				delete(c.subIDs, s.userID)
			} else {
				c.subIDs[s.userID] = id
			}
		}
		c.mu.Unlock()
		if err != nil {
			c.log.Warn("cannot re-subscribe after reconnect", "topic", first.topic, "error", err)
		}
	}
}

// notify tells Config.OnStateChange.
func (c *Client) notify(state State, err error) {
	if c.cfg.OnStateChange != nil {
		c.cfg.OnStateChange(state, err)
	}
}
