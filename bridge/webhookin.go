package bridge

import (
	"context"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// serveWebhook serves POST /webhook/{name}: the body is published to the
// hook's topic as the event's one argument (the JSON value if the body is
// JSON, else the body as a string), with the configured request headers in
// kwargs ({"headers": {Name: value}}). The publisher is disclosed as
// "webhook:{name}".
func (b *Bridge) serveWebhook(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	defer func() { b.count("webhook", rec.code) }()
	w = rec
	name := strings.TrimPrefix(r.URL.Path, "/webhook/")
	h := b.hooksIn[name]
	if h == nil {
		fail(w, http.StatusNotFound, ErrNotFound, "no webhook "+quote(name))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(w, http.StatusMethodNotAllowed, ErrMethodNotAllowed, "use POST")
		return
	}
	limits := h.realm.limits
	release, ok := b.admit(r, limits.PerClientConcurrency)
	if !ok {
		fail(w, http.StatusTooManyRequests, ErrTooManyRequests, "too many requests at once from this client")
		return
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), limits.Timeout)
	defer cancel()
	stop := context.AfterFunc(b.ctx, cancel)
	defer stop()
	body, ok := b.readBody(w, r, limits)
	if !ok {
		return
	}
	if h.cfg.Secret != "" && !checkHubSignature(r.Header.Get("X-Hub-Signature-256"), h.cfg.Secret, body) {
		b.log.Info("webhook refused: bad or missing X-Hub-Signature-256", "webhook", name, "remote", r.RemoteAddr)
		fail(w, http.StatusUnauthorized, ErrUnauthenticated, "missing or wrong X-Hub-Signature-256")
		return
	}
	var payload any
	if v, err := serializer.DecodeJSONValue(body); err == nil {
		payload = v
	} else {
		payload = string(body)
	}
	headers := spec.Dict{}
	for _, hn := range h.cfg.Headers {
		if v := r.Header.Get(hn); v != "" {
			headers[http.CanonicalHeaderKey(hn)] = v
		}
	}
	id, err := h.ls.Publish(ctx, h.cfg.Topic, spec.List{payload}, spec.Dict{"headers": headers}, spec.Dict{spec.OptDiscloseMe: true})
	if err != nil {
		b.answerError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": uint64(id)})
}
