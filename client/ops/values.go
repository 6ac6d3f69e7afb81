package ops

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

// ParseValue reads one command-line word: JSON when it parses as JSON
// (7, true, null, "x", [1,2], {"a":1}), else the word itself as a string.
// Integers stay integers (int64), so IDs up to 2^53 survive exactly.
func ParseValue(word string) any {
	if v, err := decodeJSON([]byte(word)); err == nil {
		return v
	}
	return word
}

// ParseArgs reads positional arguments with ParseValue.
func ParseArgs(words []string) spec.List {
	if len(words) == 0 {
		return nil
	}
	args := make(spec.List, len(words))
	for i, w := range words {
		args[i] = ParseValue(w)
	}
	return args
}

// ParseKwargs reads a JSON object ("" → none).
func ParseKwargs(text string) (spec.Dict, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	v, err := decodeJSON([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("--kwargs: %w", err)
	}
	d, ok := v.(spec.Dict)
	if !ok {
		return nil, errors.New("--kwargs: not a JSON object")
	}
	return d, nil
}

// decodeJSON decodes exactly one JSON value into the WAMP value model:
// spec.Dict, spec.List, int64 (or float64 when not integral), string,
// bool, nil.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("text after the JSON value")
	}
	return fromJSON(v)
}

func fromJSON(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", v, err)
		}
		return f, nil
	case []any:
		l := make(spec.List, len(v))
		for i, e := range v {
			x, err := fromJSON(e)
			if err != nil {
				return nil, err
			}
			l[i] = x
		}
		return l, nil
	case map[string]any:
		d := make(spec.Dict, len(v))
		for k, e := range v {
			x, err := fromJSON(e)
			if err != nil {
				return nil, err
			}
			d[k] = x
		}
		return d, nil
	}
	return v, nil
}

// Marshal encodes a WAMP value as JSON on one line. Binary values become
// base64 strings (encoding/json's rule for []byte).
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(jsonable(v)); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// jsonable converts what decoders produce (maps keyed by any, from
// MessagePack or CBOR) into values encoding/json accepts.
func jsonable(v any) any {
	switch v := v.(type) {
	case spec.List:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonable(e)
		}
		return out
	case spec.Dict:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = jsonable(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	}
	return v
}

// Payload is how results, invocations and events print: args alone as a
// JSON array, or an object once there is more than args.
func payload(args spec.List, kwargs spec.Dict, extra map[string]any) any {
	if len(kwargs) == 0 && len(extra) == 0 {
		if args == nil {
			args = spec.List{}
		}
		return args
	}
	out := map[string]any{"args": nilToEmpty(args)}
	if len(kwargs) > 0 {
		out["kwargs"] = kwargs
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func nilToEmpty(l spec.List) spec.List {
	if l == nil {
		return spec.List{}
	}
	return l
}

// FormatResult prints a call result: [7], or {"args":[...],"kwargs":{...}}
// when it has kwargs.
func FormatResult(r *client.Result) ([]byte, error) {
	return Marshal(payload(r.Arguments, r.ArgumentsKw, nil))
}

// FormatEvent prints an event as one JSON object: args, kwargs when there
// are any, the publisher when disclosed, and the topic when the
// subscription is a pattern (so the exact topic is news).
func FormatEvent(e *client.Event, pattern bool) ([]byte, error) {
	out := map[string]any{"args": nilToEmpty(e.Arguments)}
	if len(e.ArgumentsKw) > 0 {
		out["kwargs"] = e.ArgumentsKw
	}
	if p, ok := e.Details["publisher"]; ok {
		out["publisher"] = p
	}
	for _, k := range []string{"publisher_authid", "publisher_authrole"} {
		if v, ok := e.Details[k]; ok {
			out[k] = v
		}
	}
	if pattern {
		out["topic"] = string(e.Topic)
	}
	return Marshal(out)
}

// FormatError prints a WAMP error for stderr: its URI, then its args and
// kwargs as JSON when it has any. Other errors print as text.
func FormatError(err error) string {
	var we *client.Error
	if !errors.As(err, &we) {
		return err.Error()
	}
	s := string(we.URI)
	if len(we.Arguments) > 0 || len(we.ArgumentsKw) > 0 {
		if b, merr := Marshal(payload(we.Arguments, we.ArgumentsKw, nil)); merr == nil {
			s += " " + string(b)
		}
	}
	return s
}
