package bench

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/transport"
)

// Connect is the session-setup scenario: Concurrency workers each open a
// session (dial, transport handshake, HELLO/WELCOME) with package client
// and close it (GOODBYE and its answer), as fast as they can. Its subject
// is what a user's program does to join, so it uses the real client.
type Connect struct {
	Common
	Concurrency int // default 8
}

// Name implements Scenario.
func (*Connect) Name() string { return "connect" }

func (o *Connect) setDefaults() {
	o.Common.setDefaults(20_000, 10*time.Second)
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
}

func (o *Common) clientConfig() client.Config {
	return client.Config{
		Realm:      o.Realm,
		Serializer: o.Serializer,
		TLSConfig:  o.TLSConfig,
		// The generator never pings: a run is short, and a ping is work
		// the router would not otherwise do.
		Transport: transport.Options{PingInterval: -1},
	}
}

// Run implements Scenario.
func (o *Connect) Run(ctx context.Context, t Target) (*Result, error) {
	o.setDefaults()
	ep, _, err := o.prepare(ctx, t, transport.Options{})
	if err != nil {
		return nil, err
	}
	res := newResult(o.Name(), t, ep, o.Serializer, "sessions", map[string]any{
		"concurrency": o.Concurrency, "count": o.Count, "duration_s": o.Duration.Seconds(),
	})
	cfg := o.clientConfig()
	spread := spreadSources(ep)
	base := rand.Int64N(loopbackSources)
	var tickets atomic.Int64
	tickets.Store(o.Count)
	type tally struct {
		done   int64
		errors map[string]int64
		hist   histogram
	}
	tallies := make([]*tally, o.Concurrency)
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	o.Meter.begin(t.Label+" connect", "sessions", o.Count, o.Duration)
	m := startMeasure(t.pids(), false)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range tallies {
		tl := &tally{errors: map[string]int64{}}
		tallies[i] = tl
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !ended(runCtx) {
				n := tickets.Add(-1)
				if n < 0 {
					break
				}
				t0 := time.Now()
				if err := o.once(runCtx, t.URL, sessionConfig(cfg, spread, base+n)); err != nil {
					if ended(runCtx) {
						return // cut short by the duration: not a failure
					}
					tl.errors[classify(err)]++
					continue
				}
				tl.hist.record(time.Since(t0))
				tl.done++
				o.Meter.add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var done int64
	var hist histogram
	for _, tl := range tallies {
		done += tl.done
		res.addErrors(tl.errors)
		hist.merge(&tl.hist)
	}
	res.setRate(done, elapsed)
	res.Latency = hist.summary()
	m.finish(res, done)
	if ctxDone(ctx) {
		return res, ctx.Err()
	}
	return res, nil
}

// loopbackSources is how many source addresses connectSource spreads
// over: 127.a.b.c with a, b and c in 1..254.
const loopbackSources = 254 * 254 * 254

// connectSource is the address session k dials from.
func connectSource(k int64) net.IP {
	k %= loopbackSources
	return net.IPv4(127, byte(k/(254*254)+1), byte(k/254%254+1), byte(k%254+1))
}

// sessionConfig is the client configuration of session k. With spread,
// the sessions of a run dial from consecutive addresses of 127.0.0.0/8,
// starting at a random one (see connectSource). From one address, the
// ports of a run's closed connections stay in TIME_WAIT for a minute —
// on the client (RawSocket, whose client closes first) or on the router
// (WebSocket, whose server closes first) — and a run of 30,000 sessions
// reuses them: connect(2) searched for free ports, and up to 4,600 dials
// of a run timed out against the router's TIME_WAIT. Spread over the
// 64,516 addresses bench idle uses, the kernel picked the same port for
// an address in the next run, and the WebSocket dials timed out as
// before; over 16 million addresses from a random start, runs do not meet.
func sessionConfig(cfg client.Config, spread bool, k int64) client.Config {
	if spread {
		cfg.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: connectSource(k)}}
	}
	return cfg
}

// once opens and closes one session.
func (o *Connect) once(ctx context.Context, url string, cfg client.Config) error {
	c, err := client.Connect(ctx, url, cfg)
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

// classify names an error for the error counts: the WAMP URI when there is
// one, otherwise its text (which names the step that failed), without the
// addresses of a network error: each session dials from an address of its
// own, and a run whose dials time out would count each one apart.
func classify(err error) string {
	var we *client.Error
	if errors.As(err, &we) {
		return string(we.URI)
	}
	msg := err.Error()
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		msg = strings.Replace(msg, oe.Error(), oe.Op+" "+oe.Net+": "+oe.Err.Error(), 1)
	}
	return msg
}
