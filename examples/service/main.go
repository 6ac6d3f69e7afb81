// Command service is an example of a long-running WAMP service built on
// Switchyard's Go client: it keeps serving across router restarts and
// network failures by letting the client reconnect, and re-establishes
// its procedures and subscriptions without code of its own.
//
//	go run ./examples/service --url rs://127.0.0.1:8081
//	switchyard call com.example.service.add 2 3      # → [5]
//	switchyard publish com.example.service.tick
//	switchyard call com.example.service.stats        # → [{"calls":1,"events":1}]
//
// Kill the router and start it again: the service logs "disconnected",
// then "connected" once it has joined and registered again.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

func main() {
	url := flag.String("url", "rs://127.0.0.1:8081", "router URL")
	realm := flag.String("realm", "realm1", "realm to join")
	serializer := flag.String("serializer", "msgpack", "json, msgpack or cbor")
	maxDelay := flag.Duration("max-delay", 5*time.Second, "longest wait between reconnect attempts")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*url, *realm, *serializer, *maxDelay, log); err != nil {
		log.Error("service stopped", "error", err)
		os.Exit(1)
	}
}

// service is the state that outlives any one connection.
type service struct {
	calls, events atomic.Int64
}

func (s *service) add(_ context.Context, inv *client.Invocation) (*client.Result, error) {
	s.calls.Add(1)
	var sum int64
	for _, a := range inv.Arguments {
		n, ok := spec.AsInt(a)
		if !ok {
			return nil, &client.Error{URI: spec.ErrInvalidArgument, Arguments: spec.List{fmt.Sprintf("%v is not an integer", a)}}
		}
		sum += n
	}
	return &client.Result{Arguments: spec.List{sum}}, nil
}

func (s *service) stats(context.Context, *client.Invocation) (*client.Result, error) {
	return &client.Result{Arguments: spec.List{spec.Dict{"calls": s.calls.Load(), "events": s.events.Load()}}}, nil
}

func run(url, realm, serializer string, maxDelay time.Duration, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc := &service{}
	c, err := client.Connect(ctx, url, client.Config{
		Realm:      realm,
		Serializer: serializer,
		// Redial after a loss: 250 ms, then doubling (with jitter) up to
		// maxDelay, forever. Registrations and subscriptions come back by
		// themselves; requests made while down fail with ErrDisconnected.
		Reconnect: &client.Reconnect{InitialDelay: 250 * time.Millisecond, MaxDelay: maxDelay},
		OnStateChange: func(st client.State, err error) {
			if err != nil {
				log.Warn(st.String(), "error", err)
				return
			}
			log.Info(st.String())
		},
		Logger: log,
	})
	if err != nil {
		return fmt.Errorf("first connection: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Close(cctx)
	}()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Register(rctx, "com.example.service.add", svc.add, nil); err != nil {
		return err
	}
	if _, err := c.Register(rctx, "com.example.service.stats", svc.stats, nil); err != nil {
		return err
	}
	if _, err := c.Subscribe(rctx, "com.example.service.tick", func(*client.Event) { svc.events.Add(1) }, nil); err != nil {
		return err
	}
	log.Info("serving", "url", url, "realm", realm)
	select {
	case <-ctx.Done():
		log.Info("stopping")
		return nil
	case <-c.Done():
		if err := c.Err(); err != nil && !errors.Is(err, client.ErrClosed) {
			return err
		}
		return nil
	}
}
