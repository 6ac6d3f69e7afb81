// Package soak runs a router in-process under churn: hundreds of sessions
// over WebSocket and RawSocket, with every serializer, connect, register,
// call, publish, subscribe and leave by GOODBYE, by a dropped connection or
// by being killed through the meta API, while fixed observers record every
// event. A checker then proves that no acknowledged event and no call was
// lost, and that goroutines, memory and the router's counters return to
// their baseline once everybody has left.
//
// SWITCHYARD_SOAK sets the duration of the churn (a Go duration, default
// 20s, which keeps the test under a minute with -race on two cores):
//
//	SWITCHYARD_SOAK=5m go test -count=1 -v -timeout 15m ./test/soak/
package soak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/internal/leakcheck"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/rawsocket"
	"github.com/switchyard/switchyard/transport/websocket"
)

// TestMain fails the package if goroutines outlive the tests.
func TestMain(m *testing.M) { leakcheck.Main(m) }

const (
	defaultDuration = 20 * time.Second
	// workerSlots run concurrently; each connects session after session.
	workerSlots = 40
	// maxIncarnations and maxOps bound the loops besides the deadline.
	maxIncarnations = 100000
	maxOps          = 10000
	maxKills        = 1000000
	// minLifetime..minLifetime+lifetimeSpread is a worker session's
	// planned life, unless the admin kills it first.
	minLifetime    = 50 * time.Millisecond
	lifetimeSpread = time.Second
	// requestTimeout is the client-side bound on every request: a call or
	// an acknowledged publication that hits it was lost by the router.
	requestTimeout = 10 * time.Second
	// memorySlack is how far above its baseline the heap in use (spans
	// holding objects) may stay once everybody has left and the router has
	// shut down; liveSlack bounds the growth of the live heap itself
	// (HeapAlloc right after a GC), which is exact: a few hundred bytes
	// kept per session show up over a thousand sessions.
	memorySlack = 4 << 20
	liveSlack   = 1 << 20
	// leakWait is how long goroutines get to wind down after shutdown.
	leakWait = 10 * time.Second
	// maxFailures bounds the failures reported one by one.
	maxFailures = 30

	eventsTopic   = "soak.events"
	echoProcedure = "soak.echo"
)

var serializers = []string{"json", "msgpack", "cbor"}

// warnings keeps the first warnings the router and transports log, shown
// when the test fails: they name what went wrong (protocol violations, slow
// consumers) where the counters only count it.
type warnings struct {
	mu sync.Mutex
	b  bytes.Buffer
	n  int
}

func (w *warnings) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	if w.b.Len() < 32<<10 {
		w.b.Write(p)
	}
	return len(p), nil
}

func (w *warnings) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d warnings logged; the first ones:\n%s", w.n, w.b.String())
}

// clientLogger is the clients': their warnings (an invocation answered
// after its session ended, and the like) are expected here.
func clientLogger() *slog.Logger {
	if os.Getenv("SWITCHYARD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testLogger logs everything to stderr with SWITCHYARD_TEST_LOG set, and
// otherwise keeps only warnings and errors, in w.
func testLogger(w *warnings) *slog.Logger {
	if os.Getenv("SWITCHYARD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("SWITCHYARD_SOAK")
	if v == "" {
		return defaultDuration
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("SWITCHYARD_SOAK=%q: want a positive Go duration such as 5m", v)
	}
	return d
}

// observer stays subscribed to eventsTopic for the whole run and checks, as
// events arrive, that each incarnation's sequence numbers count up by one.
type observer struct {
	name string
	c    *client.Client

	mu     sync.Mutex
	last   map[int64]int64 // incarnation → last seq received
	events int64
	bad    []string // first few gaps, duplicates or malformed events
	nbad   int
}

func (o *observer) onEvent(e *client.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events++
	var inc, seq int64
	ok := len(e.Arguments) == 2
	if ok {
		var ok1, ok2 bool
		inc, ok1 = spec.AsInt(e.Arguments[0])
		seq, ok2 = spec.AsInt(e.Arguments[1])
		ok = ok1 && ok2
	}
	switch {
	case !ok:
		o.badf("malformed event %v", e.Arguments)
	case seq != o.last[inc]+1:
		o.badf("incarnation %d: got seq %d after %d", inc, seq, o.last[inc])
	}
	if ok && seq > o.last[inc] {
		o.last[inc] = seq
	}
}

func (o *observer) badf(format string, args ...any) {
	o.nbad++
	if len(o.bad) < 10 {
		o.bad = append(o.bad, fmt.Sprintf(format, args...))
	}
}

// soak is one run: the servers, the fixed sessions and what the workers
// report.
type soak struct {
	deadline time.Time
	rsAddr   string
	wsURL    string
	log      *slog.Logger // the clients' and their transports'

	protected map[spec.ID]bool // observers and admin: never killed; read-only once workers start

	incarnations atomic.Int64

	mu       sync.Mutex
	acked    map[int64]int64 // incarnation → highest seq acknowledged
	callErrs map[spec.URI]int
	failures []string
	nfail    int

	joins          atomic.Int64 // sessions established by the test
	published      atomic.Int64 // acknowledged publications
	calls          atomic.Int64 // calls made by workers
	callResults    atomic.Int64 // calls answered with the echo
	callsCutShort  atomic.Int64 // calls ended by the caller's own session ending
	invocations    atomic.Int64
	subscribes     atomic.Int64
	unsubscribes   atomic.Int64
	closes         atomic.Int64
	drops          atomic.Int64
	killsSeen      atomic.Int64 // worker sessions that ended with wamp.close.killed
	kills          atomic.Int64 // successful wamp.session.kill
	killsMissed    atomic.Int64 // wamp.session.kill answered no_such_session: the victim left first
	peakHeapInuse  atomic.Uint64
	peakGoroutines atomic.Int64
}

func (s *soak) failf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nfail++
	if len(s.failures) < maxFailures {
		s.failures = append(s.failures, fmt.Sprintf(format, args...))
	}
}

func reqCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), requestTimeout)
}

// dial opens a transport to the router: WebSocket or RawSocket, with ser.
func (s *soak) dial(overWS bool, ser string) (transport.Peer, error) {
	sz, ok := serializer.ByName(ser)
	if !ok {
		return nil, fmt.Errorf("no serializer %q", ser)
	}
	ctx, cancel := reqCtx()
	defer cancel()
	opts := transport.Options{Logger: s.log}
	if overWS {
		return websocket.Dial(ctx, s.wsURL, websocket.DialOptions{Options: opts, Serializer: sz})
	}
	return rawsocket.Dial(ctx, "tcp", s.rsAddr, rawsocket.DialOptions{Options: opts, Serializer: sz})
}

// join dials and joins realm1, returning the session and its transport.
func (s *soak) join(overWS bool, ser string) (*client.Client, transport.Peer, error) {
	peer, err := s.dial(overWS, ser)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := reqCtx()
	defer cancel()
	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1", Logger: s.log})
	if err != nil {
		return nil, nil, err
	}
	s.joins.Add(1)
	return c, peer, nil
}

func transportName(overWS bool) string {
	if overWS {
		return "websocket"
	}
	return "rawsocket"
}

// sessionEnded reports whether err means the session itself is over
// (killed, or its transport gone) rather than the request failing.
func sessionEnded(c *client.Client, err error) bool {
	if errors.Is(err, client.ErrClosed) || errors.Is(err, transport.ErrClosed) {
		return true
	}
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

// TestSoak is the soak test; see the package documentation.
func TestSoak(t *testing.T) {
	duration := soakDuration(t)

	// Baselines, before anything of the router exists.
	baseGoroutines := runtime.NumGoroutine()
	var ms runtime.MemStats

	warned := &warnings{}
	logger := testLogger(warned)
	defer func() {
		if t.Failed() {
			t.Logf("router and transport log: %s", warned)
		}
	}()
	// A first router, served and used once over every transport and
	// serializer, initialises what the libraries set up on first use
	// (net/http, WebSocket, codecs), so that the memory baseline is not
	// taken before it.
	warm := startServers(t, logger)
	warmUp(t, warm)
	warm.shutdown(t)
	warm = nil
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&ms)
	baseHeap, baseAlloc := ms.HeapInuse, ms.HeapAlloc

	srv := startServers(t, logger)
	r := srv.router
	s := &soak{
		deadline:  time.Now().Add(duration),
		rsAddr:    srv.rsAddr,
		wsURL:     srv.wsURL,
		log:       clientLogger(),
		protected: map[spec.ID]bool{},
		acked:     map[int64]int64{},
		callErrs:  map[spec.URI]int{},
	}
	start := time.Now()

	// Fixed sessions: one observer per serializer, on alternating
	// transports, and the admin.
	var observers []*observer
	for i, ser := range serializers {
		overWS := i%2 == 0
		c, _, err := s.join(overWS, ser)
		if err != nil {
			t.Fatalf("observer %s over %s: %v", ser, transportName(overWS), err)
		}
		o := &observer{name: ser + "/" + transportName(overWS), c: c, last: map[int64]int64{}}
		ctx, cancel := reqCtx()
		_, err = c.Subscribe(ctx, eventsTopic, o.onEvent, nil)
		cancel()
		if err != nil {
			t.Fatalf("observer %s: subscribe: %v", o.name, err)
		}
		observers = append(observers, o)
		s.protected[c.ID()] = true
	}
	admin, _, err := s.join(false, "msgpack")
	if err != nil {
		t.Fatalf("admin: %v", err)
	}
	s.protected[admin.ID()] = true

	// The churn.
	var wg sync.WaitGroup
	stopSampler := make(chan struct{})
	samplerDone := make(chan struct{})
	go s.sample(stopSampler, samplerDone)
	for slot := 0; slot < workerSlots; slot++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < maxIncarnations && time.Now().Before(s.deadline); n++ {
				s.incarnation()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.adminLoop(admin)
	}()
	workersDone := make(chan struct{})
	go func() { wg.Wait(); close(workersDone) }()
	select {
	case <-workersDone:
	case <-time.After(duration + 3*requestTimeout):
		close(stopSampler)
		t.Fatalf("workers still running %v after the deadline:\n%s", 3*requestTimeout, allStacks())
	}
	close(stopSampler)
	<-samplerDone
	churn := time.Since(start)

	// Check 1: every acknowledged publication reached every observer, in
	// order, without gaps or duplicates. The observers may still be reading
	// what was queued for them: give them time.
	s.mu.Lock()
	acked := s.acked
	s.mu.Unlock()
	behind := func() []string {
		var out []string
		for _, o := range observers {
			o.mu.Lock()
			for inc, k := range acked {
				if got := o.last[inc]; got < k {
					out = append(out, fmt.Sprintf("observer %s: incarnation %d acknowledged up to seq %d, received up to %d", o.name, inc, k, got))
				}
			}
			o.mu.Unlock()
		}
		sort.Strings(out)
		return out
	}
	catchUp := time.Now().Add(requestTimeout)
	for len(behind()) > 0 && time.Now().Before(catchUp) {
		time.Sleep(20 * time.Millisecond)
	}
	if lost := behind(); len(lost) > 0 {
		t.Errorf("%d acknowledged events lost (per observer and incarnation), e.g.:\n  %s", len(lost), strings.Join(lost[:min(len(lost), 20)], "\n  "))
	}
	var eventsChecked int64
	for _, o := range observers {
		o.mu.Lock()
		eventsChecked += o.events
		if o.nbad > 0 {
			t.Errorf("observer %s: %d events out of sequence, e.g.:\n  %s", o.name, o.nbad, strings.Join(o.bad, "\n  "))
		}
		o.mu.Unlock()
		select {
		case <-o.c.Done():
			t.Errorf("observer %s was disconnected during the run: %v", o.name, o.c.Err())
		default:
		}
	}
	select {
	case <-admin.Done():
		t.Errorf("the admin session was disconnected during the run: %v", admin.Err())
	default:
	}

	// Check 2 (and everything else the workers noticed).
	s.mu.Lock()
	for _, f := range s.failures {
		t.Error(f)
	}
	if s.nfail > len(s.failures) {
		t.Errorf("... and %d more failures", s.nfail-len(s.failures))
	}
	var errSummary []string
	for uri, n := range s.callErrs {
		errSummary = append(errSummary, fmt.Sprintf("%s ×%d", uri, n))
	}
	sort.Strings(errSummary)
	s.mu.Unlock()

	// Everybody leaves; the router and the servers shut down.
	for _, c := range append([]*client.Client{admin}, clientsOf(observers)...) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.Close(ctx)
		cancel()
	}
	// What the checker kept is the test's, not the router's: drop it before
	// memory is measured.
	publishers := len(acked)
	observers, admin, acked, s.acked = nil, nil, nil, nil
	srv.shutdown(t)

	// Check 3: the router's counters balance, no goroutine outlived the
	// run, and the heap is back near its baseline (the router itself is
	// still alive: what it keeps after everybody left counts).
	st := r.Stats()
	opened, closed := st.SessionsOpened.Load(), st.SessionsClosed.Load()
	if opened != closed {
		t.Errorf("router stats: %d sessions opened, %d closed", opened, closed)
	}
	if opened != uint64(s.joins.Load()) {
		t.Errorf("router stats: %d sessions opened, the test joined %d", opened, s.joins.Load())
	}
	if n := st.CallsInFlight.Load(); n != 0 {
		t.Errorf("router stats: %d calls in flight after shutdown", n)
	}
	if n := st.ProtocolErrors.Load(); n != 0 {
		t.Errorf("router stats: %d protocol errors", n)
	}
	if n := st.SlowConsumers.Load(); n != 0 {
		t.Errorf("router stats: %d slow consumers disconnected", n)
	}

	leakDeadline := time.Now().Add(leakWait)
	for runtime.NumGoroutine() > baseGoroutines && time.Now().Before(leakDeadline) {
		time.Sleep(50 * time.Millisecond)
	}
	goroutines := runtime.NumGoroutine()
	if goroutines > baseGoroutines {
		t.Errorf("%d goroutines running %v after shutdown, %d before the router started:\n%s", goroutines, leakWait, baseGoroutines, allStacks())
	}

	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&ms)
	heap, alloc := ms.HeapInuse, ms.HeapAlloc
	if heap > baseHeap+memorySlack {
		t.Errorf("heap in use %.2f MiB after shutdown, baseline %.2f MiB (peak %.2f MiB): more than %d MiB retained",
			mib(heap), mib(baseHeap), mib(s.peakHeapInuse.Load()), memorySlack>>20)
	}
	if alloc > baseAlloc+liveSlack {
		t.Errorf("live heap %.2f MiB after shutdown, baseline %.2f MiB: more than %d KiB retained over %d sessions",
			mib(alloc), mib(baseAlloc), liveSlack>>10, s.joins.Load())
	}
	runtime.KeepAlive(r)

	t.Logf("soak: %v of churn (%v in all) with %d worker slots", churn.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), workerSlots)
	t.Logf("sessions: %d opened (router: %d opened, %d closed); worker endings: %d GOODBYE, %d dropped, %d killed (admin: %d kills, %d raced with the victim leaving)",
		s.joins.Load(), opened, closed, s.closes.Load(), s.drops.Load(), s.killsSeen.Load(), s.kills.Load(), s.killsMissed.Load())
	t.Logf("pub/sub: %d publications acknowledged over %d incarnations, %d events checked by %d observers; %d subscribes, %d unsubscribes",
		s.published.Load(), publishers, eventsChecked, len(serializers), s.subscribes.Load(), s.unsubscribes.Load())
	t.Logf("rpc: %d calls, %d echoed, %d cut short by the caller leaving, errors: [%s]; %d invocations handled",
		s.calls.Load(), s.callResults.Load(), s.callsCutShort.Load(), strings.Join(errSummary, ", "), s.invocations.Load())
	t.Logf("resources: goroutines %d → peak %d → %d; heap in use %.2f MiB → peak %.2f MiB → %.2f MiB; live heap %.2f MiB → %.2f MiB",
		baseGoroutines, s.peakGoroutines.Load(), goroutines, mib(baseHeap), mib(s.peakHeapInuse.Load()), mib(heap), mib(baseAlloc), mib(alloc))
}

// servers is a router served over RawSocket and WebSocket on loopback.
type servers struct {
	router  *router.Router
	rs      *rawsocket.Server
	wsh     *websocket.Handler
	httpSrv *http.Server
	rsDone  chan error
	wsDone  chan error
	rsAddr  string
	wsURL   string
	stopped sync.Once
}

func startServers(t *testing.T, logger *slog.Logger) *servers {
	t.Helper()
	r, err := router.New(router.Options{Realms: []router.RealmConfig{{Name: "realm1"}}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	rsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		rsLn.Close()
		t.Fatal(err)
	}
	srv := &servers{
		router: r,
		rs:     rawsocket.NewServer(r, rawsocket.ServerOptions{Options: transport.Options{Logger: logger}}),
		wsh:    websocket.NewHandler(r, websocket.ServerOptions{Options: transport.Options{Logger: logger}}),
		rsDone: make(chan error, 1),
		wsDone: make(chan error, 1),
		rsAddr: rsLn.Addr().String(),
		wsURL:  "ws://" + wsLn.Addr().String() + "/ws",
	}
	srv.httpSrv = &http.Server{Handler: srv.wsh, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { srv.rsDone <- srv.rs.Serve(rsLn) }()
	go func() { srv.wsDone <- srv.httpSrv.Serve(wsLn) }()
	t.Cleanup(func() { srv.shutdown(t) }) // after a t.Fatal; a no-op otherwise
	return srv
}

// shutdown stops the router (GOODBYE to whoever is left), then the servers,
// and waits for their Serve loops. Only the first call does anything.
func (srv *servers) shutdown(t *testing.T) {
	t.Helper()
	srv.stopped.Do(func() { srv.stop(t) })
}

func (srv *servers) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.router.Shutdown(ctx); err != nil {
		t.Errorf("router shutdown: %v", err)
	}
	if err := srv.rs.Shutdown(ctx); err != nil {
		t.Errorf("rawsocket server shutdown: %v", err)
	}
	if err := srv.wsh.Shutdown(ctx); err != nil {
		t.Errorf("websocket handler shutdown: %v", err)
	}
	if err := srv.httpSrv.Shutdown(ctx); err != nil {
		t.Errorf("http server shutdown: %v", err)
	}
	if err := <-srv.rsDone; err != nil {
		t.Errorf("rawsocket Serve: %v", err)
	}
	if err := <-srv.wsDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("http Serve: %v", err)
	}
}

// warmUp has one session per transport and serializer register, call,
// subscribe and publish on srv.
func warmUp(t *testing.T, srv *servers) {
	t.Helper()
	s := &soak{rsAddr: srv.rsAddr, wsURL: srv.wsURL, log: clientLogger()}
	for i, ser := range serializers {
		for _, overWS := range []bool{false, true} {
			c, _, err := s.join(overWS, ser)
			if err != nil {
				t.Fatalf("warm-up: join %s over %s: %v", ser, transportName(overWS), err)
			}
			ctx, cancel := reqCtx()
			proc := fmt.Sprintf("warm.echo.%d.%v", i, overWS)
			_, err = c.Register(ctx, proc, func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
				return &client.Result{Arguments: inv.Arguments, ArgumentsKw: inv.ArgumentsKw}, nil
			}, nil)
			if err == nil {
				_, err = c.Subscribe(ctx, "warm.events", func(*client.Event) {}, nil)
			}
			if err == nil {
				args, kwargs := randomPayload()
				_, err = c.Call(ctx, proc, args, kwargs, nil)
			}
			if err == nil {
				err = c.Publish(ctx, "warm.events", spec.List{1}, nil, spec.Dict{"acknowledge": true})
			}
			cancel()
			if err != nil {
				t.Fatalf("warm-up %s over %s: %v", ser, transportName(overWS), err)
			}
			ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
			c.Close(ctx)
			cancel()
		}
	}
}

func clientsOf(obs []*observer) []*client.Client {
	out := make([]*client.Client, len(obs))
	for i, o := range obs {
		out[i] = o.c
	}
	return out
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

func allStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// sample records peak heap and goroutines during the churn, to show how
// far memory went up before it came back down.
func (s *soak) sample(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var ms runtime.MemStats
	for {
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > s.peakHeapInuse.Load() {
			s.peakHeapInuse.Store(ms.HeapInuse)
		}
		if n := int64(runtime.NumGoroutine()); n > s.peakGoroutines.Load() {
			s.peakGoroutines.Store(n)
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// adminLoop lists the sessions now and then and kills a random worker.
func (s *soak) adminLoop(admin *client.Client) {
	for i := 0; i < maxKills; i++ {
		pause := time.Duration(20+rand.IntN(60)) * time.Millisecond
		if time.Now().Add(pause).After(s.deadline) {
			return
		}
		time.Sleep(pause)
		ctx, cancel := reqCtx()
		res, err := admin.Call(ctx, "wamp.session.list", nil, nil, nil)
		cancel()
		if err != nil {
			s.failf("admin: wamp.session.list: %v", err)
			return
		}
		var victims []spec.ID
		if len(res.Arguments) == 1 {
			ids, _ := res.Arguments[0].([]any)
			for _, v := range ids {
				if id, ok := spec.AsID(v); ok && !s.protected[id] {
					victims = append(victims, id)
				}
			}
		}
		if len(victims) == 0 {
			continue
		}
		victim := victims[rand.IntN(len(victims))]
		ctx, cancel = reqCtx()
		_, err = admin.Call(ctx, "wamp.session.kill", spec.List{int64(victim)}, spec.Dict{"message": "soak"}, nil)
		cancel()
		var werr *client.Error
		switch {
		case err == nil:
			s.kills.Add(1)
		case errors.As(err, &werr) && werr.URI == spec.ErrNoSuchSession:
			s.killsMissed.Add(1)
		default:
			s.failf("admin: wamp.session.kill %d: %v", victim, err)
			return
		}
	}
}

// incarnation is one worker session, from connect to its end.
func (s *soak) incarnation() {
	overWS := rand.IntN(2) == 0
	ser := serializers[rand.IntN(len(serializers))]
	c, peer, err := s.join(overWS, ser)
	if err != nil {
		s.failf("worker: join %s over %s: %v", ser, transportName(overWS), err)
		time.Sleep(100 * time.Millisecond) // no hot loop if the router refuses everybody
		return
	}
	inc := s.incarnations.Add(1)
	w := &worker{s: s, c: c, inc: inc, subs: map[string]spec.ID{}, desc: fmt.Sprintf("incarnation %d (session %d, %s over %s)", inc, c.ID(), ser, transportName(overWS))}
	alive := w.live()

	switch {
	case !alive:
		// Killed while working (or its session otherwise ended).
	case rand.IntN(2) == 0:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.Close(ctx)
		cancel()
		if err := c.Err(); err != nil && !isKilled(err) {
			// A GOODBYE answered with goodbye_and_out.
			var werr *client.Error
			if !errors.As(err, &werr) || werr.URI != spec.CloseGoodbyeAndOut {
				s.failf("worker %s: GOODBYE ended with %v", w.desc, err)
			}
		}
		if isKilled(c.Err()) {
			s.killsSeen.Add(1)
		} else {
			s.closes.Add(1)
		}
		return
	default:
		peer.Close("soak: dropped")
		<-c.Done()
		s.drops.Add(1)
		c.Close(context.Background()) // waits for invocation handlers
		return
	}
	select {
	case <-c.Done():
	case <-time.After(requestTimeout):
		s.failf("worker %s: a request failed as if the session had ended, but it did not end", w.desc)
	}
	if isKilled(c.Err()) {
		s.killsSeen.Add(1)
	} else {
		s.failf("worker %s: session ended unexpectedly: %v", w.desc, c.Err())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	c.Close(ctx)
	cancel()
}

func isKilled(err error) bool {
	var werr *client.Error
	return errors.As(err, &werr) && werr.URI == spec.CloseKilled
}

type worker struct {
	s    *soak
	c    *client.Client
	inc  int64
	desc string
	seq  int64
	subs map[string]spec.ID // topic → subscription
}

// live runs the session's operations for its lifetime. It returns false
// when the session ended under it.
func (w *worker) live() bool {
	s := w.s
	if rand.IntN(2) == 0 {
		ctx, cancel := reqCtx()
		_, err := w.c.Register(ctx, echoProcedure, w.echo, spec.Dict{"invoke": "roundrobin"})
		cancel()
		if err != nil {
			return w.failed("register", err)
		}
	}
	end := time.Now().Add(minLifetime + rand.N(lifetimeSpread))
	if end.After(s.deadline) {
		end = s.deadline
	}
	for i := 0; i < maxOps && time.Now().Before(end); i++ {
		var ok bool
		switch n := rand.IntN(10); {
		case n < 4:
			ok = w.publish()
		case n < 8:
			ok = w.call()
		default:
			ok = w.subscription()
		}
		if !ok {
			return false
		}
		select {
		case <-w.c.Done():
			return false
		case <-time.After(time.Duration(rand.IntN(3)) * time.Millisecond):
		}
	}
	return true
}

// failed judges a request's error: the session ending under it is part of
// the game (false, without a failure); anything else is a failure.
func (w *worker) failed(what string, err error) bool {
	if sessionEnded(w.c, err) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		w.s.failf("LOST: worker %s: %s got no answer within %v", w.desc, what, requestTimeout)
	} else {
		w.s.failf("worker %s: %s: %v", w.desc, what, err)
	}
	return true
}

func (w *worker) publish() bool {
	w.seq++
	ctx, cancel := reqCtx()
	err := w.c.Publish(ctx, eventsTopic, spec.List{w.inc, w.seq}, nil, spec.Dict{"acknowledge": true})
	cancel()
	if err != nil {
		return w.failed(fmt.Sprintf("publish seq %d", w.seq), err)
	}
	w.s.published.Add(1)
	w.s.mu.Lock()
	w.s.acked[w.inc] = w.seq
	w.s.mu.Unlock()
	return true
}

func (w *worker) call() bool {
	s := w.s
	args, kwargs := randomPayload()
	s.calls.Add(1)
	ctx, cancel := reqCtx()
	res, err := w.c.Call(ctx, echoProcedure, args, kwargs, nil)
	cancel()
	var werr *client.Error
	switch {
	case err == nil:
		if why := echoMismatch(args, kwargs, res); why != "" {
			s.failf("worker %s: echo corrupted: %s", w.desc, why)
		}
		s.callResults.Add(1)
		return true
	case errors.As(err, &werr):
		s.mu.Lock()
		s.callErrs[werr.URI]++
		s.mu.Unlock()
		switch werr.URI {
		case spec.ErrCanceled, spec.ErrNoSuchProcedure:
			// The callee left mid-call, or no callee is registered now.
		default:
			s.failf("worker %s: call answered with an unexpected error: %v", w.desc, err)
		}
		return true
	case sessionEnded(w.c, err):
		s.callsCutShort.Add(1)
		return false
	}
	return w.failed("call", err)
}

func (w *worker) subscription() bool {
	s := w.s
	// A session holds one subscription per topic (subscribing again gives
	// the same ID), so a topic already held is unsubscribed instead.
	topic := fmt.Sprintf("soak.topic.%d", rand.IntN(8))
	if sub, ok := w.subs[topic]; ok {
		delete(w.subs, topic)
		ctx, cancel := reqCtx()
		err := w.c.Unsubscribe(ctx, sub)
		cancel()
		if err != nil {
			return w.failed("unsubscribe "+topic, err)
		}
		s.unsubscribes.Add(1)
		return true
	}
	ctx, cancel := reqCtx()
	sub, err := w.c.Subscribe(ctx, topic, func(*client.Event) {}, nil)
	cancel()
	if err != nil {
		return w.failed("subscribe "+topic, err)
	}
	s.subscribes.Add(1)
	w.subs[topic] = sub
	// Something for the topic's subscribers to read, unacknowledged.
	if err := w.c.Publish(context.Background(), topic, spec.List{w.inc}, nil, nil); err != nil {
		return w.failed("publish to "+topic, err)
	}
	return true
}

// echo is the shared procedure; now and then it takes a while, so that
// callees get killed or dropped with calls in flight.
func (w *worker) echo(_ context.Context, inv *client.Invocation) (*client.Result, error) {
	w.s.invocations.Add(1)
	if rand.IntN(4) == 0 {
		time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
	}
	return &client.Result{Arguments: inv.Arguments, ArgumentsKw: inv.ArgumentsKw}, nil
}

const alphabet = "abcxyz019 -_/ü€😀\"\\"

func randomString(n int) string {
	runes := []rune(alphabet)
	var b strings.Builder
	for range n {
		b.WriteRune(runes[rand.IntN(len(runes))])
	}
	return b.String()
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return b
}

// randomPayload is a call's arguments: bytes (now and then a larger blob),
// a large signed integer and a Unicode string, positional and by keyword.
func randomPayload() (spec.List, spec.Dict) {
	size := rand.IntN(256)
	if rand.IntN(20) == 0 {
		size = 16<<10 + rand.IntN(16<<10)
	}
	n := rand.Int64N(1 << 53)
	if rand.IntN(2) == 0 {
		n = -n
	}
	args := spec.List{randomBytes(size), n, randomString(rand.IntN(40))}
	kwargs := spec.Dict{"blob": randomBytes(rand.IntN(64)), "n": rand.Int64N(1 << 53)}
	return args, kwargs
}

func echoMismatch(args spec.List, kwargs spec.Dict, res *client.Result) string {
	if len(res.Arguments) != len(args) {
		return fmt.Sprintf("%d arguments came back, sent %d", len(res.Arguments), len(args))
	}
	if why := valueMismatch("args[0]", args[0], res.Arguments[0]); why != "" {
		return why
	}
	if why := valueMismatch("args[1]", args[1], res.Arguments[1]); why != "" {
		return why
	}
	if why := valueMismatch("args[2]", args[2], res.Arguments[2]); why != "" {
		return why
	}
	if len(res.ArgumentsKw) != len(kwargs) {
		return fmt.Sprintf("%d keyword arguments came back, sent %d", len(res.ArgumentsKw), len(kwargs))
	}
	for k, v := range kwargs {
		if why := valueMismatch("kwargs."+k, v, res.ArgumentsKw[k]); why != "" {
			return why
		}
	}
	return ""
}

func valueMismatch(where string, sent, got any) string {
	switch sent := sent.(type) {
	case []byte:
		if b, ok := got.([]byte); !ok || !bytes.Equal(b, sent) {
			return fmt.Sprintf("%s: sent %d bytes, got %T %.40v", where, len(sent), got, got)
		}
	case int64:
		if n, ok := spec.AsInt(got); !ok || n != sent {
			return fmt.Sprintf("%s: sent %d, got %T %v", where, sent, got, got)
		}
	case string:
		if s, ok := got.(string); !ok || s != sent {
			return fmt.Sprintf("%s: sent %q, got %T %v", where, sent, got, got)
		}
	default:
		return fmt.Sprintf("%s: cannot compare %T", where, sent)
	}
	return ""
}
