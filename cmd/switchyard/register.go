package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/switchyard/switchyard/client/ops"
	"github.com/switchyard/switchyard/spec"
)

func registerCommand() *cli.Command {
	return &cli.Command{
		Name:      "register",
		Category:  clientCategory,
		Usage:     "serve a procedure with a command",
		ArgsUsage: "URI -- COMMAND [ARG...]",
		Description: `Each invocation runs COMMAND with {"args":[...],"kwargs":{...}} as JSON
on stdin (plus "procedure" for pattern registrations). Its stdout, trimmed,
is the result's one argument: JSON when it parses, else a string; nothing
printed means no arguments. A non-zero exit answers ERROR
wamp.error.runtime_error with its stderr. At most --concurrency commands
run at once; further calls wait for a slot. Runs until Ctrl-C (or SIGTERM);
"registered" goes to stderr once the router has confirmed.

  switchyard register com.example.add -- sh -c 'jq "[.args[0] + .args[1]] | .[0]"'`,
		Flags: clientFlags(
			&cli.StringFlag{Name: "match", Value: spec.MatchExact, Usage: "exact, prefix or wildcard"},
			&cli.StringFlag{Name: "invoke", Usage: "shared registration policy: single, roundrobin, random, first or last"},
			&cli.IntFlag{Name: "concurrency", Value: 4, Usage: "commands that may run at once"},
			&cli.BoolFlag{Name: "reconnect", Usage: "reconnect and register again when the connection is lost"},
		),
		Action: runRegister,
	}
}

func runRegister(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 || args[0] == "--" {
		return errors.New("register: which procedure? (switchyard register URI -- COMMAND [ARG...])")
	}
	uri, argv := args[0], args[1:]
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return errors.New("register: which command? (switchyard register URI -- COMMAND [ARG...])")
	}
	if c.Int("concurrency") < 1 {
		return errors.New("--concurrency must be at least 1")
	}
	match := c.String("match")
	if match != spec.MatchExact && match != spec.MatchPrefix && match != spec.MatchWildcard {
		return fmt.Errorf("--match %q: want exact, prefix or wildcard", match)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cl, err := connectLongLived(ctx, c)
	if err != nil {
		return err
	}
	defer closeClient(cl)
	opts := spec.Dict{}
	if match != spec.MatchExact {
		opts[spec.OptMatch] = match
	}
	if p := c.String("invoke"); p != "" {
		opts[spec.OptInvoke] = p
	}
	rctx, cancel := requestContext(ctx, c)
	_, err = cl.Register(rctx, uri, ops.CommandHandler(argv, c.Int("concurrency")), opts)
	cancel()
	if err != nil {
		return wampFailure("register "+uri, err)
	}
	fmt.Fprintln(c.App.ErrWriter, "registered", uri)
	select {
	case <-ctx.Done():
		return nil
	case <-cl.Done():
		return fmt.Errorf("register: session ended: %w", cl.Err())
	}
}
