package auth

import (
	"net/url"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/spec"
)

// HTTPAPI is a realm's HTTP bridge configuration (the realm's "http_api"
// key): who may publish and call over HTTP, which webhooks come in and go
// out, and the limits. The bridge package serves it; it is parsed here so
// that a mistake is reported with the file's line like every other key.
//
//	http_api:
//	  enabled: true
//	  anonymous: false       # requests without credentials act as the realm's anonymous role
//	  tokens:     [{token_hash | token, authid, role}]
//	  signatures: [{key, secret, authid, role}]
//	  webhooks_in:  [{name, topic, secret?, headers?: [names]}]
//	  webhooks_out: [{topic, match?, url, timeout?, queue?, retries?}]
//	  limits: {max_body, timeout, per_client_concurrency}
type HTTPAPI struct {
	Enabled bool
	// Anonymous serves requests that carry no credentials as the realm's
	// anonymous role (the realm must admit anonymous sessions).
	Anonymous   bool
	Tokens      []HTTPToken
	Signatures  []HTTPSignatureKey
	WebhooksIn  []WebhookIn
	WebhooksOut []WebhookOut
	Limits      HTTPLimits
}

// HTTPToken is a bearer token and the principal it stands for. The token
// is stored like a ticket: preferably hashed ("$sha256$..." for random
// machine tokens, "$argon2id$..." for chosen ones).
type HTTPToken struct {
	Secret   *TicketSecret
	AuthID   string
	AuthRole string
}

// HTTPSignatureKey is a key for Crossbar-style signed requests: the
// request names the key, and its HMAC-SHA256 proves knowledge of Secret
// (which, being an HMAC key, is stored as is).
type HTTPSignatureKey struct {
	Key      string
	Secret   string
	AuthID   string
	AuthRole string
}

// WebhookIn publishes the requests made to POST /webhook/{Name} to Topic.
type WebhookIn struct {
	Name  string
	Topic spec.URI
	// Secret, when set, is the key of the GitHub-style X-Hub-Signature-256
	// header every request must carry.
	Secret string
	// Headers are the request headers passed on in the event's kwargs.
	Headers []string
}

// WebhookOut forwards the events of a subscription as HTTP POSTs to URL.
type WebhookOut struct {
	Topic   spec.URI
	Match   string // exact (default), prefix or wildcard
	URL     string
	Timeout time.Duration // per attempt; default 10s
	Queue   int           // events waiting per hook; default 1000
	Retries int           // attempts after the first, for 5xx and network errors; default 3
}

// HTTPLimits bound what one HTTP request may cost. Zero means the default.
type HTTPLimits struct {
	MaxBody              int64         // bytes; default 1 MiB
	Timeout              time.Duration // reading the body and the call; default 30s
	PerClientConcurrency int           // requests at once per client address; default 16
}

func (d *yamlDec) httpAPI(n *yaml.Node, path string, roleKnown func(*yaml.Node, string, string)) *HTTPAPI {
	m, ok := d.mapping(n, path, "enabled", "anonymous", "tokens", "signatures", "webhooks_in", "webhooks_out", "limits")
	if !ok {
		return nil
	}
	h := &HTTPAPI{Enabled: true}
	if v, ok := m["enabled"]; ok {
		h.Enabled, _ = d.boolean(v, path+".enabled")
	}
	if v, ok := m["anonymous"]; ok {
		h.Anonymous, _ = d.boolean(v, path+".anonymous")
	}
	principal := func(im map[string]*yaml.Node, it *yaml.Node, p string) (authid, role string) {
		if v, ok := im["authid"]; ok {
			authid, _ = d.str(v, p+".authid")
		} else {
			d.errorf(it, p+".authid", "required")
		}
		if v, ok := im["role"]; ok {
			role, _ = d.str(v, p+".role")
			roleKnown(v, p+".role", role)
		} else {
			d.errorf(it, p+".role", "required")
		}
		return authid, role
	}
	required := func(im map[string]*yaml.Node, it *yaml.Node, p, key string) string {
		v, ok := im[key]
		if !ok {
			d.errorf(it, p+"."+key, "required")
			return ""
		}
		s, _ := d.str(v, p+"."+key)
		if s == "" {
			d.errorf(v, p+"."+key, "must not be empty")
		}
		return s
	}
	if v, ok := m["tokens"]; ok {
		items, _ := d.seq(v, path+".tokens")
		for i, it := range items {
			p := indexPath(path+".tokens", i)
			im, ok := d.mapping(it, p, "token", "token_hash", "authid", "role")
			if !ok {
				continue
			}
			var t HTTPToken
			t.AuthID, t.AuthRole = principal(im, it, p)
			tv, hasToken := im["token"]
			hv, hasHash := im["token_hash"]
			switch {
			case hasToken && hasHash:
				d.errorf(hv, p+".token_hash", "give token or token_hash, not both")
			case hasToken:
				if s, ok := d.str(tv, p+".token"); ok && s != "" {
					t.Secret = PlainTicket(s)
				} else if ok {
					d.errorf(tv, p+".token", "must not be empty")
				}
			case hasHash:
				if s, ok := d.str(hv, p+".token_hash"); ok {
					sec, err := ParseTicketHash(s)
					if err != nil {
						d.errorf(hv, p+".token_hash", "%v", err)
					}
					t.Secret = sec
				}
			default:
				d.errorf(it, p+".token_hash", "required (or token)")
			}
			h.Tokens = append(h.Tokens, t)
		}
	}
	if v, ok := m["signatures"]; ok {
		items, _ := d.seq(v, path+".signatures")
		seen := map[string]bool{}
		for i, it := range items {
			p := indexPath(path+".signatures", i)
			im, ok := d.mapping(it, p, "key", "secret", "authid", "role")
			if !ok {
				continue
			}
			var k HTTPSignatureKey
			k.Key = required(im, it, p, "key")
			k.Secret = required(im, it, p, "secret")
			k.AuthID, k.AuthRole = principal(im, it, p)
			if seen[k.Key] {
				d.errorf(it, p+".key", "key %q appears twice", k.Key)
			}
			seen[k.Key] = true
			h.Signatures = append(h.Signatures, k)
		}
	}
	if v, ok := m["webhooks_in"]; ok {
		items, _ := d.seq(v, path+".webhooks_in")
		seen := map[string]bool{}
		for i, it := range items {
			p := indexPath(path+".webhooks_in", i)
			im, ok := d.mapping(it, p, "name", "topic", "secret", "headers")
			if !ok {
				continue
			}
			var w WebhookIn
			w.Name = required(im, it, p, "name")
			if w.Name != "" && (strings.ContainsAny(w.Name, "/?#%") || url.PathEscape(w.Name) != w.Name) {
				d.errorf(im["name"], p+".name", "%q must be usable as one URL path segment", w.Name)
			}
			if seen[w.Name] {
				d.errorf(it, p+".name", "webhook %q appears twice", w.Name)
			}
			seen[w.Name] = true
			w.Topic = spec.URI(required(im, it, p, "topic"))
			if w.Topic != "" && !spec.ValidURI(w.Topic, spec.Loose, spec.MatchExact) {
				d.errorf(im["topic"], p+".topic", "%q is not a valid topic URI", w.Topic)
			}
			if sv, ok := im["secret"]; ok {
				w.Secret, _ = d.str(sv, p+".secret")
			}
			if hv, ok := im["headers"]; ok {
				w.Headers, _ = d.strList(hv, p+".headers")
			}
			h.WebhooksIn = append(h.WebhooksIn, w)
		}
	}
	if v, ok := m["webhooks_out"]; ok {
		items, _ := d.seq(v, path+".webhooks_out")
		for i, it := range items {
			p := indexPath(path+".webhooks_out", i)
			im, ok := d.mapping(it, p, "topic", "match", "url", "timeout", "queue", "retries")
			if !ok {
				continue
			}
			w := WebhookOut{Match: spec.MatchExact, Timeout: 10 * time.Second, Queue: 1000, Retries: 3}
			if mv, ok := im["match"]; ok {
				w.Match, _ = d.str(mv, p+".match")
				switch w.Match {
				case spec.MatchExact, spec.MatchPrefix, spec.MatchWildcard:
				default:
					d.errorf(mv, p+".match", "%q is not exact, prefix or wildcard", w.Match)
				}
			}
			w.Topic = spec.URI(required(im, it, p, "topic"))
			if w.Topic != "" && !spec.ValidURI(w.Topic, spec.Loose, w.Match) {
				d.errorf(im["topic"], p+".topic", "%q is not a valid %s topic", w.Topic, w.Match)
			}
			w.URL = required(im, it, p, "url")
			if u, err := url.Parse(w.URL); w.URL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
				d.errorf(im["url"], p+".url", "want an http:// or https:// URL")
			}
			if tv, ok := im["timeout"]; ok {
				w.Timeout, _ = d.duration(tv, p+".timeout")
			}
			if qv, ok := im["queue"]; ok {
				w.Queue, _ = d.intIn(qv, p+".queue", 1, 1_000_000)
			}
			if rv, ok := im["retries"]; ok {
				w.Retries, _ = d.intIn(rv, p+".retries", 0, 100)
			}
			h.WebhooksOut = append(h.WebhooksOut, w)
		}
	}
	if v, ok := m["limits"]; ok {
		p := path + ".limits"
		if lm, ok := d.mapping(v, p, "max_body", "timeout", "per_client_concurrency"); ok {
			if bv, ok := lm["max_body"]; ok {
				n, _ := d.intIn(bv, p+".max_body", 1, 1<<30)
				h.Limits.MaxBody = int64(n)
			}
			if tv, ok := lm["timeout"]; ok {
				h.Limits.Timeout, _ = d.duration(tv, p+".timeout")
			}
			if cv, ok := lm["per_client_concurrency"]; ok {
				h.Limits.PerClientConcurrency, _ = d.intIn(cv, p+".per_client_concurrency", 1, 1_000_000)
			}
		}
	}
	return h
}
