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

// subscriber is one Subscribe, kept to be re-established on reconnect.
type subscriber struct {
	topic   spec.URI
	options spec.Dict
	handler EventHandler
	userID  spec.ID // the ID Subscribe returned
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
		if err := c.usable(); err != nil {
			return err
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
// It returns the router's subscription ID or, with Config.Reconnect, an ID
// of the client's own that stays valid for Unsubscribe across reconnects
// (Event.Subscription is always the router's ID of the current session).
func (c *Client) Subscribe(ctx context.Context, topic string, handler EventHandler, opts spec.Dict) (spec.ID, error) {
	if opts == nil {
		opts = spec.Dict{}
	}
	sub := &subscriber{topic: spec.URI(topic), options: opts, handler: handler, userID: c.localID()}
	id, err := c.subscribe(ctx, []*subscriber{sub})
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	if sub.userID == 0 {
		sub.userID = id
	}
	c.subIDs[sub.userID] = id
	c.mu.Unlock()
	return sub.userID, nil
}

// subscribe sends one SUBSCRIBE for subs (which share topic and options)
// and returns the router's subscription ID.
func (c *Client) subscribe(ctx context.Context, subs []*subscriber) (spec.ID, error) {
	m, err := c.request(ctx, func(id spec.ID) spec.Message {
		c.pendingSubs[id] = subs
		return &spec.Subscribe{Request: id, Options: subs[0].options, Topic: subs[0].topic}
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

// Unsubscribe removes a subscription (by the ID Subscribe returned) and
// all its handlers.
func (c *Client) Unsubscribe(ctx context.Context, subscription spec.ID) error {
	c.mu.Lock()
	current, ok := c.subIDs[subscription]
	c.mu.Unlock()
	if !ok {
		current = subscription
	}
	m, err := c.request(ctx, func(id spec.ID) spec.Message {
		return &spec.Unsubscribe{Request: id, Subscription: current}
	})
	if err != nil {
		return err
	}
	if e, ok := m.(*spec.Error); ok {
		return &Error{URI: e.Error, Details: e.Details, Arguments: e.Arguments, ArgumentsKw: e.ArgumentsKw}
	}
	c.mu.Lock()
	for _, s := range c.subscriptions[current] {
		delete(c.subIDs, s.userID)
	}
	delete(c.subscriptions, current)
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
