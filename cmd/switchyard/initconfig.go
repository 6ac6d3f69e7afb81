package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/urfave/cli/v2"

	"github.com/switchyard/switchyard/auth"
)

func initCommand() *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "write a commented starter config",
		ArgsUsage: "[DIR]",
		Description: `Writes DIR/switchyard.yaml (DIR defaults to the current directory): a
WebSocket and a RawSocket listener on loopback, realm "realm1" with
anonymous sessions allowed everything, and an "operator" principal that
logs in with a new Ed25519 key, whose private half goes to
DIR/operator.key (mode 0600). Existing files are kept unless --force.

  switchyard init ./etc && switchyard check --config ./etc/switchyard.yaml
  switchyard serve --config ./etc/switchyard.yaml
  switchyard sessions --authid operator --private-key @./etc/operator.key`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ws", Value: "127.0.0.1:8080", Usage: "the WebSocket listener's address"},
			&cli.StringFlag{Name: "rawsocket", Value: "127.0.0.1:8081", Usage: "the RawSocket listener's address"},
			&cli.StringFlag{Name: "realm", Value: "realm1", Usage: "the realm's name"},
			&cli.BoolFlag{Name: "force", Usage: "overwrite existing files"},
		},
		Action: runInit,
	}
}

var starterConfig = template.Must(template.New("switchyard.yaml").Parse(`# Switchyard configuration, written by "switchyard init".
#
#   switchyard check --config {{.Config}}    validate it (file:line messages)
#   switchyard serve --config {{.Config}}    run the router with it
#
# The README's "Authentication and authorization" section describes every
# key; auth/testdata/example.yaml in the source uses them all.

# The admin listener (Prometheus /metrics, /healthz, /readyz, POST /reload)
# is configured here too; uncomment to choose its address and a token.
# admin:
#   address: 127.0.0.1:8082
#   token: change-me

# Where the router listens. With listeners here, the --ws/--rawsocket/...
# flags only add to them when given explicitly.
listeners:
  - name: websocket
    transport: ws                   # ws | rawsocket | unix | listen (both on one port)
    address: {{.WS}}
    # tls: {cert: server.crt, key: server.key}   # then clients use wss://
  - name: rawsocket
    transport: rawsocket
    address: {{.RawSocket}}
    # auth: [cryptosign]            # restrict the methods this listener allows

realms:
  - name: {{.Realm}}

    # Anonymous sessions: allowed everything, which is fine on loopback.
    # Before listening on another address, give "anonymous" a narrower role
    # or delete this block to refuse anonymous sessions.
    anonymous:
      role: anonymous

    roles:
      - name: anonymous
        permissions:
          - uri: ""                 # the empty prefix: every URI
            match: prefix
            allow: [call, register, publish, subscribe]

      # The operator: everything, including the meta API that
      # "switchyard sessions" reads (wamp.session.*).
      - name: operator
        permissions:
          - uri: ""
            match: prefix
            allow: [call, register, publish, subscribe]

    principals:
      # Logs in with WAMP-Cryptosign; the private key is in {{.Key}}:
      #   switchyard sessions --authid operator --private-key @{{.Key}}
      # "switchyard keygen" makes more key pairs; "switchyard derive" prints
      # the stored forms of tickets and passwords.
      - authid: operator
        role: operator
        cryptosign:
          - {{.PublicKey}}
`))

func runInit(c *cli.Context) error {
	if c.NArg() > 1 {
		return errors.New("init: at most one directory")
	}
	dir := c.Args().First()
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	configPath := filepath.Join(dir, "switchyard.yaml")
	keyPath := filepath.Join(dir, "operator.key")
	if !c.Bool("force") {
		for _, p := range []string{configPath, keyPath} {
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("init: %s exists (--force overwrites it)", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("init: %w", err)
			}
		}
	}
	pub, priv, err := auth.GenerateCryptosignKey()
	if err != nil {
		return err
	}
	var text strings.Builder
	if err := starterConfig.Execute(&text, map[string]string{
		"Config": configPath, "Key": keyPath, "PublicKey": pub,
		"WS": c.String("ws"), "RawSocket": c.String("rawsocket"), "Realm": c.String("realm"),
	}); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if err := os.WriteFile(keyPath, []byte(priv+"\n"), 0o600); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if err := os.WriteFile(configPath, []byte(text.String()), 0o644); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	// What was written must be what serve accepts.
	if _, err := checkConfig(configPath); err != nil {
		return fmt.Errorf("init: the starter config does not check (a bad --ws, --rawsocket or --realm?): %w", err)
	}
	fmt.Fprintf(c.App.Writer, "wrote %s and %s (the operator's private key: keep it secret)\nnext: switchyard serve --config %s\n", configPath, keyPath, configPath)
	return nil
}
