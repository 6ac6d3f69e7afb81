package spec

import (
	"unicode"
	"unicode/utf8"
)

// URI validation without regexp: a URI is checked on every SUBSCRIBE,
// REGISTER, PUBLISH and CALL, so the check walks the string once.
//
// Loose rules (the spec's MUST): components are separated by '.', contain no
// '.', '#' or whitespace (ASCII or Unicode, as the spec's \s means), and are
// non-empty. Strict rules (SHOULD): components use only [0-9a-z_]. Patterns
// relax the non-empty rule: a wildcard pattern may have any empty component,
// a prefix pattern may end in an empty one.

// URIRule selects loose or strict component rules.
type URIRule uint8

const (
	// Loose allows any character but '.', '#' and whitespace in components.
	Loose URIRule = iota
	// Strict allows only [0-9a-z_] in components.
	Strict
)

// ValidURI reports whether u is a valid URI for the given match policy
// ("" or "exact", "prefix", "wildcard") under rule. An unknown policy is
// never valid.
func ValidURI(u URI, rule URIRule, match string) bool {
	var emptyOK func(i, n int) bool
	switch match {
	case "", MatchExact:
		emptyOK = func(int, int) bool { return false }
	case MatchPrefix:
		// The last component may be empty ("com.example." matches by prefix),
		// but the URI as a whole may not.
		emptyOK = func(i, n int) bool { return i == n-1 && n > 1 }
	case MatchWildcard:
		emptyOK = func(int, int) bool { return true }
	default:
		return false
	}
	s := string(u)
	if s == "" {
		return match == MatchWildcard || match == MatchPrefix
	}
	n := 1
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			n++
		}
	}
	comp, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			if c := s[i]; c >= utf8.RuneSelf && rule == Loose {
				// Whitespace is not only ASCII: U+00A0, U+2028, U+3000...
				// are whitespace to the spec's \s (and to autobahn).
				r, size := utf8.DecodeRuneInString(s[i:])
				if unicode.IsSpace(r) {
					return false
				}
				i += size - 1
				continue
			}
			if !validURIByte(s[i], rule) {
				return false
			}
			continue
		}
		if i == start && !emptyOK(comp, n) {
			return false
		}
		comp++
		start = i + 1
	}
	return true
}

func validURIByte(c byte, rule URIRule) bool {
	if rule == Strict {
		return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'
	}
	switch c {
	case '#', ' ', '\t', '\n', '\r', '\v', '\f':
		return false
	}
	return true
}

// IsReservedURI reports whether u lies in the router's own "wamp." namespace,
// which application sessions may not register or publish into.
func IsReservedURI(u URI) bool {
	return len(u) >= 5 && u[:5] == "wamp."
}
