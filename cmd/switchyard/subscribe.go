package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/client/ops"
	"github.com/switchyard/switchyard/spec"
)

func subscribeCommand() *cli.Command {
	return &cli.Command{
		Name:      "subscribe",
		Category:  clientCategory,
		Usage:     "print a topic's events as JSON lines",
		ArgsUsage: "TOPIC",
		Description: `Prints one JSON object per event: "args", "kwargs" when there are any,
"publisher" when the router discloses it, and "topic" for prefix and
wildcard subscriptions. Runs until Ctrl-C (or SIGTERM), or --count events.
"subscribed" goes to stderr once the router has confirmed.`,
		Flags: clientFlags(
			&cli.StringFlag{Name: "match", Value: spec.MatchExact, Usage: "exact, prefix or wildcard"},
			&cli.IntFlag{Name: "count", Usage: "exit after this many events (0: never)"},
			&cli.BoolFlag{Name: "reconnect", Usage: "reconnect and subscribe again when the connection is lost"},
		),
		Action: runSubscribe,
	}
}

func runSubscribe(c *cli.Context) error {
	if c.NArg() != 1 {
		return errors.New("subscribe: give exactly one topic (switchyard subscribe TOPIC)")
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

	// Events arrive on the client's reader; printing happens here so that
	// a slow stdout never stalls the client's handling of other messages
	// for longer than the channel's slack.
	events := make(chan []byte, 1024)
	overflow := make(chan struct{})
	var printErr error
	handler := func(e *client.Event) {
		b, err := ops.FormatEvent(e, match != spec.MatchExact)
		if err != nil {
			printErr = err
			b = nil
		}
		select {
		case events <- b:
		default:
			select {
			case <-overflow:
			default:
				close(overflow)
			}
		}
	}
	opts := spec.Dict{}
	if match != spec.MatchExact {
		opts[spec.OptMatch] = match
	}
	rctx, cancel := requestContext(ctx, c)
	_, err = cl.Subscribe(rctx, c.Args().First(), handler, opts)
	cancel()
	if err != nil {
		return wampFailure("subscribe "+c.Args().First(), err)
	}
	fmt.Fprintln(c.App.ErrWriter, "subscribed to", c.Args().First())
	count, want := 0, c.Int("count")
	for want == 0 || count < want {
		select {
		case b := <-events:
			if b == nil {
				return fmt.Errorf("printing an event: %w", printErr)
			}
			fmt.Fprintln(c.App.Writer, string(b))
			count++
		case <-overflow:
			return errors.New("subscribe: stdout is too slow for the events; stopping rather than dropping them")
		case <-cl.Done():
			return fmt.Errorf("subscribe: session ended: %w", cl.Err())
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// connectLongLived connects for a command that runs until stopped: with
// --reconnect it survives router restarts, telling stderr as it goes.
func connectLongLived(ctx context.Context, c *cli.Context) (*client.Client, error) {
	o, err := connectOptions(c)
	if err != nil {
		return nil, err
	}
	if c.Bool("reconnect") {
		o.Reconnect = &client.Reconnect{}
		o.OnStateChange = func(s client.State, err error) {
			if err != nil {
				fmt.Fprintf(c.App.ErrWriter, "%s: %s\n", s, ops.FormatError(err))
			} else {
				fmt.Fprintln(c.App.ErrWriter, s)
			}
		}
	}
	return ops.Connect(ctx, o)
}
