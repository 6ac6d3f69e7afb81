package router

import (
	"testing"

	"github.com/switchyard/switchyard/spec"
)

type pattern struct {
	match string
	uri   spec.URI
}

// precedes ranks two nodes' registrations as one node's index ranks them,
// so that wamp.registration.match and calls across nodes pick what one
// node would: checked for every pair of patterns that match a procedure.
func TestPrecedesAsOneIndex(t *testing.T) {
	patterns := []pattern{
		{spec.MatchExact, "a.b.c"},
		{spec.MatchPrefix, "a"}, {spec.MatchPrefix, "a.b"}, {spec.MatchPrefix, "a.b.c"},
		{spec.MatchWildcard, "a.b."}, {spec.MatchWildcard, "a..c"}, {spec.MatchWildcard, ".b.c"},
		{spec.MatchWildcard, "a.."}, {spec.MatchWildcard, "..c"}, {spec.MatchWildcard, ".b."}, {spec.MatchWildcard, ".."},
	}
	matches := func(p pattern, uri spec.URI) bool {
		x := newURIIndex[pattern]()
		x.put(p.match, p.uri, p)
		_, ok := x.best(uri)
		return ok
	}
	checked := 0
	for _, uri := range []spec.URI{"a.b.c", "a.x.c", "z.b.c", "a.b.z", "a.b.c.d"} {
		for _, a := range patterns {
			for _, b := range patterns {
				if a == b || !matches(a, uri) || !matches(b, uri) {
					continue
				}
				x := newURIIndex[pattern]()
				x.put(a.match, a.uri, a)
				x.put(b.match, b.uri, b)
				best, _ := x.best(uri)
				if got, want := precedes(a.match, a.uri, b.match, b.uri), best == a; got != want {
					t.Errorf("for %s: precedes(%v, %v) = %v, but one index picks %v", uri, a, b, got, best)
				}
				checked++
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d pairs checked", checked)
	}
}

// mergeBestRegistration takes the best of the nodes' answers and ignores
// malformed ones.
func TestMergeBestRegistration(t *testing.T) {
	got := mergeBestRegistration([]spec.List{
		{nil},
		{int64(7), spec.MatchWildcard, "a..c"},
		{int64(8), spec.MatchPrefix, "a.b"},
		{"x", spec.MatchExact, "a.b.c"}, // not an ID
		{int64(9)},                      // too short
		{int64(10), spec.MatchWildcard, "a.b."},
	})
	if id, _ := spec.AsID(got[0]); id != 8 {
		t.Fatalf("merged %v, want the prefix registration 8", got)
	}
	if got := mergeBestRegistration([]spec.List{{nil}, {}}); got[0] != nil {
		t.Fatalf("merged %v, want null", got)
	}
}
