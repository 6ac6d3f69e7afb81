package auth

import (
	"strings"
	"testing"
)

func TestConfigClusterSection(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
cluster:
  node: a
  listen: 127.0.0.1:7301
  routes: [nats://127.0.0.1:7302, 127.0.0.1:7303]
realms:
  - name: realm1
    anonymous: {role: anon}
    roles:
      - name: anon
        permissions: [{uri: "", match: prefix, allow: [call, register, publish, subscribe]}]
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Cluster
	if c == nil || c.Node != "a" || c.Listen != "127.0.0.1:7301" || len(c.Routes) != 2 || c.Routes[1] != "127.0.0.1:7303" {
		t.Fatalf("cluster section %+v", c)
	}
	_, err = ParseConfig([]byte("cluster:\n  listen: 127.0.0.1:1\n  nats: [nats://x:4222]\nrealms: [{name: r}]\n"), "bad.yaml")
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("listen and nats together: %v", err)
	}
}
