package auth

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	pathpkg "path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/spec"
)

// LoadConfig reads and validates a config file.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("auth: config: %w", err)
	}
	if len(data) > maxConfigSize {
		return nil, &ConfigError{File: path, Msg: fmt.Sprintf("file is larger than %d MiB", maxConfigSize>>20)}
	}
	return ParseConfig(data, path)
}

// ParseConfig parses and validates a config document; name is used in error
// messages ("name:line: path: problem"). Everything is checked up front:
// unknown keys, types, URIs, roles referenced by principals, key encodings,
// hash formats, duplicate authids and keys. All problems found are returned
// together (up to 25), as *ConfigError values joined with errors.Join.
func ParseConfig(data []byte, name string) (cfg *Config, err error) {
	if len(data) > maxConfigSize {
		return nil, &ConfigError{File: name, Msg: fmt.Sprintf("document is larger than %d MiB", maxConfigSize>>20)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, syntaxError(name, err)
	}
	d := &yamlDec{file: name}
	defer func() {
		if p := recover(); p != nil {
			if p != errTooManyNodes {
				panic(p)
			}
			cfg, err = nil, &ConfigError{File: name, Msg: "document too large (too many nodes after alias expansion)"}
		}
	}()
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &ConfigError{File: name, Msg: "the document is empty"}
	}
	cfg = d.config(root.Content[0])
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	return cfg, nil
}

func (d *yamlDec) config(n *yaml.Node) *Config {
	c := &Config{}
	m, ok := d.mapping(n, "", "listeners", "realms", "console", "admin", "cluster")
	if !ok {
		return c
	}
	if v, ok := m["console"]; ok {
		if on, ok := d.boolean(v, "console"); ok {
			c.Console = &on
		}
	}
	if v, ok := m["admin"]; ok {
		if am, ok := d.mapping(v, "admin", "address", "token"); ok {
			c.Admin = &Admin{}
			if av, ok := am["address"]; ok {
				c.Admin.Address, _ = d.str(av, "admin.address")
			}
			if tv, ok := am["token"]; ok {
				c.Admin.Token, _ = d.str(tv, "admin.token")
			}
		}
	}
	if v, ok := m["cluster"]; ok {
		c.Cluster = d.cluster(v)
	}
	if v, ok := m["listeners"]; ok {
		items, _ := d.seq(v, "listeners")
		names := map[string]bool{}
		for i, it := range items {
			p := indexPath("listeners", i)
			l, ok := d.listener(it, p)
			if !ok {
				continue
			}
			if names[l.Name] {
				d.errorf(it, p+".name", "listener %q appears twice", l.Name)
			}
			names[l.Name] = true
			c.Listeners = append(c.Listeners, l)
		}
	}
	v, ok := m["realms"]
	if !ok {
		d.errorf(n, "realms", "at least one realm is required")
		return c
	}
	items, _ := d.seq(v, "realms")
	if len(items) == 0 {
		d.errorf(v, "realms", "at least one realm is required")
	}
	names := map[spec.URI]bool{}
	for i, it := range items {
		p := indexPath("realms", i)
		r := d.realm(it, p)
		if r == nil {
			continue
		}
		if names[r.Name] {
			d.errorf(it, p+".name", "realm %q appears twice", r.Name)
		}
		names[r.Name] = true
		c.Realms = append(c.Realms, r)
	}
	c.Warnings = d.warnings(c)
	return c
}

func (d *yamlDec) listener(n *yaml.Node, path string) (Listener, bool) {
	var l Listener
	m, ok := d.mapping(n, path, "name", "transport", "address", "tls", "auth", "allowed_origins")
	if !ok {
		return l, false
	}
	errs := len(d.errs)
	if v, ok := m["transport"]; ok {
		l.Transport, _ = d.str(v, path+".transport")
		switch l.Transport {
		case TransportWebSocket, TransportRawSocket, TransportUnix, TransportListen, "":
		default:
			d.errorf(v, path+".transport", "%q is not ws, rawsocket, unix or listen", l.Transport)
		}
	} else {
		d.errorf(n, path+".transport", "required (ws, rawsocket, unix or listen)")
	}
	if v, ok := m["address"]; ok {
		l.Address, _ = d.str(v, path+".address")
	} else {
		d.errorf(n, path+".address", "required")
	}
	l.Name = l.Address
	if v, ok := m["name"]; ok {
		l.Name, _ = d.str(v, path+".name")
	}
	if v, ok := m["tls"]; ok {
		tp := path + ".tls"
		if tm, ok := d.mapping(v, tp, "cert", "key", "client_ca"); ok {
			t := &ListenerTLS{}
			for _, f := range []struct {
				key string
				dst *string
			}{{"cert", &t.Cert}, {"key", &t.Key}, {"client_ca", &t.ClientCA}} {
				if fv, ok := tm[f.key]; ok {
					*f.dst, _ = d.str(fv, tp+"."+f.key)
				} else if f.key != "client_ca" {
					d.errorf(v, tp+"."+f.key, "required")
				}
			}
			l.TLS = t
		}
		if l.Transport == TransportUnix {
			d.errorf(v, path+".tls", "TLS on a unix socket listener is not supported")
		}
	}
	if v, ok := m["auth"]; ok {
		methods, _ := d.strList(v, path+".auth")
		l.Auth = []string{}
		for i, meth := range methods {
			if !slices.Contains(KnownMethods, meth) {
				d.errorf(v, indexPath(path+".auth", i), "unknown method %q (known: %s)", meth, strings.Join(KnownMethods, ", "))
			}
			l.Auth = append(l.Auth, meth)
		}
		if meth := MethodTLS; slices.Contains(l.Auth, meth) && l.TLS == nil {
			d.errorf(v, path+".auth", "method tls needs the listener to have tls")
		}
	}
	if v, ok := m["allowed_origins"]; ok {
		l.AllowedOrigins, _ = d.strList(v, path+".allowed_origins")
		for i, o := range l.AllowedOrigins {
			if _, err := pathpkg.Match(o, ""); err != nil {
				d.errorf(v, indexPath(path+".allowed_origins", i), "%q is not a valid origin pattern: %v", o, err)
			}
		}
		if l.Transport == TransportRawSocket || l.Transport == TransportUnix {
			d.errorf(v, path+".allowed_origins", "only WebSocket listeners (ws, listen) check the Origin header")
		}
	}
	return l, len(d.errs) == errs
}

func (d *yamlDec) realm(n *yaml.Node, path string) *RealmConfig {
	m, ok := d.mapping(n, path, "name", "anonymous", "roles", "principals", "dynamic", "http_api")
	if !ok {
		return nil
	}
	r := &RealmConfig{}
	if v, ok := m["name"]; ok {
		s, _ := d.str(v, path+".name")
		r.Name = spec.URI(s)
		if s != "" && !spec.ValidURI(r.Name, spec.Loose, spec.MatchExact) {
			d.errorf(v, path+".name", "%q is not a valid realm URI", s)
		}
	} else {
		d.errorf(n, path+".name", "required")
	}

	roleLines := map[string]bool{}
	if v, ok := m["roles"]; ok {
		items, _ := d.seq(v, path+".roles")
		for i, it := range items {
			p := indexPath(path+".roles", i)
			role, ok := d.role(it, p)
			if !ok {
				continue
			}
			if roleLines[role.Name] {
				d.errorf(it, p+".name", "role %q appears twice", role.Name)
				continue
			}
			roleLines[role.Name] = true
			r.Roles = append(r.Roles, role)
		}
	}
	roleKnown := func(v *yaml.Node, p, role string) {
		if role != "" && !roleLines[role] {
			d.errorf(v, p, "role %q is not defined in this realm's roles", role)
		}
	}

	if v, ok := m["anonymous"]; ok {
		p := path + ".anonymous"
		if am, ok := d.mapping(v, p, "role", "random_authid"); ok {
			a := &AnonymousOptions{}
			if rv, ok := am["role"]; ok {
				a.Role, _ = d.str(rv, p+".role")
				roleKnown(rv, p+".role", a.Role)
			} else {
				d.errorf(v, p+".role", "required")
			}
			if rv, ok := am["random_authid"]; ok {
				a.RandomAuthID, _ = d.boolean(rv, p+".random_authid")
			}
			r.Anonymous = a
		}
	}

	if v, ok := m["dynamic"]; ok {
		p := path + ".dynamic"
		keys, vals, _ := d.pairs(v, p)
		r.Dynamic = map[string]spec.URI{}
		for i, k := range keys {
			kp := joinPath(p, k.Value)
			switch k.Value {
			case MethodTicket, MethodWampCRA, MethodCryptosign:
			default:
				d.errorf(k, kp, "dynamic authentication is supported for ticket, wampcra and cryptosign")
				continue
			}
			s, ok := d.str(vals[i], kp)
			if ok && !spec.ValidURI(spec.URI(s), spec.Loose, spec.MatchExact) {
				d.errorf(vals[i], kp, "%q is not a valid procedure URI", s)
			}
			r.Dynamic[k.Value] = spec.URI(s)
		}
	}

	if v, ok := m["principals"]; ok {
		items, _ := d.seq(v, path+".principals")
		seenID := map[string]bool{}
		seenKey := map[string]string{}
		seenFP := map[string]string{}
		for i, it := range items {
			p := indexPath(path+".principals", i)
			pr, ok := d.principal(it, p, roleKnown)
			if !ok {
				continue
			}
			if seenID[pr.AuthID] {
				d.errorf(it, p+".authid", "authid %q appears twice", pr.AuthID)
				continue
			}
			seenID[pr.AuthID] = true
			for _, k := range pr.Cryptosign {
				hk := hex.EncodeToString(k)
				if other, dup := seenKey[hk]; dup {
					d.errorf(it, p+".cryptosign", "public key %s also belongs to %q", hk, other)
				}
				seenKey[hk] = pr.AuthID
			}
			for _, fp := range pr.TLSFingerprints {
				if other, dup := seenFP[fp]; dup {
					d.errorf(it, p+".tls", "fingerprint %s also belongs to %q", fp, other)
				}
				seenFP[fp] = pr.AuthID
			}
			for meth := range r.Dynamic {
				if hasCredential(&pr, meth) {
					d.errorf(it, p+"."+meth, "method %s is dynamic in this realm; static %s credentials would never be used", meth, meth)
				}
			}
			r.Principals = append(r.Principals, pr)
		}
	}
	if v, ok := m["http_api"]; ok {
		r.HTTPAPI = d.httpAPI(v, path+".http_api", roleKnown)
		if r.HTTPAPI != nil && r.HTTPAPI.Anonymous && m["anonymous"] == nil {
			d.errorf(v, path+".http_api.anonymous", "the realm admits no anonymous sessions (set the realm's anonymous key)")
		}
	}
	if idx, err := NewPrincipals(r.Principals); err == nil {
		r.index = idx
	} else if len(d.errs) == 0 {
		d.errorf(n, path+".principals", "%v", err)
	}
	if r.Anonymous == nil && len(r.Principals) == 0 && len(r.Dynamic) == 0 {
		d.errorf(n, path, "nobody can join: configure anonymous, principals or dynamic authentication")
	}
	return r
}

func hasCredential(pr *Principal, method string) bool {
	switch method {
	case MethodTicket:
		return pr.Ticket != nil
	case MethodWampCRA:
		return pr.WampCRA != nil
	case MethodCryptosign:
		return len(pr.Cryptosign) > 0
	}
	return false
}

var actionNames = []string{"call", "register", "publish", "subscribe"}
var discloseNames = []string{"caller", "publisher"}

func (d *yamlDec) role(n *yaml.Node, path string) (Role, bool) {
	var r Role
	m, ok := d.mapping(n, path, "name", "permissions", "authorizer", "cache_ttl")
	if !ok {
		return r, false
	}
	errs := len(d.errs)
	if v, ok := m["name"]; ok {
		r.Name, _ = d.str(v, path+".name")
	} else {
		d.errorf(n, path+".name", "required")
	}
	if v, ok := m["authorizer"]; ok {
		r.Authorizer, _ = d.str(v, path+".authorizer")
		if r.Authorizer != "" && !spec.ValidURI(spec.URI(r.Authorizer), spec.Loose, spec.MatchExact) {
			d.errorf(v, path+".authorizer", "%q is not a valid procedure URI", r.Authorizer)
		}
		if _, both := m["permissions"]; both {
			d.errorf(v, path+".authorizer", "a role has either permissions or an authorizer, not both")
		}
	}
	if v, ok := m["cache_ttl"]; ok {
		r.CacheTTL, _ = d.duration(v, path+".cache_ttl")
		if r.Authorizer == "" {
			d.errorf(v, path+".cache_ttl", "only applies to a role with an authorizer")
		}
	}
	if v, ok := m["permissions"]; ok {
		items, _ := d.seq(v, path+".permissions")
		seen := map[[2]string]bool{}
		for i, it := range items {
			p := indexPath(path+".permissions", i)
			perm, ok := d.permission(it, p)
			if !ok {
				continue
			}
			k := [2]string{perm.Match, perm.URI}
			if seen[k] {
				d.errorf(it, p+".uri", "%s pattern %q appears twice in this role", perm.Match, perm.URI)
			}
			seen[k] = true
			r.Permissions = append(r.Permissions, perm)
		}
	}
	return r, len(d.errs) == errs
}

func (d *yamlDec) permission(n *yaml.Node, path string) (Permission, bool) {
	var p Permission
	m, ok := d.mapping(n, path, "uri", "match", "allow", "disclose")
	if !ok {
		return p, false
	}
	errs := len(d.errs)
	p.Match = spec.MatchExact
	if v, ok := m["match"]; ok {
		p.Match, _ = d.str(v, path+".match")
		switch p.Match {
		case spec.MatchExact, spec.MatchPrefix, spec.MatchWildcard:
		default:
			d.errorf(v, path+".match", "%q is not exact, prefix or wildcard", p.Match)
		}
	}
	if v, ok := m["uri"]; ok {
		rv := d.resolve(v)
		// The empty prefix (every URI) is written uri: "".
		if rv.Kind == yaml.ScalarNode && rv.Value == "" && rv.ShortTag() == "!!str" {
			p.URI = ""
			if p.Match != spec.MatchPrefix {
				d.errorf(v, path+".uri", `the empty URI is only valid with match: prefix`)
			}
		} else if s, ok := d.str(v, path+".uri"); ok {
			p.URI = s
			if len(d.errs) == errs && !spec.ValidURI(spec.URI(s), spec.Loose, p.Match) {
				d.errorf(v, path+".uri", "%q is not a valid %s URI pattern", s, p.Match)
			}
		}
	} else {
		d.errorf(n, path+".uri", `required (use uri: "" with match: prefix for every URI)`)
	}
	if v, ok := m["allow"]; ok {
		set := d.flagSet(v, path+".allow", actionNames)
		p.Call, p.Register, p.Publish, p.Subscribe = set["call"], set["register"], set["publish"], set["subscribe"]
	}
	if v, ok := m["disclose"]; ok {
		set := d.flagSet(v, path+".disclose", discloseNames)
		p.DiscloseCaller, p.DisclosePublisher = set["caller"], set["publisher"]
	}
	if spec.IsReservedURI(spec.URI(p.URI)) && (p.Register || p.Publish) {
		d.errorf(n, path, "register and publish under \"wamp.\" are reserved for the router and always denied")
	}
	return p, len(d.errs) == errs
}

// flagSet reads either a list of names (allow: [call, subscribe]) or a
// mapping of names to booleans (allow: {call: true}, Crossbar's form).
func (d *yamlDec) flagSet(n *yaml.Node, path string, names []string) map[string]bool {
	set := map[string]bool{}
	r := d.resolve(n)
	if r.Kind == yaml.MappingNode {
		m, _ := d.mapping(r, path, names...)
		for k, v := range m {
			set[k], _ = d.boolean(v, joinPath(path, k))
		}
		return set
	}
	list, _ := d.strList(r, path)
	for i, s := range list {
		if !slices.Contains(names, s) {
			d.errorf(r, indexPath(path, i), "%q is not one of %s", s, strings.Join(names, ", "))
			continue
		}
		set[s] = true
	}
	return set
}

func (d *yamlDec) principal(n *yaml.Node, path string, roleKnown func(*yaml.Node, string, string)) (Principal, bool) {
	var pr Principal
	m, ok := d.mapping(n, path, "authid", "role", "extra", "ticket", "ticket_hash", "wampcra", "cryptosign", "scram", "tls")
	if !ok {
		return pr, false
	}
	errs := len(d.errs)
	if v, ok := m["authid"]; ok {
		pr.AuthID, _ = d.str(v, path+".authid")
	} else {
		d.errorf(n, path+".authid", "required")
	}
	if v, ok := m["role"]; ok {
		pr.Role, _ = d.str(v, path+".role")
		roleKnown(v, path+".role", pr.Role)
	} else {
		d.errorf(n, path+".role", "required")
	}
	if v, ok := m["extra"]; ok {
		if rv := d.resolve(v); rv.Kind != yaml.MappingNode {
			d.errorf(rv, path+".extra", "want a mapping, got %s", kindName(rv))
		} else if x, ok := d.value(rv, path+".extra"); ok {
			pr.Extra = x.(map[string]any)
		}
	}
	tv, hasTicket := m["ticket"]
	hv, hasHash := m["ticket_hash"]
	switch {
	case hasTicket && hasHash:
		d.errorf(hv, path+".ticket_hash", "give ticket or ticket_hash, not both")
	case hasTicket:
		if s, ok := d.str(tv, path+".ticket"); ok {
			pr.Ticket = PlainTicket(s)
		}
	case hasHash:
		if s, ok := d.str(hv, path+".ticket_hash"); ok {
			t, err := ParseTicketHash(s)
			if err != nil {
				d.errorf(hv, path+".ticket_hash", "%v", err)
			}
			pr.Ticket = t
		}
	}
	if v, ok := m["wampcra"]; ok {
		pr.WampCRA = d.wampcra(v, path+".wampcra")
	}
	if v, ok := m["cryptosign"]; ok {
		keys, _ := d.strList(v, path+".cryptosign")
		for i, k := range keys {
			pub, err := ParseCryptosignPublicKey(strings.ToLower(k))
			if err != nil {
				d.errorf(v, indexPath(path+".cryptosign", i), "%v", err)
				continue
			}
			if slices.ContainsFunc(pr.Cryptosign, func(x ed25519.PublicKey) bool { return x.Equal(pub) }) {
				d.errorf(v, indexPath(path+".cryptosign", i), "public key listed twice")
				continue
			}
			pr.Cryptosign = append(pr.Cryptosign, pub)
		}
	}
	if v, ok := m["scram"]; ok {
		pr.Scram = d.scram(v, path+".scram")
	}
	if v, ok := m["tls"]; ok {
		fps, _ := d.strList(v, path+".tls")
		for i, fp := range fps {
			nfp, err := NormalizeFingerprint(fp)
			if err != nil {
				d.errorf(v, indexPath(path+".tls", i), "%v", err)
				continue
			}
			pr.TLSFingerprints = append(pr.TLSFingerprints, nfp)
		}
	}
	if pr.Ticket == nil && pr.WampCRA == nil && len(pr.Cryptosign) == 0 && pr.Scram == nil && len(pr.TLSFingerprints) == 0 {
		if len(d.errs) == errs {
			d.errorf(n, path, "no credentials: give ticket, ticket_hash, wampcra, cryptosign, scram or tls (or use dynamic authentication)")
		}
	}
	return pr, len(d.errs) == errs
}

// wampcra reads a WAMP-CRA credential: a plain secret, or a mapping with
// secret or key, and salt, iterations and keylen for a salted one.
func (d *yamlDec) wampcra(n *yaml.Node, path string) *WampCRASecret {
	r := d.resolve(n)
	if r.Kind == yaml.ScalarNode {
		if s, ok := d.str(r, path); ok {
			return PlainWampCRA(s)
		}
		return nil
	}
	m, ok := d.mapping(r, path, "secret", "key", "salt", "iterations", "keylen")
	if !ok {
		return nil
	}
	errs := len(d.errs)
	sv, hasSecret := m["secret"]
	kv, hasKey := m["key"]
	var secret, key, salt string
	var iter, keylen int
	if hasSecret && hasKey {
		d.errorf(kv, path+".key", "give secret or key, not both")
		return nil
	}
	if hasSecret {
		secret, _ = d.str(sv, path+".secret")
	}
	if hasKey {
		key, _ = d.str(kv, path+".key")
	}
	_, salted := m["salt"]
	if !salted {
		for _, f := range []string{"iterations", "keylen"} {
			if v, ok := m[f]; ok {
				d.errorf(v, path+"."+f, "only applies with a salt")
			}
		}
		if hasKey {
			d.errorf(kv, path+".key", "a derived key needs salt, iterations and keylen")
		}
		if !hasSecret && !hasKey {
			d.errorf(r, path+".secret", "required")
		}
		if len(d.errs) > errs {
			return nil
		}
		return PlainWampCRA(secret)
	}
	salt, _ = d.str(m["salt"], path+".salt")
	for _, f := range []struct {
		key string
		dst *int
		hi  int64
	}{{"iterations", &iter, maxWampCRAIter}, {"keylen", &keylen, maxWampCRAKeyLen}} {
		if v, ok := m[f.key]; ok {
			*f.dst, _ = d.intIn(v, path+"."+f.key, 1, f.hi)
		} else {
			d.errorf(r, path+"."+f.key, "required with a salt")
		}
	}
	if !hasSecret && !hasKey {
		d.errorf(r, path+".key", "required: the derived key (or secret, the password)")
	}
	if len(d.errs) > errs {
		return nil
	}
	var s *WampCRASecret
	var err error
	if hasKey {
		s, err = DerivedWampCRA(key, salt, iter, keylen)
		if err != nil {
			d.errorf(kv, path+".key", "%v", err)
		}
	} else {
		s, err = SaltedWampCRA(secret, salt, iter, keylen)
		if err != nil {
			d.errorf(sv, path+".secret", "%v", err)
		}
	}
	return s
}

// scram reads a SCRAM credential (Crossbar's hyphenated key names are
// accepted too, so credentials from derive_scram_credential paste as is).
func (d *yamlDec) scram(n *yaml.Node, path string) *ScramCredential {
	m, ok := d.mapping(n, path, "kdf", "iterations", "memory", "salt", "stored_key", "server_key", "stored-key", "server-key")
	if !ok {
		return nil
	}
	errs := len(d.errs)
	for _, pair := range [][2]string{{"stored_key", "stored-key"}, {"server_key", "server-key"}} {
		if v, ok := m[pair[1]]; ok {
			if _, both := m[pair[0]]; both {
				d.errorf(v, path+"."+pair[1], "give %s or %s, not both", pair[0], pair[1])
			}
			m[pair[0]] = v
		}
	}
	c := &ScramCredential{}
	req := func(k string) *yaml.Node {
		v, ok := m[k]
		if !ok {
			d.errorf(n, path+"."+k, "required")
		}
		return v
	}
	if v := req("kdf"); v != nil {
		if s, ok := d.str(v, path+".kdf"); ok {
			kdf, err := ParseScramKDF(s)
			if err != nil {
				d.errorf(v, path+".kdf", "%q is not argon2id-13 or pbkdf2", s)
			}
			c.KDF = kdf
		}
	}
	if v := req("iterations"); v != nil {
		hi := int64(maxKDFIter)
		if c.KDF == KDFArgon2id {
			hi = maxArgon2Time
		}
		c.Iterations, _ = d.intIn(v, path+".iterations", 1, hi)
	}
	if v, ok := m["memory"]; ok {
		if c.KDF == KDFArgon2id {
			c.Memory, _ = d.intIn(v, path+".memory", 8, maxArgon2Memory)
		} else if rv := d.resolve(v); rv.ShortTag() != "!!null" {
			d.errorf(v, path+".memory", "only applies to argon2id-13")
		}
	} else if c.KDF == KDFArgon2id {
		d.errorf(n, path+".memory", "required for argon2id-13 (KiB)")
	}
	for _, f := range []struct {
		key  string
		dst  *[]byte
		size int
	}{{"salt", &c.Salt, 0}, {"stored_key", &c.StoredKey, 32}, {"server_key", &c.ServerKey, 32}} {
		v := req(f.key)
		if v == nil {
			continue
		}
		s, ok := d.str(v, path+"."+f.key)
		if !ok {
			continue
		}
		b, err := hex.DecodeString(s)
		switch {
		case err != nil:
			d.errorf(v, path+"."+f.key, "must be hex")
		case f.size > 0 && len(b) != f.size:
			d.errorf(v, path+"."+f.key, "must be %d bytes (%d hex digits), got %d bytes", f.size, 2*f.size, len(b))
		case f.size == 0 && len(b) < 8:
			d.errorf(v, path+"."+f.key, "must be at least 8 bytes")
		}
		*f.dst = b
	}
	if len(d.errs) > errs {
		return nil
	}
	return c
}

// warnings lists risky but valid choices.
func (d *yamlDec) warnings(c *Config) []string {
	var w []string
	for _, r := range c.Realms {
		for _, pr := range r.Principals {
			if pr.Ticket != nil && !pr.Ticket.Hashed() {
				w = append(w, fmt.Sprintf("realm %s: principal %q has a plain-text ticket; store ticket_hash instead (switchyard can hash it)", r.Name, pr.AuthID))
			}
			if pr.WampCRA != nil && !pr.WampCRA.Salted() {
				w = append(w, fmt.Sprintf("realm %s: principal %q has an unsalted WAMP-CRA secret in the file", r.Name, pr.AuthID))
			}
		}
		if r.HTTPAPI != nil {
			for _, t := range r.HTTPAPI.Tokens {
				if t.Secret != nil && !t.Secret.Hashed() {
					w = append(w, fmt.Sprintf("realm %s: HTTP token of %q is in plain text; store token_hash instead (switchyard derive ticket)", r.Name, t.AuthID))
				}
			}
		}
		usesTicket := r.Dynamic[MethodTicket] != "" || (r.index != nil && r.index.has(MethodTicket))
		for _, l := range c.Listeners {
			if usesTicket && l.TLS == nil && l.Transport != TransportUnix && l.AllowsMethod(MethodTicket) {
				w = append(w, fmt.Sprintf("listener %s: ticket authentication for realm %s without TLS sends tickets in clear text", l.Name, r.Name))
			}
		}
	}
	return w
}

// cluster reads the cluster section.
func (d *yamlDec) cluster(n *yaml.Node) *Cluster {
	m, ok := d.mapping(n, "cluster", "node", "listen", "routes", "nats", "nats_creds", "nats_ca", "nats_cert", "nats_key")
	if !ok {
		return nil
	}
	c := &Cluster{}
	for key, dst := range map[string]*string{"node": &c.Node, "listen": &c.Listen, "nats_creds": &c.NATSCreds,
		"nats_ca": &c.NATSCA, "nats_cert": &c.NATSCert, "nats_key": &c.NATSKey} {
		if v, ok := m[key]; ok {
			*dst, _ = d.str(v, "cluster."+key)
		}
	}
	if v, ok := m["routes"]; ok {
		c.Routes, _ = d.strList(v, "cluster.routes")
	}
	if v, ok := m["nats"]; ok {
		c.NATS, _ = d.strList(v, "cluster.nats")
	}
	if c.Listen != "" && len(c.NATS) > 0 {
		d.errorf(n, "cluster", "set either listen (embedded NATS) or nats (an external NATS cluster), not both")
	}
	if c.Listen == "" && len(c.NATS) == 0 {
		d.errorf(n, "cluster", "needs listen (embedded NATS) or nats (an external NATS cluster)")
	}
	return c
}
