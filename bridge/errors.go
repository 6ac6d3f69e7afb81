package bridge

import (
	"net/http"
	"strconv"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// Error URIs of the bridge's own refusals (the router's are wamp.error.*).
const (
	ErrBadRequest       spec.URI = spec.ErrInvalidArgument
	ErrUnauthenticated  spec.URI = "wamp.error.authentication_failed"
	ErrBodyTooLarge     spec.URI = spec.ErrPayloadSizeExceeded
	ErrSlowBody         spec.URI = "switchyard.error.request_timeout"
	ErrTooManyRequests  spec.URI = "switchyard.error.too_many_requests"
	ErrMethodNotAllowed spec.URI = "switchyard.error.method_not_allowed"
	ErrNotFound         spec.URI = "switchyard.error.not_found"
	ErrShuttingDown     spec.URI = spec.CloseSystemShutdown
)

// statusOf maps the URI of a WAMP ERROR to the HTTP status that fits it.
// Errors the router raises have their own statuses; anything else came
// from the callee's application code: 502, the upstream failed.
func statusOf(uri spec.URI) int {
	switch uri {
	case spec.ErrNoSuchProcedure, spec.ErrNoSuchRealm:
		return http.StatusNotFound
	case spec.ErrNotAuthorized, spec.ErrAuthorizationFailed:
		return http.StatusForbidden
	case spec.ErrTimeout:
		return http.StatusGatewayTimeout
	case spec.ErrInvalidArgument, spec.ErrInvalidURI:
		return http.StatusBadRequest
	case spec.ErrPayloadSizeExceeded:
		return http.StatusRequestEntityTooLarge
	case router.ErrLimitExceeded:
		return http.StatusTooManyRequests
	case spec.ErrFeatureNotSupported:
		return http.StatusNotImplemented
	}
	return http.StatusBadGateway
}

// writeJSON answers with status and the JSON object v (the value model).
func writeJSON(w http.ResponseWriter, status int, v map[string]any) {
	b, err := serializer.AppendJSONValue(make([]byte, 0, 128), v)
	if err != nil {
		// A callee's result JSON cannot express (NaN, a foreign type).
		status = http.StatusBadGateway
		b, _ = serializer.AppendJSONValue(nil, map[string]any{
			"error": string(spec.ErrInvalidArgument), "args": []any{"the result cannot be expressed in JSON"}, "kwargs": map[string]any{},
		})
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b)
}

// writeError answers {"error": URI, "args": [...], "kwargs": {...}}.
func writeError(w http.ResponseWriter, status int, uri spec.URI, args spec.List, kwargs spec.Dict) {
	if args == nil {
		args = spec.List{}
	}
	if kwargs == nil {
		kwargs = spec.Dict{}
	}
	writeJSON(w, status, map[string]any{"error": string(uri), "args": args, "kwargs": kwargs})
}

// fail answers one of the bridge's own refusals, with message as the
// error's first argument (where WAMP clients show it).
func fail(w http.ResponseWriter, status int, uri spec.URI, message string) {
	writeError(w, status, uri, spec.List{message}, nil)
}
