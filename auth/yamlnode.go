package auth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The config file is decoded from yaml.v3's node tree by hand rather than
// with struct tags: every error can then name the file, the line and the
// path of the offending field ("config.yaml:12: realms[0].roles[1].
// permissions[0].match: ..."), unknown keys are errors, and values are
// checked as they are read.

// ConfigError is one problem in a config file. ParseConfig returns them
// joined with errors.Join, so errors.As finds the first and the message has
// one problem per line.
type ConfigError struct {
	File string
	Line int // 0 when the problem has no single place
	Path string
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Bounds on what a config document may make the decoder do.
const (
	maxConfigErrors = 25
	maxConfigNodes  = 200_000 // also stops alias bombs ("billion laughs")
	maxConfigSize   = 16 << 20
)

var errTooManyNodes = errors.New("too many nodes")

type yamlDec struct {
	file  string
	errs  []error
	nodes int
}

func (d *yamlDec) errorf(n *yaml.Node, path, format string, args ...any) {
	if len(d.errs) >= maxConfigErrors {
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &ConfigError{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
	if len(d.errs) == maxConfigErrors {
		d.errs = append(d.errs, &ConfigError{File: d.file, Msg: "too many errors, stopping"})
	}
}

// resolve follows aliases and counts nodes visited.
func (d *yamlDec) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	d.nodes++
	if d.nodes > maxConfigNodes {
		panic(errTooManyNodes)
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// mapping returns the value nodes of a mapping by key. Keys not in allowed
// and duplicate keys are reported; ok is false if n is not a mapping.
func (d *yamlDec) mapping(n *yaml.Node, path string, allowed ...string) (map[string]*yaml.Node, bool) {
	n = d.resolve(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", kindName(n))
		return nil, false
	}
	m := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.resolve(n.Content[i]), n.Content[i+1]
		kp := joinPath(path, k.Value)
		switch {
		case k.Kind != yaml.ScalarNode:
			d.errorf(k, path, "keys must be plain names")
			continue
		case k.Value == "<<" && k.ShortTag() == "!!merge":
			d.errorf(k, path, "merge keys (<<) are not supported; repeat the fields")
			continue
		case allowed != nil && !slices.Contains(allowed, k.Value):
			d.errorf(k, kp, "unknown key (known: %s)", strings.Join(allowed, ", "))
			continue
		}
		if _, dup := m[k.Value]; dup {
			d.errorf(k, kp, "key appears twice")
			continue
		}
		m[k.Value] = v
	}
	return m, true
}

// pairs returns a mapping's keys and values in document order.
func (d *yamlDec) pairs(n *yaml.Node, path string) (keys []*yaml.Node, vals []*yaml.Node, ok bool) {
	n = d.resolve(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", kindName(n))
		return nil, nil, false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be plain names")
			continue
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			d.errorf(k, path, "merge keys (<<) are not supported; repeat the fields")
			continue
		}
		if seen[k.Value] {
			d.errorf(k, joinPath(path, k.Value), "key appears twice")
			continue
		}
		seen[k.Value] = true
		keys = append(keys, k)
		vals = append(vals, n.Content[i+1])
	}
	return keys, vals, true
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// seq returns a sequence's items.
func (d *yamlDec) seq(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	n = d.resolve(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "want a list, got %s", kindName(n))
		return nil, false
	}
	return n.Content, true
}

// str reads a scalar as text, as written. Numbers and booleans are accepted
// as their literal text (a ticket of 12345 is the string "12345"); empty or
// null values are errors.
func (d *yamlDec) str(n *yaml.Node, path string) (string, bool) {
	n = d.resolve(n)
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want a string, got %s", kindName(n))
		return "", false
	}
	if n.ShortTag() == "!!null" || n.Value == "" {
		d.errorf(n, path, "must not be empty")
		return "", false
	}
	return n.Value, true
}

// strList reads a list of strings; a single string counts as a list of one.
func (d *yamlDec) strList(n *yaml.Node, path string) ([]string, bool) {
	r := d.resolve(n)
	if r.Kind == yaml.ScalarNode && r.ShortTag() != "!!null" {
		s, ok := d.str(r, path)
		return []string{s}, ok
	}
	items, ok := d.seq(r, path)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		s, ok2 := d.str(it, indexPath(path, i))
		if ok2 {
			out = append(out, s)
		}
		ok = ok && ok2
	}
	return out, ok
}

func (d *yamlDec) integer(n *yaml.Node, path string) (int64, bool) {
	n = d.resolve(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		if v, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return v, true
		}
	}
	d.errorf(n, path, "want an integer, got %s", kindName(n))
	return 0, false
}

// intIn reads an integer in [lo, hi].
func (d *yamlDec) intIn(n *yaml.Node, path string, lo, hi int64) (int, bool) {
	v, ok := d.integer(n, path)
	if !ok {
		return 0, false
	}
	if v < lo || v > hi {
		d.errorf(n, path, "%d is out of range [%d, %d]", v, lo, hi)
		return 0, false
	}
	return int(v), true
}

func (d *yamlDec) boolean(n *yaml.Node, path string) (bool, bool) {
	n = d.resolve(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		if v, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
			return v, true
		}
	}
	d.errorf(n, path, "want true or false, got %s", kindName(n))
	return false, false
}

// duration reads a Go duration ("30s", "5m", "1h30m"); 0 is accepted bare.
func (d *yamlDec) duration(n *yaml.Node, path string) (time.Duration, bool) {
	n = d.resolve(n)
	if n.Kind == yaml.ScalarNode {
		if n.Value == "0" {
			return 0, true
		}
		if v, err := time.ParseDuration(n.Value); err == nil {
			if v < 0 {
				d.errorf(n, path, "must not be negative")
				return 0, false
			}
			return v, true
		}
	}
	d.errorf(n, path, `want a duration such as "30s" or "5m", got %s`, kindName(n))
	return 0, false
}

// value converts any node to the WAMP value model (spec.Dict values): nil,
// bool, int64 (uint64 above the int64 range), float64, string, []byte
// (!!binary), []any, map[string]any.
func (d *yamlDec) value(n *yaml.Node, path string) (any, bool) {
	n = d.resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		keys, vals, ok := d.pairs(n, path)
		m := make(map[string]any, len(keys))
		for i, k := range keys {
			v, ok2 := d.value(vals[i], joinPath(path, k.Value))
			m[k.Value] = v
			ok = ok && ok2
		}
		return m, ok
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		ok := true
		for i, it := range n.Content {
			v, ok2 := d.value(it, indexPath(path, i))
			l = append(l, v)
			ok = ok && ok2
		}
		return l, ok
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, true
		case "!!bool":
			return d.boolean(n, path)
		case "!!int":
			if v, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
				return v, true
			}
			if v, err := strconv.ParseUint(n.Value, 0, 64); err == nil {
				return v, true
			}
			d.errorf(n, path, "%q is not a 64-bit integer", n.Value)
			return nil, false
		case "!!float":
			switch strings.ToLower(strings.TrimPrefix(n.Value, "+")) {
			case ".inf":
				return math.Inf(1), true
			case "-.inf":
				return math.Inf(-1), true
			case ".nan":
				return math.NaN(), true
			}
			if v, err := strconv.ParseFloat(n.Value, 64); err == nil {
				return v, true
			}
			d.errorf(n, path, "bad number %q", n.Value)
			return nil, false
		case "!!binary":
			b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), ""))
			if err != nil {
				d.errorf(n, path, "!!binary value is not base64")
				return nil, false
			}
			return b, true
		}
		return n.Value, true
	}
	d.errorf(n, path, "unsupported YAML node")
	return nil, false
}

// yamlLineRE finds the line number yaml.v3 puts in its syntax errors.
var yamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

// syntaxError turns a yaml.v3 error into a ConfigError with the line.
func syntaxError(file string, err error) error {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if m[1] != "" {
			line, _ = strconv.Atoi(m[1])
		}
		msg = msg[len(m[0]):]
	}
	return &ConfigError{File: file, Line: line, Msg: "YAML syntax: " + msg}
}
