package router

import (
	"strings"

	"github.com/switchyard/switchyard/spec"
)

// uriIndex finds the entries whose URI pattern matches a concrete URI,
// without scanning all patterns:
//
//   - exact patterns live in a map;
//   - prefix patterns live in a byte trie walked along the URI, so a lookup
//     costs O(len(uri)) however many prefixes exist (the spec's prefix match
//     is a string prefix: "a.b" matches "a.b-c");
//   - wildcard patterns live in a component trie with a separate child for
//     the empty (wildcard) component; a lookup follows at most the concrete
//     and the wildcard branch at each level.
//
// The zero value is not ready; use newURIIndex. Not safe for concurrent
// mutation: the broker and dealer guard it with their RWMutex.
type uriIndex[V any] struct {
	exact    map[spec.URI]V
	prefix   *prefixNode[V]
	wildcard *wildNode[V]
	n        int
}

type prefixNode[V any] struct {
	children map[byte]*prefixNode[V]
	value    V
	has      bool
}

type wildNode[V any] struct {
	children map[string]*wildNode[V]
	any      *wildNode[V] // the empty component
	value    V
	has      bool
}

func newURIIndex[V any]() *uriIndex[V] {
	return &uriIndex[V]{
		exact:    make(map[spec.URI]V),
		prefix:   &prefixNode[V]{},
		wildcard: &wildNode[V]{},
	}
}

// Len returns the number of patterns in the index.
func (x *uriIndex[V]) Len() int { return x.n }

// get returns the entry stored for exactly this (match, pattern).
func (x *uriIndex[V]) get(match string, pattern spec.URI) (V, bool) {
	switch match {
	case spec.MatchPrefix:
		n := x.prefix
		for i := 0; i < len(pattern) && n != nil; i++ {
			n = n.children[pattern[i]]
		}
		if n != nil && n.has {
			return n.value, true
		}
	case spec.MatchWildcard:
		n := x.wildcard
		for _, c := range strings.Split(string(pattern), ".") {
			if n == nil {
				break
			}
			if c == "" {
				n = n.any
			} else {
				n = n.children[c]
			}
		}
		if n != nil && n.has {
			return n.value, true
		}
	default:
		v, ok := x.exact[pattern]
		return v, ok
	}
	var zero V
	return zero, false
}

// put stores v for (match, pattern), replacing any entry.
func (x *uriIndex[V]) put(match string, pattern spec.URI, v V) {
	if _, ok := x.get(match, pattern); !ok {
		x.n++
	}
	switch match {
	case spec.MatchPrefix:
		n := x.prefix
		for i := 0; i < len(pattern); i++ {
			if n.children == nil {
				n.children = make(map[byte]*prefixNode[V])
			}
			next := n.children[pattern[i]]
			if next == nil {
				next = &prefixNode[V]{}
				n.children[pattern[i]] = next
			}
			n = next
		}
		n.value, n.has = v, true
	case spec.MatchWildcard:
		n := x.wildcard
		for _, c := range strings.Split(string(pattern), ".") {
			var next *wildNode[V]
			if c == "" {
				if n.any == nil {
					n.any = &wildNode[V]{}
				}
				next = n.any
			} else {
				if n.children == nil {
					n.children = make(map[string]*wildNode[V])
				}
				next = n.children[c]
				if next == nil {
					next = &wildNode[V]{}
					n.children[c] = next
				}
			}
			n = next
		}
		n.value, n.has = v, true
	default:
		x.exact[pattern] = v
	}
}

// remove deletes the entry for (match, pattern) and prunes empty nodes.
func (x *uriIndex[V]) remove(match string, pattern spec.URI) {
	if _, ok := x.get(match, pattern); !ok {
		return
	}
	x.n--
	switch match {
	case spec.MatchPrefix:
		removePrefix(x.prefix, string(pattern))
	case spec.MatchWildcard:
		removeWild(x.wildcard, strings.Split(string(pattern), "."))
	default:
		delete(x.exact, pattern)
	}
}

// removePrefix clears the value at path below n and reports whether n is
// now empty and can be dropped by its parent.
func removePrefix[V any](n *prefixNode[V], path string) bool {
	if path == "" {
		var zero V
		n.value, n.has = zero, false
	} else if child := n.children[path[0]]; child != nil && removePrefix(child, path[1:]) {
		delete(n.children, path[0])
	}
	return !n.has && len(n.children) == 0
}

func removeWild[V any](n *wildNode[V], comps []string) bool {
	if len(comps) == 0 {
		var zero V
		n.value, n.has = zero, false
	} else if comps[0] == "" {
		if n.any != nil && removeWild(n.any, comps[1:]) {
			n.any = nil
		}
	} else if child := n.children[comps[0]]; child != nil && removeWild(child, comps[1:]) {
		delete(n.children, comps[0])
	}
	return !n.has && len(n.children) == 0 && n.any == nil
}

// matchAll calls fn for every entry whose pattern matches uri: the exact
// entry, every prefix entry, every wildcard entry. The broker delivers one
// event per matching subscription.
func (x *uriIndex[V]) matchAll(uri spec.URI, fn func(V)) {
	if v, ok := x.exact[uri]; ok {
		fn(v)
	}
	n := x.prefix
	for i := 0; ; i++ {
		if n.has {
			fn(n.value)
		}
		if i == len(uri) || n.children == nil {
			break
		}
		if n = n.children[uri[i]]; n == nil {
			break
		}
	}
	if x.wildcard.children != nil || x.wildcard.any != nil {
		matchWild(x.wildcard, string(uri), fn)
	}
}

func matchWild[V any](n *wildNode[V], rest string, fn func(V)) {
	comp, tail, more := strings.Cut(rest, ".")
	if child := n.children[comp]; child != nil {
		if more {
			matchWild(child, tail, fn)
		} else if child.has {
			fn(child.value)
		}
	}
	if n.any != nil {
		if more {
			matchWild(n.any, tail, fn)
		} else if n.any.has {
			fn(n.any.value)
		}
	}
}

// best returns the one entry the dealer routes a call to: the exact match,
// else the longest prefix match, else the wildcard match whose concrete
// components come earliest (a concrete component beats a wildcard at the
// first position where candidates differ).
func (x *uriIndex[V]) best(uri spec.URI) (V, bool) {
	if v, ok := x.exact[uri]; ok {
		return v, true
	}
	var found V
	var ok bool
	n := x.prefix
	for i := 0; ; i++ {
		if n.has {
			found, ok = n.value, true
		}
		if i == len(uri) || n.children == nil {
			break
		}
		if n = n.children[uri[i]]; n == nil {
			break
		}
	}
	if ok {
		return found, true
	}
	return bestWild(x.wildcard, string(uri))
}

func bestWild[V any](n *wildNode[V], rest string) (V, bool) {
	comp, tail, more := strings.Cut(rest, ".")
	for _, child := range [2]*wildNode[V]{n.children[comp], n.any} {
		if child == nil {
			continue
		}
		if !more {
			if child.has {
				return child.value, true
			}
			continue
		}
		if v, ok := bestWild(child, tail); ok {
			return v, true
		}
	}
	var zero V
	return zero, false
}

// each calls fn for every entry with its match policy and pattern, for the
// meta API's list procedures.
func (x *uriIndex[V]) each(fn func(match string, pattern spec.URI, v V)) {
	for u, v := range x.exact {
		fn(spec.MatchExact, u, v)
	}
	var walkPrefix func(n *prefixNode[V], path []byte)
	walkPrefix = func(n *prefixNode[V], path []byte) {
		if n.has {
			fn(spec.MatchPrefix, spec.URI(path), n.value)
		}
		for b, child := range n.children {
			walkPrefix(child, append(path, b))
		}
	}
	walkPrefix(x.prefix, nil)
	var walkWild func(n *wildNode[V], comps []string)
	walkWild = func(n *wildNode[V], comps []string) {
		if n.has && len(comps) > 0 {
			fn(spec.MatchWildcard, spec.URI(strings.Join(comps, ".")), n.value)
		}
		for c, child := range n.children {
			walkWild(child, append(comps, c))
		}
		if n.any != nil {
			walkWild(n.any, append(comps, ""))
		}
	}
	walkWild(x.wildcard, nil)
}
