package client

import (
	"context"
	"fmt"

	"github.com/switchyard/switchyard/spec"
)

// Event is what a subscriber receives.
type Event struct {
	Subscription spec.ID
	Publication  spec.ID
	Topic        spec.URI
	Arguments    spec.List
	ArgumentsKw  spec.Dict
	Details      spec.Dict
}

// EventHandler receives events in the order the router sent them, on the
// client's reader goroutine: it must not block on the router.
type EventHandler func(*Event)

type subscriber struct {
	topic   spec.URI
	handler EventHandler
}

// Publish publishes to topic. With acknowledge (opts["acknowledge"] true)
// it waits for PUBLISHED and returns the router's error, if any; otherwise
// it returns once the message is queued.
func (c *Client) Publish(ctx context.Context, topic string, args spec.List, kwargs spec.Dict, opts spec.Dict) error {
	if opts == nil {
		opts = spec.Dict{}
	}
	build := func(id spec.ID) spec.Message {
		return &spec.Publish{Request: id, Options: opts, Topic: spec.URI(topic), Arguments: args, ArgumentsKw: kwargs}
	}
	if ack, _ := opts[spec.OptAcknowledge].(bool); !ack {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed {
			return ErrClosed
		}
		return c.send(build(c.reqIDs.Next()))
	}
	m, err := c.request(ctx, build)
	if err != nil {
		return err
	}
	if e, ok := m.(*spec.Error); ok {
		return &Error{URI: e.Error, Details: e.Details, Arguments: e.Arguments, ArgumentsKw: e.ArgumentsKw}
	}
	return nil
}

// Subscribe subscribes handler to topic. opts go into SUBSCRIBE.Options.
func (c *Client) Subscribe(ctx context.Context, topic string, handler EventHandler, opts spec.Dict) (spec.ID, error) {
	if opts == nil {
		opts = spec.Dict{}
	}
	m, err := c.request(ctx, func(id spec.ID) spec.Message {
		c.pendingSubs[id] = &subscriber{topic: spec.URI(topic), handler: handler}
		return &spec.Subscribe{Request: id, Options: opts, Topic: spec.URI(topic)}
	})
	if err != nil {
		return 0, err
	}
	switch m := m.(type) {
	case *spec.Subscribed:
		return m.Subscription, nil
	case *spec.Error:
		return 0, &Error{URI: m.Error, Details: m.Details, Arguments: m.Arguments, ArgumentsKw: m.ArgumentsKw}
	}
	return 0, fmt.Errorf("client: unexpected %s answering SUBSCRIBE", m.Type())
}

// Unsubscribe removes a subscription and all its handlers.
func (c *Client) Unsubscribe(ctx context.Context, subscription spec.ID) error {
	m, err := c.request(ctx, func(id spec.ID) spec.Message {
		return &spec.Unsubscribe{Request: id, Subscription: subscription}
	})
	if err != nil {
		return err
	}
	if e, ok := m.(*spec.Error); ok {
		return &Error{URI: e.Error, Details: e.Details, Arguments: e.Arguments, ArgumentsKw: e.ArgumentsKw}
	}
	c.mu.Lock()
	delete(c.subscriptions, subscription)
	c.mu.Unlock()
	return nil
}

func (c *Client) dispatchEvent(m *spec.Event) {
	c.mu.Lock()
	subs := c.subscriptions[m.Subscription]
	c.mu.Unlock()
	for _, s := range subs {
		topic := s.topic
		if t, ok := m.Details["topic"].(string); ok {
			topic = spec.URI(t)
		}
		s.handler(&Event{
			Subscription: m.Subscription,
			Publication:  m.Publication,
			Topic:        topic,
			Arguments:    m.Arguments,
			ArgumentsKw:  m.ArgumentsKw,
			Details:      m.Details,
		})
	}
}
