package router

import (
	"math"
	"strconv"
	"time"

	"github.com/switchyard/switchyard/spec"
)

// refusedOptions answers a request (PUBLISH, SUBSCRIBE, CALL, REGISTER)
// whose options the router cannot honour, and reports whether it did; the
// caller then routes nothing. The request is refused, not the session
// (as Crossbar does): ERROR wamp.error.invalid_argument naming the option,
// or, for a PUBLISH that asked for no acknowledgement and so cannot be
// answered, nothing. The first such request of a session is logged at
// Warn, later ones at Debug, so a client stuck in a loop cannot flood the
// log. Runs on the reader goroutine.
func (s *session) refusedOptions(m spec.Message) bool {
	oe := spec.CheckOptions(m)
	if oe == nil {
		return false
	}
	s.realm.router.stats.InvalidOptions.Add(1)
	var req spec.ID
	answered := true
	switch m := m.(type) {
	case *spec.Publish:
		req = m.Request
		answered = m.Options[spec.OptAcknowledge] == true
	case *spec.Subscribe:
		req = m.Request
	case *spec.Call:
		req = m.Request
	case *spec.Register:
		req = m.Request
	}
	what := "request refused: invalid option"
	if !answered {
		what = "unacknowledged PUBLISH dropped: invalid option"
	}
	log := s.logger()
	if s.warnedOption {
		log.Debug(what, "type", oe.Request.String(), "request", uint64(req), "error", oe.Error())
	} else {
		s.warnedOption = true
		log.Warn(what, "type", oe.Request.String(), "request", uint64(req), "error", oe.Error(), "note", "later ones of this session are logged at debug level")
	}
	if answered {
		s.sendError(oe.Request, req, spec.ErrInvalidArgument, oe.Error())
	}
	return true
}

// Option readers. spec.Validate and spec.CheckOptions have already checked
// the types of known options, so a wrong type here only means "absent".

func optBool(d spec.Dict, key string, def bool) bool {
	if v, ok := d[key].(bool); ok {
		return v
	}
	return def
}

func optString(d spec.Dict, key, def string) string {
	if v, ok := d[key].(string); ok {
		return v
	}
	return def
}

func optInt(d spec.Dict, key string) (int64, bool) {
	v, ok := d[key]
	if !ok {
		return 0, false
	}
	return spec.AsInt(v)
}

// optUint reads a non-negative integer option.
func optUint(d spec.Dict, key string) (uint64, bool) {
	v, ok := d[key]
	if !ok {
		return 0, false
	}
	n, ok := spec.AsInt(v)
	if ok {
		return uint64(n), n >= 0
	}
	u, ok := v.(uint64) // beyond MaxInt64
	return u, ok
}

// millis turns a timeout in milliseconds into a Duration, saturating: a
// client that asks for more than a Duration holds (292 years) gets the
// longest one there is, not an overflow into a timeout in the past.
func millis(ms uint64) time.Duration {
	if ms > math.MaxInt64/uint64(time.Millisecond) {
		return math.MaxInt64
	}
	return time.Duration(ms) * time.Millisecond
}

func optIDs(d spec.Dict, key string) ([]spec.ID, bool) {
	l, ok := d[key].([]any)
	if !ok {
		return nil, false
	}
	ids := make([]spec.ID, 0, len(l))
	for _, v := range l {
		if id, ok := spec.AsID(v); ok {
			ids = append(ids, id)
		}
	}
	return ids, true
}

func optStrings(d spec.Dict, key string) ([]string, bool) {
	l, ok := d[key].([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(l))
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out, true
}

func containsID(l []spec.ID, id spec.ID) bool {
	for _, x := range l {
		if x == id {
			return true
		}
	}
	return false
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func idString(id spec.ID) string { return strconv.FormatUint(uint64(id), 10) }

// sendError answers a request with ERROR. message, when set, travels as the
// error's first argument, which is where clients show it.
func (s *session) sendError(reqType spec.MessageType, req spec.ID, uri spec.URI, message string) {
	e := &spec.Error{RequestType: reqType, Request: req, Details: spec.Dict{}, Error: uri}
	if message != "" {
		e.Arguments = spec.List{message}
	}
	s.send(e)
}
