package spec

import (
	"regexp"
	"strings"
	"testing"
)

func TestValidURI(t *testing.T) {
	type want struct{ exact, prefix, wildcard bool }
	cases := []struct {
		uri           string
		loose, strict want
	}{
		{"com.example.proc", want{true, true, true}, want{true, true, true}},
		{"a", want{true, true, true}, want{true, true, true}},
		{"com.Example.proc", want{true, true, true}, want{false, false, false}},
		{"com.ex-ample.$proc", want{true, true, true}, want{false, false, false}},
		{"com.例え.proc", want{true, true, true}, want{false, false, false}},
		{"", want{false, true, true}, want{false, true, true}},
		{"com.example.", want{false, true, true}, want{false, true, true}},
		{"com..proc", want{false, false, true}, want{false, false, true}},
		{".com.proc", want{false, false, true}, want{false, false, true}},
		{".", want{false, false, true}, want{false, false, true}},
		{"..", want{false, false, true}, want{false, false, true}},
		{"com.ex ample", want{false, false, false}, want{false, false, false}},
		{"com.ex\tample", want{false, false, false}, want{false, false, false}},
		{"com.ex\vample", want{false, false, false}, want{false, false, false}},
		{"com.ex\u00a0ample", want{false, false, false}, want{false, false, false}},
		{"com.ex\u2028ample", want{false, false, false}, want{false, false, false}},
		{"com.ex\u3000ample", want{false, false, false}, want{false, false, false}},
		{"com.ex#ample", want{false, false, false}, want{false, false, false}},
		{"com.#", want{false, false, false}, want{false, false, false}},
		{"wamp.session.get", want{true, true, true}, want{true, true, true}},
		{"1.2_3", want{true, true, true}, want{true, true, true}},
	}
	for _, c := range cases {
		for _, rc := range []struct {
			rule URIRule
			want want
		}{{Loose, c.loose}, {Strict, c.strict}} {
			for match, w := range map[string]bool{"": rc.want.exact, MatchExact: rc.want.exact, MatchPrefix: rc.want.prefix, MatchWildcard: rc.want.wildcard} {
				if got := ValidURI(URI(c.uri), rc.rule, match); got != w {
					t.Errorf("ValidURI(%q, rule %d, %q) = %v, want %v", c.uri, rc.rule, match, got, w)
				}
			}
		}
		if ValidURI(URI(c.uri), Loose, "fuzzy") {
			t.Errorf("ValidURI(%q) with unknown match policy is true", c.uri)
		}
	}
}

func TestIsReservedURI(t *testing.T) {
	for u, want := range map[URI]bool{"wamp.session.get": true, "wamp.": true, "wamp": false, "wampx.y": false, "com.wamp.x": false, "": false} {
		if got := IsReservedURI(u); got != want {
			t.Errorf("IsReservedURI(%q) = %v", u, got)
		}
	}
}

// The spec's regular expressions (WAMP-NOTES §5.1), the oracle for
// ValidURI. Go's \s lacks \v and Unicode whitespace, which the spec's
// (Python's) \s has, so it is spelt out: ASCII whitespace, NEL and \p{Z},
// exactly unicode.IsSpace.
var uriOracle = func() map[[2]string]*regexp.Regexp {
	ws := `\t\n\v\f\r\x{85}\p{Z}`
	loose := func(re string) *regexp.Regexp {
		return regexp.MustCompile(strings.ReplaceAll(re, `\s`, ws))
	}
	return map[[2]string]*regexp.Regexp{
		{"loose", MatchExact}:     loose(`^([^\s\.#]+\.)*([^\s\.#]+)$`),
		{"strict", MatchExact}:    regexp.MustCompile(`^([0-9a-z_]+\.)*([0-9a-z_]+)$`),
		{"loose", MatchWildcard}:  loose(`^(([^\s\.#]+\.)|\.)*([^\s\.#]+)?$`),
		{"strict", MatchWildcard}: regexp.MustCompile(`^(([0-9a-z_]+\.)|\.)*([0-9a-z_]+)?$`),
		{"loose", MatchPrefix}:    loose(`^([^\s\.#]+\.)*([^\s\.#]*)$`),
		{"strict", MatchPrefix}:   regexp.MustCompile(`^([\da-z_]+\.)*([\da-z_]*)$`),
	}
}()

func checkURIOracle(t *testing.T, uri string, strict bool, match string) {
	rule, name := Loose, "loose"
	if strict {
		rule, name = Strict, "strict"
	}
	want := uriOracle[[2]string{name, match}].MatchString(uri)
	if got := ValidURI(URI(uri), rule, match); got != want {
		t.Fatalf("ValidURI(%q, %s, %s) = %v, regexp says %v", uri, name, match, got, want)
	}
}

func TestValidURIMatchesRegexp(t *testing.T) {
	for _, u := range []string{"", ".", "..", "a", "a.", ".a", "a..b", "a.b.c", "A.b", "a b", "a\u00a0b", "a\x85b", "\xff.a", "a.\xc0", "#", "a.#"} {
		for _, strict := range []bool{false, true} {
			for _, m := range []string{MatchExact, MatchPrefix, MatchWildcard} {
				checkURIOracle(t, u, strict, m)
			}
		}
	}
}

func FuzzValidURI(f *testing.F) {
	for _, u := range []string{"com.example.proc", "", ".", "a..b", "com.example.", "a b", "a\u00a0b", "a\u2028", "Com.X", "a.#", "\xff"} {
		f.Add(u, false, uint8(0))
		f.Add(u, true, uint8(1))
		f.Add(u, false, uint8(2))
	}
	matches := []string{MatchExact, MatchPrefix, MatchWildcard}
	f.Fuzz(func(t *testing.T, uri string, strict bool, match uint8) {
		checkURIOracle(t, uri, strict, matches[int(match)%len(matches)])
	})
}
