package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/switchyard/switchyard/client/ops"
)

func sessionsCommand() *cli.Command {
	return &cli.Command{
		Name:     "sessions",
		Category: clientCategory,
		Usage:    "list the realm's sessions (from the WAMP meta API)",
		Description: `Calls wamp.session.list and wamp.session.get, so it works on any router
with the session meta API, and needs permission to call them. Prints a
table, or with --json the sessions' details as a JSON array. The listing
includes this command's own session.`,
		Flags: clientFlags(
			&cli.BoolFlag{Name: "json", Usage: "print the session details as JSON"},
		),
		Action: func(c *cli.Context) error {
			cl, err := connect(c.Context, c)
			if err != nil {
				return err
			}
			defer closeClient(cl)
			ctx, cancel := requestContext(c.Context, c)
			defer cancel()
			sessions, err := ops.Sessions(ctx, cl)
			if err != nil {
				return wampFailure("sessions", err)
			}
			if c.Bool("json") {
				list := make([]any, len(sessions))
				for i, s := range sessions {
					list[i] = s
				}
				b, err := ops.Marshal(list)
				if err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, string(b))
				return nil
			}
			return ops.WriteSessionTable(c.App.Writer, sessions)
		},
	}
}
