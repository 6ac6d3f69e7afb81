package router

import (
	"strconv"

	"github.com/switchyard/switchyard/spec"
)

// Option readers. spec.Validate has already checked the types of known
// options, so a wrong type here only means "absent".

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
