package main

import (
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/cluster"
)

func clusterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "node", EnvVars: env("NODE"), Usage: "this node's name in a cluster (default: host name and WebSocket port)"},
		&cli.StringFlag{Name: "cluster-listen", EnvVars: env("CLUSTER_LISTEN"), Usage: "HOST:PORT for cluster routes: runs an embedded NATS server, making this router one node of a cluster"},
		&cli.StringSliceFlag{Name: "cluster-routes", EnvVars: env("CLUSTER_ROUTES"), Usage: "other nodes' cluster addresses, nats://HOST:PORT (comma-separated or repeated)"},
		&cli.StringSliceFlag{Name: "nats", EnvVars: env("NATS"), Usage: "an external NATS cluster's URLs to form the cluster on, instead of --cluster-listen"},
		&cli.StringFlag{Name: "nats-creds", EnvVars: env("NATS_CREDS"), Usage: "NATS credentials file for --nats"},
		&cli.StringFlag{Name: "nats-ca", EnvVars: env("NATS_CA"), Usage: "CA file verifying the --nats servers (PEM)"},
		&cli.StringFlag{Name: "nats-cert", EnvVars: env("NATS_CERT"), Usage: "client certificate for --nats (PEM)"},
		&cli.StringFlag{Name: "nats-key", EnvVars: env("NATS_KEY"), Usage: "client key for --nats (PEM)"},
	}
}

// clusterOptions reads the cluster flags over the config file's cluster
// section. ok is false when neither asks for a cluster: then the router is
// a single node and no NATS code runs.
func clusterOptions(c *cli.Context, cfg *auth.Config, log *slog.Logger) (cluster.Options, bool) {
	var o cluster.Options
	if cfg != nil && cfg.Cluster != nil {
		cc := cfg.Cluster
		o = cluster.Options{Name: cc.Node, Listen: cc.Listen, Routes: cc.Routes, URLs: cc.NATS,
			Credentials: cc.NATSCreds, CAFile: cc.NATSCA, CertFile: cc.NATSCert, KeyFile: cc.NATSKey}
	}
	set := func(flag string, dst *string) {
		if c.IsSet(flag) {
			*dst = c.String(flag)
		}
	}
	set("node", &o.Name)
	set("cluster-listen", &o.Listen)
	set("nats-creds", &o.Credentials)
	set("nats-ca", &o.CAFile)
	set("nats-cert", &o.CertFile)
	set("nats-key", &o.KeyFile)
	if c.IsSet("cluster-routes") {
		o.Routes = splitList(c.StringSlice("cluster-routes"))
	}
	if c.IsSet("nats") {
		o.URLs = splitList(c.StringSlice("nats"))
		if !c.IsSet("cluster-listen") {
			o.Listen = ""
		}
	}
	if o.Listen == "" && len(o.URLs) == 0 {
		return o, false
	}
	if o.Name == "" {
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(c.String("ws"))
		o.Name = host + ":" + port
	}
	o.Logger = log
	return o, true
}

func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
