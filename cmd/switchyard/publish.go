package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/switchyard/switchyard/client/ops"
	"github.com/switchyard/switchyard/spec"
)

func publishCommand() *cli.Command {
	return &cli.Command{
		Name:      "publish",
		Category:  clientCategory,
		Usage:     "publish an event",
		ArgsUsage: "TOPIC [ARG...]",
		Description: `Each ARG is JSON when it parses as JSON, else a string. With
--acknowledge the router confirms the publication, and a refusal (for
example wamp.error.not_authorized) prints to stderr and exits 1; without it
the router stays silent, as WAMP says.`,
		Flags: clientFlags(
			&cli.StringFlag{Name: "kwargs", Usage: "keyword arguments, a JSON object"},
			&cli.BoolFlag{Name: "acknowledge", Usage: "ask the router to confirm (or refuse) the publication"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return errors.New("publish: which topic? (switchyard publish TOPIC [ARG...])")
			}
			kwargs, err := ops.ParseKwargs(c.String("kwargs"))
			if err != nil {
				return err
			}
			cl, err := connect(c.Context, c)
			if err != nil {
				return err
			}
			defer closeClient(cl)
			ctx, cancel := requestContext(c.Context, c)
			defer cancel()
			opts := spec.Dict{}
			if c.Bool("acknowledge") {
				opts[spec.OptAcknowledge] = true
			}
			if err := cl.Publish(ctx, c.Args().First(), ops.ParseArgs(c.Args().Tail()), kwargs, opts); err != nil {
				return wampFailure("publish "+c.Args().First(), err)
			}
			return nil
		},
	}
}
