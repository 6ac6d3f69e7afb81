package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func sha256TokenHash(salt, token string) string {
	h := sha256.Sum256([]byte(salt + token))
	return "$sha256$" + base64.StdEncoding.EncodeToString([]byte(salt)) + "$" + base64.StdEncoding.EncodeToString(h[:])
}

const httpRealm = `
realms:
  - name: realm1
    anonymous: {role: public}
    roles:
      - name: public
        permissions: [{uri: "", match: prefix, allow: [call, publish]}]
      - name: ci
        permissions: [{uri: com.ci., match: prefix, allow: [call, publish]}]
    http_api:
%s
`

func TestHTTPAPIConfig(t *testing.T) {
	body := `      anonymous: true
      tokens:
        - {token_hash: "` + sha256TokenHash("saltsalt", "tok-1") + `", authid: ci-job, role: ci}
      signatures:
        - {key: k1, secret: s3cret, authid: signer, role: ci}
      webhooks_in:
        - {name: github, topic: com.ci.push, secret: hooksecret, headers: [X-GitHub-Event]}
      webhooks_out:
        - {topic: com.ci., match: prefix, url: "http://127.0.0.1:9/hook", timeout: 2s, queue: 10, retries: 5}
      limits: {max_body: 4096, timeout: 3s, per_client_concurrency: 2}`
	c, err := ParseConfig([]byte(strings.Replace(httpRealm, "%s", body, 1)), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := c.Realms[0].HTTPAPI
	if h == nil || !h.Enabled || !h.Anonymous || len(h.Tokens) != 1 || len(h.Signatures) != 1 || len(h.WebhooksIn) != 1 || len(h.WebhooksOut) != 1 {
		t.Fatalf("http_api %+v", h)
	}
	if ok, _ := h.Tokens[0].Secret.Verify(context.Background(), "tok-1"); !ok || h.Tokens[0].AuthRole != "ci" {
		t.Fatalf("token %+v does not verify", h.Tokens[0])
	}
	if w := h.WebhooksOut[0]; w.Match != "prefix" || w.Timeout != 2*time.Second || w.Queue != 10 || w.Retries != 5 {
		t.Fatalf("webhook out %+v", w)
	}
	if l := h.Limits; l.MaxBody != 4096 || l.Timeout != 3*time.Second || l.PerClientConcurrency != 2 {
		t.Fatalf("limits %+v", l)
	}
	if len(c.Warnings) != 0 {
		t.Fatalf("warnings %q", c.Warnings)
	}
	c, err = ParseConfig([]byte(strings.Replace(httpRealm, "%s", "      tokens: [{token: plain, authid: a, role: ci}]", 1)), "x.yaml")
	if err != nil || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "plain text") {
		t.Fatalf("plain token: %v %q", err, c.Warnings)
	}
}

func TestHTTPAPIConfigErrors(t *testing.T) {
	cases := map[string]string{
		"      tokens: [{token: x, authid: a, role: nobody}]":                `x.yaml:11: realms[0].http_api.tokens[0].role: role "nobody" is not defined`,
		"      tokens: [{authid: a, role: ci}]":                              `tokens[0].token_hash: required`,
		"      tokens: [{token_hash: nope, authid: a, role: ci}]":            `tokens[0].token_hash: not a hashed ticket`,
		"      signatures: [{key: k, authid: a, role: ci}]":                  `signatures[0].secret: required`,
		"      webhooks_in: [{name: a/b, topic: t.x}]":                       `webhooks_in[0].name: "a/b" must be usable as one URL path segment`,
		"      webhooks_in: [{name: a, topic: 'bad uri'}]":                   `webhooks_in[0].topic: "bad uri" is not a valid topic URI`,
		"      webhooks_out: [{topic: t.x, url: 'ftp://h/'}]":                `webhooks_out[0].url: want an http:// or https:// URL`,
		"      webhooks_out: [{topic: t.x, match: regex, url: 'http://h/'}]": `webhooks_out[0].match: "regex" is not exact, prefix or wildcard`,
		"      limits: {max_body: 0}":                                        `limits.max_body`,
		"      bogus: 1":                                                     `http_api.bogus: unknown key`,
	}
	for body, want := range cases {
		_, err := ParseConfig([]byte(strings.Replace(httpRealm, "%s", body, 1)), "x.yaml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s\n got %v\nwant %s", body, err, want)
		}
	}
}
