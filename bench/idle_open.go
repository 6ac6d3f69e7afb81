package bench

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/transport"
)

// An opener opens idle sessions and holds them until closed: in this
// process (localOpener), or in a worker process of the generator's own
// (workerOpener) when one process may not hold them all.
type opener interface {
	// openTo opens sessions until n of this opener's share have been
	// attempted, giving up at the deadline, and returns the failures by
	// kind. Its error is a fatal one: too many failures, or a lost worker.
	openTo(ctx context.Context, n int64, deadline time.Time) (map[string]int64, error)
	// held returns how many sessions were opened and how many of those are
	// still open.
	held(ctx context.Context) (open, alive int64, err error)
	// close closes every session (and ends a worker process).
	close()
}

// share returns how many of the first n sessions are opener w's, of
// workers: session i belongs to opener i % workers, so that every prefix of
// the run is spread evenly.
func share(n int64, w, workers int) int64 {
	s := n / int64(workers)
	if int64(w) < n%int64(workers) {
		s++
	}
	return s
}

// localOpener opens its share of a run's sessions with package client.
// Its j-th session is the run's session j*workers+worker, which chooses the
// router (round robin over urls) and the source address.
type localOpener struct {
	cfg         client.Config
	urls        []string
	spread      []bool // per url: dial from addresses spread over 127.0.0.0/8
	worker      int
	workers     int
	concurrency int
	onOpen      func() // called for every session opened (a progress count)

	clients  []*client.Client // written by openTo's goroutines, one index each
	failures atomic.Int64
}

// index is the run-wide number of this opener's j-th session.
func (l *localOpener) index(j int64) int64 { return j*int64(l.workers) + int64(l.worker) }

func (l *localOpener) openTo(ctx context.Context, n int64, deadline time.Time) (map[string]int64, error) {
	first := int64(len(l.clients))
	if n <= first {
		return nil, nil
	}
	l.clients = append(l.clients, make([]*client.Client, n-first)...)
	openCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var mu sync.Mutex
	errs := map[string]int64{}
	err := parallel(openCtx, int(n-first), l.concurrency, func(k int) error {
		j := first + int64(k)
		i := l.index(j)
		u := int(i % int64(len(l.urls)))
		cfg := l.cfg
		if l.spread[u] {
			cfg.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: sourceAddr(i)}}
		}
		c, err := client.Connect(openCtx, l.urls[u], cfg)
		if err != nil {
			if ended(openCtx) {
				return nil
			}
			mu.Lock()
			errs[classify(err)]++
			mu.Unlock()
			if l.failures.Add(1) >= maxIdleErrors {
				return fmt.Errorf("bench: idle: %d sessions failed to open, the last: %w", maxIdleErrors, err)
			}
			return nil
		}
		l.clients[j] = c
		if l.onOpen != nil {
			l.onOpen()
		}
		return nil
	})
	if err != nil && ctxDone(openCtx) && !ctxDone(ctx) {
		// The deadline is the run's duration bound, not a failure: the run
		// notes it and measures what was opened.
		err = nil
	}
	return errs, err
}

func (l *localOpener) held(context.Context) (open, alive int64, err error) {
	for _, c := range l.clients {
		if c != nil {
			open++
		}
	}
	return open, countAlive(l.clients), nil
}

func (l *localOpener) close() { closeClients(l.clients, l.concurrency) }

// newLocalOpener vets urls (each a loopback router unless AllowRemote) and
// returns an opener for share worker of workers.
func newLocalOpener(ctx context.Context, c *Common, urls []string, worker, workers, concurrency int, onOpen func()) (*localOpener, error) {
	l := &localOpener{cfg: c.clientConfig(), urls: urls, worker: worker, workers: workers, concurrency: max(concurrency, 1), onOpen: onOpen}
	for _, u := range urls {
		ep, _, err := c.prepare(ctx, Target{URL: u}, transport.Options{})
		if err != nil {
			return nil, err
		}
		l.spread = append(l.spread, spreadSources(ep))
	}
	return l, nil
}
