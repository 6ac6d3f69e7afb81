// Package cluster makes several Switchyard routers act as one, on NATS.
//
// Each router process is a node. Nodes talk over NATS: either a NATS server
// embedded in each node, the embedded servers forming one NATS cluster over
// their routes (Options.Listen, Options.Routes), or an existing NATS cluster
// (Options.URLs). A node
//
//   - announces itself with a heartbeat every HeartbeatInterval, and takes a
//     node it has not heard from for FailAfter as gone (membership.go);
//   - tells the other nodes the subscription patterns it has subscribers for,
//     per realm (interest.go), so that a publication crosses to each node
//     with matching subscribers once, and to no other node;
//   - delivers the publications it receives to its own subscribers through
//     its broker, which does the exact/prefix/wildcard matching and the
//     exclude/eligible filtering as for a local publication (wire.go).
//
// Without a Node the router has no cluster code on its path: router.Options
// .Cluster is nil and each realm's link is a nil interface.
//
// See docs/CLUSTER.md for the design, its guarantees and its bounds.
package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/spec"
)

// Options configures a Node. Exactly one of Listen and URLs must be set.
type Options struct {
	// Name names the node in logs and the meta API (default: the host name).
	Name string

	// Listen is the HOST:PORT the embedded NATS server accepts cluster
	// routes on. Setting it embeds a NATS server in the node.
	Listen string
	// Routes are the other nodes' cluster addresses (nats://HOST:PORT or
	// HOST:PORT). A node may list itself; NATS gossips the rest.
	Routes []string

	// URLs are the servers of an external NATS cluster to connect to.
	URLs []string
	// Credentials is a NATS credentials file (JWT and NKey seed).
	Credentials string
	// CAFile verifies the NATS servers' certificates; CertFile and KeyFile
	// are this node's client certificate.
	CAFile, CertFile, KeyFile string

	// SubjectPrefix begins every NATS subject the cluster uses (default
	// "switchyard"): clusters sharing one NATS system use different ones.
	SubjectPrefix string

	// HeartbeatInterval is how often a node says it is alive (default 1s);
	// FailAfter is how long a silent node is still taken as alive (default
	// 3s). A node that dies is noticed within FailAfter+HeartbeatInterval.
	HeartbeatInterval time.Duration
	FailAfter         time.Duration
	// AckTimeout bounds how long a new subscription waits for the other
	// nodes to learn of it (default 2s).
	AckTimeout time.Duration

	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name, _ = os.Hostname()
	}
	if o.SubjectPrefix == "" {
		o.SubjectPrefix = "switchyard"
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = time.Second
	}
	if o.FailAfter <= 0 {
		o.FailAfter = 3 * o.HeartbeatInterval
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Node is this process's membership of a cluster. It implements
// router.Cluster.
type Node struct {
	opts    Options
	log     *slog.Logger
	token   string // this incarnation's identity in subjects
	started time.Time

	srv  *server.Server // the embedded NATS server, or nil
	nc   *nats.Conn
	subs []*nats.Subscription

	subj subjects

	mu      sync.RWMutex // guards the fields below
	realms  map[spec.URI]*link
	peers   map[string]*peer // by token
	local   map[interestKey]*localInterest
	seq     uint64 // of this node's interest changes
	waiters map[uint64]*ackWaiter
	pending map[interestKey]*pendingDelete // on_deletes kept (submeta.go)
	// keptDue: requests for other nodes' retained events and history
	// (kept.go) not yet answered, by node token and realm, and when asked.
	keptDue map[keptKey]time.Time
	closed  bool

	stop chan struct{}
	done chan struct{} // closed when the heartbeat goroutine ends

	unreachable bool // heartbeat goroutine only: last Err was non-nil
}

var _ router.Cluster = (*Node)(nil)

// Start joins the cluster: it starts the embedded NATS server if asked,
// connects, begins heartbeats and returns once it has heard from the other
// live nodes (1.5 heartbeat intervals). Close leaves.
func Start(opts Options) (*Node, error) {
	opts = opts.withDefaults()
	if (opts.Listen == "") == (len(opts.URLs) == 0) {
		return nil, errors.New("cluster: set either a cluster listen address (embedded NATS) or NATS URLs")
	}
	n := &Node{
		opts:    opts,
		log:     opts.Logger.With("node", opts.Name),
		token:   newToken(),
		started: time.Now(),
		realms:  make(map[spec.URI]*link),
		peers:   make(map[string]*peer),
		local:   make(map[interestKey]*localInterest),
		waiters: make(map[uint64]*ackWaiter),
		pending: make(map[interestKey]*pendingDelete),
		keptDue: make(map[keptKey]time.Time),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	n.subj = newSubjects(opts.SubjectPrefix, n.token)
	if err := n.connect(); err != nil {
		n.shutdownServer()
		return nil, err
	}
	if err := n.subscribe(); err != nil {
		n.nc.Close()
		n.shutdownServer()
		return nil, err
	}
	go n.heartbeats()
	// Every live node heartbeats once per interval: after one and a half,
	// this node knows them all, so a subscription made on it from now on
	// waits for each of them to learn of it before SUBSCRIBED.
	time.Sleep(opts.HeartbeatInterval * 3 / 2)
	n.log.Info("cluster node started", "embedded", n.srv != nil, "peers", len(n.Peers()))
	return n, nil
}

// connect starts the embedded server (if any) and opens the NATS connection.
func (n *Node) connect() error {
	copts := []nats.Option{
		nats.Name("switchyard " + n.opts.Name),
		nats.NoEcho(), // a node never needs its own messages back
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: our own Close
				n.log.Warn("cluster: lost the NATS connection", "error", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			n.log.Info("cluster: NATS connection back", "server", c.ConnectedUrlRedacted())
		}),
	}
	if n.opts.Listen != "" {
		srv, err := n.startServer()
		if err != nil {
			return err
		}
		n.srv = srv
		copts = append(copts, nats.InProcessServer(srv))
		nc, err := nats.Connect("", copts...)
		if err != nil {
			return fmt.Errorf("cluster: connect to the embedded NATS server: %w", err)
		}
		n.nc = nc
		return nil
	}
	if n.opts.Credentials != "" {
		copts = append(copts, nats.UserCredentials(n.opts.Credentials))
	}
	if n.opts.CAFile != "" {
		copts = append(copts, nats.RootCAs(n.opts.CAFile))
	}
	if n.opts.CertFile != "" || n.opts.KeyFile != "" {
		copts = append(copts, nats.ClientCert(n.opts.CertFile, n.opts.KeyFile))
	}
	nc, err := nats.Connect(strings.Join(n.opts.URLs, ","), copts...)
	if err != nil {
		return fmt.Errorf("cluster: connect to NATS %s: %w", strings.Join(n.opts.URLs, ","), err)
	}
	n.nc = nc
	return nil
}

// startServer runs the embedded NATS server: a cluster listener for the
// routes, and a client listener on a random loopback port.
func (n *Node) startServer() (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(n.opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen address %q: %w", n.opts.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen address %q: bad port", n.opts.Listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	var routes []*url.URL
	for _, r := range n.opts.Routes {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !strings.Contains(r, "://") {
			r = "nats://" + r
		}
		u, err := url.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("cluster: route %q: %w", r, err)
		}
		routes = append(routes, u)
	}
	sopts := &server.Options{
		ServerName: n.opts.Name,
		// The node connects in-process; the client port exists only
		// because NATS starts routing once it listens. Loopback only.
		Host:   "127.0.0.1",
		Port:   server.RANDOM_PORT,
		NoSigs: true,
		NoLog:  true,
		Cluster: server.ClusterOpts{
			Name:           "switchyard",
			Host:           host,
			Port:           port,
			ConnectRetries: -1, // keep trying: a route that drops comes back
		},
		Routes: routes,
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("cluster: embedded NATS server on %s did not start", n.opts.Listen)
	}
	return srv, nil
}

func (n *Node) shutdownServer() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}

// ClusterAddr is the address the embedded NATS server takes routes on
// (useful with a port of 0), or "" with an external NATS.
func (n *Node) ClusterAddr() string {
	if n.srv == nil {
		return ""
	}
	if a := n.srv.ClusterAddr(); a != nil {
		return a.String()
	}
	return ""
}

// Name returns the node's name.
func (n *Node) Name() string { return n.opts.Name }

// Err is nil while the node can reach the cluster: its NATS connection is
// up and, on an embedded server that has routes or has seen other nodes, at
// least one route is up.
func (n *Node) Err() error {
	if !n.nc.IsConnected() {
		return errors.New("cluster: not connected to NATS (" + n.nc.Status().String() + ")")
	}
	if n.srv != nil && n.srv.NumRoutes() == 0 {
		n.mu.RLock()
		lonely := len(n.peers) > 0
		n.mu.RUnlock()
		if lonely || len(n.opts.Routes) > 0 {
			return errors.New("cluster: no route to any other node")
		}
	}
	return nil
}

// Ready is nil once the node is connected and has listened for the other
// nodes' heartbeats long enough to know them; for /readyz.
func (n *Node) Ready() error {
	if err := n.Err(); err != nil {
		return err
	}
	if time.Since(n.started) < n.opts.HeartbeatInterval*3/2 {
		return errors.New("cluster: still discovering the other nodes")
	}
	if n.fetchingKept() {
		return errors.New("cluster: still fetching retained events and history from the other nodes")
	}
	return nil
}

// Peers returns the names of the other nodes this node takes as alive.
func (n *Node) Peers() []string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]string, 0, len(n.peers))
	for _, p := range n.peers {
		out = append(out, p.name)
	}
	return out
}

// Close leaves the cluster: it tells the other nodes, so they need not wait
// FailAfter, then closes the connection and the embedded server. Call it
// after the router's Shutdown.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	close(n.stop)
	<-n.done
	n.sendControl(&control{Kind: kindBye})
	_ = n.nc.FlushTimeout(time.Second) // the goodbye leaves before the connection closes
	n.nc.Close()
	n.shutdownServer()
	n.log.Info("cluster node stopped")
	return nil
}

func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// subjects are the NATS subjects of the cluster, seen from one node.
type subjects struct {
	control string // heartbeats, interest changes, goodbyes: every node
	snap    string // this node's interest snapshot, on request
	kept    string // this node's retained events and history, on request
	keptIn  string // other nodes' answers to this node's kept requests
	ack     string // acknowledgements of this node's interest changes
	events  string // publications for this node's subscribers
	prefix  string
}

func newSubjects(prefix, token string) subjects {
	return subjects{
		prefix:  prefix,
		control: prefix + ".ctl",
		snap:    prefix + ".snap." + token,
		kept:    prefix + ".kept." + token,
		keptIn:  prefix + ".keptin." + token,
		ack:     prefix + ".ack." + token,
		events:  prefix + ".ev." + token,
	}
}

func (s subjects) snapOf(token string) string   { return s.prefix + ".snap." + token }
func (s subjects) keptOf(token string) string   { return s.prefix + ".kept." + token }
func (s subjects) eventsOf(token string) string { return s.prefix + ".ev." + token }
