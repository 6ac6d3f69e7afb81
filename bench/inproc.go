package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/rawsocket"
	"github.com/switchyard/switchyard/transport/websocket"
)

// RouterOptions configure an in-process router. The zero value is a
// router with realm "realm1" on RawSocket, with the transport's defaults.
type RouterOptions struct {
	// Realm served (default "realm1"), anonymous sessions allowed.
	Realm string
	// Transport configures every connection (queue limits and so on).
	Transport transport.Options
	// WebSocket also serves WebSocket on another loopback port.
	WebSocket bool
	// Logger is the router's and the transports' (nil: discard).
	Logger *slog.Logger
	// ParkIdle is the RawSocket server's and the WebSocket handler's idle
	// sweep period (see rawsocket.ServerOptions.ParkIdle); 0 means their
	// default.
	ParkIdle time.Duration
}

// InProcessRouter is a Switchyard router serving loopback listeners in this
// process: for the tests, and for profiling the router under a scenario
// (--profile-router), since the serve command has no profiling hook.
//
// Its goroutines carry the pprof label side=router, inherited by every
// goroutine they start (each connection's reader and writer), so that a CPU
// profile of the whole process can be narrowed to the router with
// `go tool pprof -tagfocus=side=router`.
type InProcessRouter struct {
	Router *router.Router
	raw    *rawsocket.Server
	ws     *websocket.Handler
	hs     *http.Server
	rawLn  net.Listener
	wsLn   net.Listener
	wg     sync.WaitGroup
}

// StartRouter starts an in-process router on 127.0.0.1 ports chosen by the
// system.
func StartRouter(ctx context.Context, o RouterOptions) (*InProcessRouter, error) {
	if o.Realm == "" {
		o.Realm = "realm1"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Transport.Logger = o.Logger
	r, err := router.New(router.Options{
		Realms: []router.RealmConfig{{Name: spec.URI(o.Realm)}},
		Agent:  "switchyard-bench-inprocess",
		Logger: o.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("bench: in-process router: %w", err)
	}
	ir := &InProcessRouter{Router: r}
	ir.rawLn, err = transport.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: in-process router: %w", err)
	}
	ir.raw = rawsocket.NewServer(r, rawsocket.ServerOptions{Options: o.Transport, ParkIdle: o.ParkIdle})
	if o.WebSocket {
		ir.wsLn, err = transport.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			ir.rawLn.Close()
			return nil, fmt.Errorf("bench: in-process router: %w", err)
		}
		ir.ws = websocket.NewHandler(r, websocket.ServerOptions{Options: o.Transport, ParkIdle: o.ParkIdle})
		ir.hs = &http.Server{Handler: ir.ws, ReadHeaderTimeout: 10 * time.Second}
	}
	pprof.Do(ctx, pprof.Labels("side", "router"), func(context.Context) {
		ir.wg.Add(1)
		go func() {
			defer ir.wg.Done()
			ir.raw.Serve(ir.rawLn)
		}()
		if ir.hs != nil {
			ir.wg.Add(1)
			go func() {
				defer ir.wg.Done()
				// As the serve command does: upgrades are read by the
				// handler itself, plain HTTP goes to hs.
				ir.ws.Serve(ir.wsLn, ir.hs)
			}()
		}
	})
	return ir, nil
}

// RawSocketURL is the router's RawSocket address as a target URL.
func (ir *InProcessRouter) RawSocketURL() string { return "tcp://" + ir.rawLn.Addr().String() }

// WebSocketURL is the router's WebSocket URL, or "" without WebSocket.
func (ir *InProcessRouter) WebSocketURL() string {
	if ir.wsLn == nil {
		return ""
	}
	return "ws://" + ir.wsLn.Addr().String() + "/"
}

// ParkedRawSocket returns how many RawSocket sessions are parked now (hold
// no reader goroutine).
func (ir *InProcessRouter) ParkedRawSocket() int { return ir.raw.Parked() }

// ParkedWebSocket returns how many WebSocket sessions are parked now, 0
// without WebSocket.
func (ir *InProcessRouter) ParkedWebSocket() int {
	if ir.ws == nil {
		return 0
	}
	return ir.ws.Parked()
}

// Shutdown says GOODBYE to every session, stops the listeners and waits
// for every goroutine of the router and its transports, within ctx.
func (ir *InProcessRouter) Shutdown(ctx context.Context) error {
	ir.rawLn.Close()
	if ir.wsLn != nil {
		ir.wsLn.Close()
	}
	err := ir.Router.Shutdown(ctx)
	if ir.hs != nil {
		err = errors.Join(err, ir.hs.Shutdown(ctx), ir.ws.Shutdown(ctx))
	}
	err = errors.Join(err, ir.raw.Shutdown(ctx))
	ir.wg.Wait()
	if err != nil {
		return fmt.Errorf("bench: in-process router shutdown: %w", err)
	}
	return nil
}
