package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/client/ops"
)

func callCommand() *cli.Command {
	return &cli.Command{
		Name:      "call",
		Category:  clientCategory,
		Usage:     "call a procedure and print its result as JSON",
		ArgsUsage: "URI [ARG...]",
		Description: `Each ARG is JSON when it parses as JSON (7, true, [1,2], {"a":1}, "7"),
else a string. The result prints as a JSON array ([7]), or as
{"args":[...],"kwargs":{...}} when it has keyword arguments; progressive
results print one JSON line each, before the final one. A WAMP error prints
its URI and arguments to stderr and exits 1.

  switchyard call com.example.add 3 4 --url rs://127.0.0.1:8081`,
		Flags: clientFlags(
			&cli.StringFlag{Name: "kwargs", Usage: "keyword arguments, a JSON object"},
		),
		Action: runCall,
	}
}

func runCall(c *cli.Context) error {
	if c.NArg() < 1 {
		return errors.New("call: which procedure? (switchyard call URI [ARG...])")
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
	w := c.App.Writer
	var printErr error
	res, err := cl.Call(ctx, c.Args().First(), ops.ParseArgs(c.Args().Tail()), kwargs, &client.CallOptions{
		OnProgress: func(r *client.Result) {
			b, err := ops.FormatResult(r)
			if err != nil {
				printErr = err
				return
			}
			fmt.Fprintln(w, string(b))
		},
	})
	if err != nil {
		return wampFailure("call "+c.Args().First(), err)
	}
	if printErr != nil {
		return fmt.Errorf("printing a progressive result: %w", printErr)
	}
	b, err := ops.FormatResult(res)
	if err != nil {
		return fmt.Errorf("printing the result: %w", err)
	}
	fmt.Fprintln(w, string(b))
	return nil
}
