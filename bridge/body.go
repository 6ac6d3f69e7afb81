package bridge

import (
	"errors"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// request is the JSON body of POST /api/{realm}/publish or /call:
// {"topic"|"procedure": URI, "args": [...], "kwargs": {...}, "options": {...}}.
type request struct {
	URI     spec.URI
	Args    spec.List
	Kwargs  spec.Dict
	Options spec.Dict
}

// decodeRequest parses a request body. uriKey is "topic" or "procedure".
// Values follow the JSON serializer's rules (exact integers up to 2^64,
// "\u0000"+base64 strings as binary), so a payload means the same over
// HTTP as over a JSON WebSocket. Errors say what is wrong, for a 400.
func decodeRequest(body []byte, uriKey string) (*request, error) {
	v, err := serializer.DecodeJSONValue(body)
	if err != nil {
		var pe *spec.ProtocolError
		if errors.As(err, &pe) {
			return nil, errors.New("the body is not valid JSON: " + strings.TrimPrefix(pe.Reason, "json: "))
		}
		return nil, errors.New("the body is not valid JSON")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("the body must be a JSON object")
	}
	req := &request{}
	for k, val := range obj {
		switch k {
		case uriKey:
			s, ok := val.(string)
			if !ok || s == "" {
				return nil, errors.New(uriKey + " must be a non-empty string")
			}
			req.URI = spec.URI(s)
		case "args":
			if val == nil {
				continue
			}
			l, ok := val.([]any)
			if !ok {
				return nil, errors.New("args must be a list")
			}
			req.Args = l
		case "kwargs":
			if val == nil {
				continue
			}
			d, ok := val.(map[string]any)
			if !ok {
				return nil, errors.New("kwargs must be an object")
			}
			req.Kwargs = d
		case "options":
			if val == nil {
				continue
			}
			d, ok := val.(map[string]any)
			if !ok {
				return nil, errors.New("options must be an object")
			}
			req.Options = d
		default:
			return nil, errors.New("unknown key " + quote(k) + " (known: " + uriKey + ", args, kwargs, options)")
		}
	}
	if req.URI == "" {
		return nil, errors.New(uriKey + " is required")
	}
	return req, nil
}

// quote shortens and quotes a client-supplied string for an error message.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}

// sortedKeys returns d's keys in order, for deterministic output.
func sortedKeys(d map[string]string) []string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
