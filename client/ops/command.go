package ops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/spec"
)

// ErrCommandFailed is the URI of the ERROR a command-backed procedure
// answers when its command exits non-zero (autobahn's convention for a
// callee's failure).
const ErrCommandFailed spec.URI = "wamp.error.runtime_error"

// maxOutput bounds what one command may print; more fails the invocation
// rather than the process' memory.
const maxOutput = 16 << 20

// CommandHandler returns a procedure that runs argv once per invocation,
// at most concurrency at a time (the others wait, and give up when the
// call is canceled). The command gets {"args":[...],"kwargs":{...}} (and
// "procedure" for pattern registrations) as JSON on stdin; its stdout,
// trimmed, is the result's one argument: JSON if it parses, else a string
// (nothing printed: no arguments). A non-zero exit answers ERROR
// wamp.error.runtime_error with its stderr (or exit status) as argument
// and {"exit_code": N}.
func CommandHandler(argv []string, concurrency int) client.Handler {
	if concurrency < 1 {
		concurrency = 1
	}
	slots := make(chan struct{}, concurrency)
	return func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil, &client.Error{URI: spec.ErrCanceled, Arguments: spec.List{"canceled while waiting for a free slot"}}
		}
		defer func() { <-slots }()
		return runCommand(ctx, argv, inv)
	}
}

func runCommand(ctx context.Context, argv []string, inv *client.Invocation) (*client.Result, error) {
	in := map[string]any{"args": nilToEmpty(inv.Arguments), "kwargs": inv.ArgumentsKw}
	if inv.ArgumentsKw == nil {
		in["kwargs"] = spec.Dict{}
	}
	if inv.Procedure != "" {
		in["procedure"] = string(inv.Procedure)
	}
	stdin, err := Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encoding the invocation for the command: %w", err)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr limitedBuffer
	cmd.Stdin = bytes.NewReader(append(stdin, '\n'))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		return nil, &client.Error{URI: spec.ErrCanceled, Arguments: spec.List{"the call was canceled; the command was killed"}}
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = exit.Error()
		}
		return nil, &client.Error{URI: ErrCommandFailed, Arguments: spec.List{msg}, ArgumentsKw: spec.Dict{"exit_code": int64(exit.ExitCode())}}
	}
	if err != nil {
		return nil, &client.Error{URI: ErrCommandFailed, Arguments: spec.List{"running " + argv[0] + ": " + err.Error()}}
	}
	out := strings.TrimSpace(stdout.String())
	if out == "" {
		return &client.Result{}, nil
	}
	return &client.Result{Arguments: spec.List{ParseValue(out)}}, nil
}

var errTooMuchOutput = errors.New("the command printed more than 16 MiB")

// limitedBuffer refuses to grow past maxOutput.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxOutput {
		return 0, errTooMuchOutput
	}
	return b.Buffer.Write(p)
}
