package router_test

import (
	"context"
	"testing"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
)

func TestPerSessionLimits(t *testing.T) {
	tr := newTestRouter(t, router.Options{MaxCallsPerSession: 2, MaxSubscriptionsPerSession: 2, MaxRegistrationsPerSession: 1})
	c := tr.join(serializer.JSON)
	for _, topic := range []string{"l.a", "l.b"} {
		if _, err := c.Subscribe(ctxT(t), topic, func(*client.Event) {}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Subscribe(ctxT(t), "l.c", func(*client.Event) {}, nil); wampErrorURI(err) != router.ErrLimitExceeded {
		t.Fatalf("third subscription: %v", err)
	}
	// Subscribing again to a topic already held is not a new subscription:
	// it succeeds at the limit, with the same ID.
	first, err := c.Subscribe(ctxT(t), "l.a", func(*client.Event) {}, nil)
	if err != nil {
		t.Fatalf("repeat subscription at the limit: %v", err)
	}
	if again, err := c.Subscribe(ctxT(t), "l.a", func(*client.Event) {}, nil); err != nil || again != first {
		t.Fatalf("repeat subscription: %d %v, want %d", again, err, first)
	}
	release := make(chan struct{})
	if _, err := c.Register(ctxT(t), "l.block", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		<-release
		return &client.Result{}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctxT(t), "l.other", echo, nil); wampErrorURI(err) != router.ErrLimitExceeded {
		t.Fatalf("second registration: %v", err)
	}
	caller := tr.join(serializer.JSON)
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			_, err := caller.Call(context.Background(), "l.block", nil, nil, nil)
			errs <- err
		}()
	}
	// The two blocked calls fill the caller's budget (once both arrived).
	full := false
	for i := 0; i < 1000 && !full; i++ {
		_, err := caller.Call(ctxT(t), "wamp.session.count", nil, nil, nil)
		full = wampErrorURI(err) == router.ErrLimitExceeded
	}
	if !full {
		t.Fatal("two calls in flight did not exhaust a budget of two")
	}
	close(release)
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := caller.Call(ctxT(t), "l.block", nil, nil, nil); err != nil {
		t.Fatalf("a call after the budget freed up: %v", err)
	}
}
