package router

import (
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/spec"
)

// naiveMatch is the spec's matching rule written the obvious way: the
// oracle for the index.
func naiveMatch(match string, pattern, uri spec.URI) bool {
	switch match {
	case spec.MatchPrefix:
		return strings.HasPrefix(string(uri), string(pattern))
	case spec.MatchWildcard:
		pc := strings.Split(string(pattern), ".")
		uc := strings.Split(string(uri), ".")
		if len(pc) != len(uc) {
			return false
		}
		for i := range pc {
			if pc[i] != "" && pc[i] != uc[i] {
				return false
			}
		}
		return true
	}
	return pattern == uri
}

type pat struct {
	match   string
	pattern spec.URI
}

// naiveBest is the dealer's precedence written the obvious way.
func naiveBest(pats []pat, uri spec.URI) (pat, bool) {
	for _, p := range pats {
		if p.match == spec.MatchExact && p.pattern == uri {
			return p, true
		}
	}
	var best pat
	found := false
	for _, p := range pats {
		if p.match == spec.MatchPrefix && naiveMatch(p.match, p.pattern, uri) && (!found || len(p.pattern) > len(best.pattern)) {
			best, found = p, true
		}
	}
	if found {
		return best, true
	}
	for _, p := range pats {
		if p.match != spec.MatchWildcard || !naiveMatch(p.match, p.pattern, uri) {
			continue
		}
		if !found || wildBetter(p.pattern, best.pattern) {
			best, found = p, true
		}
	}
	return best, found
}

// wildBetter: at the first component where a and b differ in being
// concrete, the concrete one wins.
func wildBetter(a, b spec.URI) bool {
	ac, bc := strings.Split(string(a), "."), strings.Split(string(b), ".")
	for i := range ac {
		if (ac[i] != "") != (bc[i] != "") {
			return ac[i] != ""
		}
	}
	return false
}

func checkIndex(t *testing.T, pats []pat, uris []spec.URI) {
	t.Helper()
	x := newURIIndex[pat]()
	for _, p := range pats {
		x.put(p.match, p.pattern, p)
	}
	if x.Len() != len(pats) {
		t.Fatalf("Len %d, want %d", x.Len(), len(pats))
	}
	for _, u := range uris {
		var got []string
		x.matchAll(u, func(p pat) { got = append(got, p.match+":"+string(p.pattern)) })
		var want []string
		for _, p := range pats {
			if naiveMatch(p.match, p.pattern, u) {
				want = append(want, p.match+":"+string(p.pattern))
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("matchAll(%q) = %v, want %v", u, got, want)
		}
		gb, gok := x.best(u)
		wb, wok := naiveBest(pats, u)
		if gok != wok || gb != wb {
			t.Fatalf("best(%q) = %v %v, want %v %v", u, gb, gok, wb, wok)
		}
	}
	for _, p := range pats {
		x.remove(p.match, p.pattern)
	}
	if x.Len() != 0 || len(x.prefix.children) != 0 || len(x.wildcard.children) != 0 || x.wildcard.any != nil {
		t.Fatalf("index not empty after removing everything")
	}
}

func TestIndexPrecedence(t *testing.T) {
	pats := []pat{
		{spec.MatchExact, "a.b.c"},
		{spec.MatchPrefix, "a.b"},
		{spec.MatchPrefix, "a.b.c"},
		{spec.MatchPrefix, "a"},
		{spec.MatchWildcard, "a..c"},
		{spec.MatchWildcard, ".b.c"},
		{spec.MatchWildcard, "a.b."},
		{spec.MatchWildcard, "x..z"},
	}
	checkIndex(t, pats, []spec.URI{"a.b.c", "a.b.cd", "a.bx", "x.y.z", "q.b.c", "a", "b"})
	x := newURIIndex[pat]()
	for _, p := range pats[4:] {
		x.put(p.match, p.pattern, p)
	}
	if got, _ := x.best("a.b.c"); got.pattern != "a.b." {
		t.Fatalf("best wildcard for a.b.c is %q, want a.b. (concrete first)", got.pattern)
	}
}

var fuzzComponents = []string{"a", "b", "c", ""}

func uriFrom(data []byte, allowEmpty bool) spec.URI {
	if len(data) == 0 {
		return "a"
	}
	n := int(data[0]%4) + 1
	comps := make([]string, 0, n)
	for i := 0; i < n; i++ {
		c := "a"
		if i+1 < len(data) {
			c = fuzzComponents[int(data[i+1])%len(fuzzComponents)]
		}
		if c == "" && !allowEmpty {
			c = "b"
		}
		comps = append(comps, c)
	}
	return spec.URI(strings.Join(comps, "."))
}

// FuzzIndex is the differential test of the index against the naive
// matcher: random pattern sets and URIs must give the same matches and the
// same best match.
func FuzzIndex(f *testing.F) {
	f.Add([]byte{3, 0, 1, 2, 1, 0, 3, 2, 1, 2, 3, 0, 1, 1, 2})
	f.Add([]byte{0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		seen := map[pat]bool{}
		var pats []pat
		for i := 0; i+5 <= len(data) && len(pats) < 32; i += 5 {
			match := [3]string{spec.MatchExact, spec.MatchPrefix, spec.MatchWildcard}[data[i]%3]
			p := pat{match, uriFrom(data[i+1:i+5], match == spec.MatchWildcard)}
			if !seen[p] {
				seen[p] = true
				pats = append(pats, p)
			}
		}
		var uris []spec.URI
		for i := 0; i+4 <= len(data); i += 4 {
			uris = append(uris, uriFrom(data[i:i+4], false))
		}
		checkIndex(t, pats, uris)
	})
}

func benchIndex(b *testing.B, n int, match string) {
	x := newURIIndex[int]()
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		var p string
		switch match {
		case spec.MatchPrefix:
			p = "com.example." + strconv.Itoa(r.IntN(n*10)) + "."
		case spec.MatchWildcard:
			p = "com." + strconv.Itoa(r.IntN(n*10)) + "..event"
		default:
			p = "com.example." + strconv.Itoa(i) + ".event"
		}
		x.put(match, spec.URI(p), i)
	}
	uri := spec.URI("com.example." + strconv.Itoa(n/2) + ".event")
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	for i := 0; i < b.N; i++ {
		x.matchAll(uri, func(int) { hits++ })
		x.best(uri)
	}
}

func BenchmarkIndex(b *testing.B) {
	for _, match := range []string{spec.MatchExact, spec.MatchPrefix, spec.MatchWildcard} {
		for _, n := range []int{10, 1000, 100000} {
			b.Run(match+"/"+strconv.Itoa(n), func(b *testing.B) { benchIndex(b, n, match) })
		}
	}
}
