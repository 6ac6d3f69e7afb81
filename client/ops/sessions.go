package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

// Sessions lists the realm's sessions through the meta API
// (wamp.session.list, then wamp.session.get for each). A session that
// leaves between the two calls is skipped.
func Sessions(ctx context.Context, c *client.Client) ([]spec.Dict, error) {
	res, err := c.Call(ctx, "wamp.session.list", nil, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("wamp.session.list: %w", err)
	}
	if len(res.Arguments) == 0 {
		return nil, errors.New("wamp.session.list returned no list")
	}
	ids, ok := res.Arguments[0].(spec.List)
	if !ok {
		return nil, fmt.Errorf("wamp.session.list returned %T, not a list", res.Arguments[0])
	}
	out := make([]spec.Dict, 0, len(ids))
	for _, v := range ids {
		id, ok := spec.AsInt(v)
		if !ok {
			return nil, fmt.Errorf("wamp.session.list returned a non-integer session ID %v", v)
		}
		r, err := c.Call(ctx, "wamp.session.get", spec.List{id}, nil, nil)
		var we *client.Error
		if errors.As(err, &we) && we.URI == spec.ErrNoSuchSession {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("wamp.session.get %d: %w", id, err)
		}
		d, _ := asDict(firstArg(r))
		if d == nil {
			d = spec.Dict{"session": id}
		}
		out = append(out, d)
	}
	return out, nil
}

func firstArg(r *client.Result) any {
	if len(r.Arguments) == 0 {
		return nil
	}
	return r.Arguments[0]
}

func asDict(v any) (spec.Dict, bool) {
	switch d := v.(type) {
	case spec.Dict:
		return d, true
	}
	return nil, false
}

// WriteSessionTable prints sessions as an aligned table: ID, authid,
// authrole, authmethod, transport and peer address.
func WriteSessionTable(w io.Writer, sessions []spec.Dict) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tAUTHID\tAUTHROLE\tAUTHMETHOD\tTRANSPORT\tPEER")
	for _, s := range sessions {
		id, _ := spec.AsInt(s["session"])
		tr, _ := asDict(s["transport"])
		kind := str(tr["type"])
		if p := str(tr["protocol"]); p != "" {
			kind += "/" + p
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", id, str(s["authid"]), str(s["authrole"]), str(s["authmethod"]), dash(kind), dash(str(tr["peer"])))
	}
	return tw.Flush()
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
