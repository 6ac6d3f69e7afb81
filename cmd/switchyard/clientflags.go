package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/client/ops"
)

// clientEnv names a client command's environment variable. They all carry
// CLIENT_ so that none means something else to serve: SWITCHYARD_REALM and
// SWITCHYARD_TICKET configure the router's realms and principals, while
// SWITCHYARD_CLIENT_REALM and SWITCHYARD_CLIENT_TICKET are what a client
// joins and logs in with.
func clientEnv(name string) []string { return []string{"SWITCHYARD_CLIENT_" + name} }

// clientFlags are the flags of every command that connects to a router as
// a client (call, publish, subscribe, register, sessions).
func clientFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "url", Value: "ws://127.0.0.1:8080/", EnvVars: clientEnv("URL"), Usage: "router to connect to: ws://, wss://, rs:// (tcp://), rss:// (tcps://), unix:///path"},
		&cli.StringFlag{Name: "realm", Value: "realm1", EnvVars: clientEnv("REALM"), Usage: "realm to join"},
		&cli.StringFlag{Name: "serializer", Value: "json", EnvVars: clientEnv("SERIALIZER"), Usage: "json, msgpack or cbor"},
		&cli.StringFlag{Name: "authid", EnvVars: clientEnv("AUTHID"), Usage: "principal to authenticate as"},
		&cli.StringFlag{Name: "ticket", EnvVars: clientEnv("TICKET"), Usage: "authenticate with this ticket (method ticket; use TLS)"},
		&cli.StringFlag{Name: "secret", EnvVars: clientEnv("SECRET"), Usage: "authenticate with this WAMP-CRA secret (method wampcra)"},
		&cli.StringFlag{Name: "private-key", EnvVars: clientEnv("PRIVATE_KEY"), Usage: "authenticate with this Ed25519 key, hex seed as keygen prints it, or @FILE (method cryptosign)"},
		&cli.StringFlag{Name: "ca", EnvVars: clientEnv("CA"), Usage: "PEM file of the CA certificates to trust (default: the system's)"},
		&cli.BoolFlag{Name: "insecure", EnvVars: clientEnv("INSECURE"), Usage: "do not verify the router's TLS certificate"},
		&cli.StringFlag{Name: "cert", EnvVars: clientEnv("CERT"), Usage: "client TLS certificate (PEM), with --key"},
		&cli.StringFlag{Name: "key", EnvVars: clientEnv("KEY"), Usage: "client TLS private key (PEM), with --cert"},
		&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, EnvVars: clientEnv("TIMEOUT"), Usage: "time allowed to connect and join, and for each request"},
	}, extra...)
}

// connectOptions reads the client flags.
func connectOptions(c *cli.Context) (ops.ConnectOptions, error) {
	key := c.String("private-key")
	if path, ok := strings.CutPrefix(key, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return ops.ConnectOptions{}, fmt.Errorf("--private-key: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	return ops.ConnectOptions{
		URL:        c.String("url"),
		Realm:      c.String("realm"),
		Serializer: c.String("serializer"),
		AuthID:     c.String("authid"),
		Ticket:     c.String("ticket"),
		Secret:     c.String("secret"),
		PrivateKey: key,
		CAFile:     c.String("ca"),
		Insecure:   c.Bool("insecure"),
		CertFile:   c.String("cert"),
		KeyFile:    c.String("key"),
		Timeout:    c.Duration("timeout"),
	}, nil
}

// connect joins the router the flags name.
func connect(ctx context.Context, c *cli.Context) (*client.Client, error) {
	o, err := connectOptions(c)
	if err != nil {
		return nil, err
	}
	return ops.Connect(ctx, o)
}

// closeClient leaves the realm within a bounded time.
func closeClient(cl *client.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cl.Close(ctx)
}

// requestContext bounds one request by --timeout (0: no bound).
func requestContext(ctx context.Context, c *cli.Context) (context.Context, context.CancelFunc) {
	if d := c.Duration("timeout"); d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

// exitError ends the process with code after printing msg (when not
// empty) to stderr as is: a WAMP error's URI and arguments, not
// "switchyard: ..." prose.
type exitError struct {
	msg  string
	code int
}

func (e *exitError) Error() string { return e.msg }

// wampFailure turns a request's error into the CLI's answer: a WAMP ERROR
// prints its URI and arguments; anything else is an ordinary error.
func wampFailure(what string, err error) error {
	var we *client.Error
	if errors.As(err, &we) {
		return &exitError{msg: ops.FormatError(err), code: 1}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// reorderArgs moves the flags that follow a command's positional
// arguments in front of them, so that "call URI 3 4 --url X" works (the
// flag parser stops at the first positional). A word that is not one of
// the command's flags stays where it is (-3 is a number), and nothing
// after "--" moves: it belongs to register's command.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 3 {
		return args
	}
	var cmd *cli.Command
	for _, c := range app.Commands {
		if c.Name == args[1] && len(c.Subcommands) == 0 {
			cmd = c
		}
	}
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{} // flag name → takes a separate value
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	takesValue["help"], takesValue["h"] = false, false
	flags := []string{}
	positional := []string{}
	rest := []string{}
	for i := 2; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = args[i:]
			break
		}
		name := strings.TrimLeft(a, "-")
		name, _, hasValue := strings.Cut(name, "=")
		value, known := takesValue[name]
		if !strings.HasPrefix(a, "-") || !known {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		if value && !hasValue && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	out := append([]string{args[0], args[1]}, flags...)
	out = append(out, positional...)
	return append(out, rest...)
}

// clientCategory groups the commands that connect to a router.
const clientCategory = "client commands (any WAMP router)"
