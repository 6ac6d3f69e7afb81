package bridge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// hookOut forwards the events of one subscription to one URL. Events wait
// in a bounded queue; one goroutine delivers them in order, retrying 5xx
// answers and network errors with exponential backoff. Every event it gives
// up on is counted and logged.
type hookOut struct {
	cfg   auth.WebhookOut
	realm spec.URI
	label string // the metrics' hook label: the topic
	ls    *router.LocalSession
	queue chan []byte
}

func (b *Bridge) startHookOut(realm *router.Realm, cfg auth.WebhookOut) error {
	if cfg.Queue <= 0 {
		cfg.Queue = 1000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Match == "" {
		cfg.Match = spec.MatchExact
	}
	h := &hookOut{cfg: cfg, realm: realm.Name(), label: string(cfg.Topic), queue: make(chan []byte, cfg.Queue)}
	ls, err := realm.OpenLocalSession(router.LocalSessionOptions{
		Identity: auth.Identity{AuthID: "webhook-out", AuthRole: "webhook", AuthMethod: "webhook"},
		Trusted:  true,
	})
	if err != nil {
		return err
	}
	h.ls = ls
	b.hooksOut = append(b.hooksOut, h)
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if _, err := ls.Subscribe(ctx, cfg.Topic, spec.Dict{spec.OptMatch: cfg.Match}, func(e *spec.Event) { b.enqueue(h, e) }); err != nil {
		return err
	}
	b.wg.Add(1)
	go b.deliverLoop(h)
	return nil
}

// enqueue runs on the publisher's goroutine: it encodes the event and
// queues it without ever blocking.
func (b *Bridge) enqueue(h *hookOut, e *spec.Event) {
	topic := h.cfg.Topic
	if t, ok := e.Details["topic"].(string); ok {
		topic = spec.URI(t)
	}
	args, kwargs := e.Arguments, e.ArgumentsKw
	if args == nil {
		args = spec.List{}
	}
	if kwargs == nil {
		kwargs = spec.Dict{}
	}
	body, err := serializer.AppendJSONValue(nil, map[string]any{
		"realm": string(h.realm), "topic": string(topic), "publication": uint64(e.Publication),
		"args": args, "kwargs": kwargs, "details": e.Details,
	})
	if err != nil {
		b.giveUp(h, "unencodable", topic, e.Publication, err)
		return
	}
	select {
	case h.queue <- body:
	default:
		b.giveUp(h, "queue_full", topic, e.Publication, errors.New("the queue of "+strconv.Itoa(cap(h.queue))+" events is full"))
	}
}

func (b *Bridge) giveUp(h *hookOut, reason string, topic spec.URI, pub spec.ID, err error) {
	b.metrics.giveUps.WithLabelValues(h.label, reason).Inc()
	b.log.Warn("outgoing webhook gave up on an event", "url", redactURL(h.cfg.URL), "topic", string(topic),
		"publication", uint64(pub), "reason", reason, "error", err)
}

// deliverLoop delivers queued events until Close; what is still queued
// then is given up (counted and logged).
func (b *Bridge) deliverLoop(h *hookOut) {
	defer b.wg.Done()
	for {
		select {
		case body := <-h.queue:
			b.deliver(h, body)
		case <-b.ctx.Done():
			for {
				select {
				case <-h.queue:
					b.giveUp(h, "shutdown", h.cfg.Topic, 0, errors.New("the router is shutting down"))
				default:
					return
				}
			}
		}
	}
}

// errPermanent marks an answer retrying cannot fix (4xx).
var errPermanent = errors.New("refused")

func (b *Bridge) deliver(h *hookOut, body []byte) {
	var err error
	for attempt := 0; attempt <= h.cfg.Retries; attempt++ {
		if attempt > 0 {
			b.metrics.deliveries.WithLabelValues(h.label, "retried").Inc()
			delay := b.retryBase << min(attempt-1, 5)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-b.ctx.Done():
				t.Stop()
				b.giveUp(h, "shutdown", h.cfg.Topic, 0, err)
				return
			}
		}
		if err = b.post(h, body); err == nil {
			b.metrics.deliveries.WithLabelValues(h.label, "delivered").Inc()
			return
		}
		if errors.Is(err, errPermanent) {
			b.giveUp(h, "rejected", h.cfg.Topic, 0, err)
			return
		}
		if b.ctx.Err() != nil {
			b.giveUp(h, "shutdown", h.cfg.Topic, 0, err)
			return
		}
		b.log.Debug("outgoing webhook attempt failed", "url", redactURL(h.cfg.URL), "attempt", attempt+1, "error", err)
	}
	b.giveUp(h, "attempts_exhausted", h.cfg.Topic, 0, err)
}

// post makes one attempt. 2xx is success; 5xx, 429, 408 and network errors
// may be retried; other statuses are permanent.
func (b *Bridge) post(h *hookOut, body []byte) error {
	ctx, cancel := context.WithTimeout(b.ctx, h.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return errors.Join(errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "switchyard-http-bridge")
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
		return errors.New("HTTP " + strconv.Itoa(resp.StatusCode))
	}
	return errors.Join(errPermanent, errors.New("HTTP "+strconv.Itoa(resp.StatusCode)))
}

// redactURL drops credentials and the query from a URL for the log.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}
