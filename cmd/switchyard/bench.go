package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/switchyard/switchyard/bench"
	"github.com/switchyard/switchyard/transport"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "load-test a WAMP router and compare it with this machine's baseline relay",
		Description: `Runs a bounded load scenario against any WAMP v2 router by URL (ws://,
tcp:// or rs://, unix:///path), with any serializer, and prints a table (or
JSON). Loopback targets only, unless --allow-remote.

With --pid (the router's process id) it reports the router's CPU time per
operation and its memory. With --baseline it first runs the same scenario
against "switchyard bench baseline", a relay that forwards RawSocket frames
without decoding them, and reports the router as a fraction of it. With
--versus it runs against --url and a second target in turn, --rounds times
each, and compares their medians: on a shared machine a single pair of runs
differs by as much as the routers do.

  switchyard serve & pid=$!
  switchyard bench rpc --baseline --pid $pid --check
  switchyard bench connect --url ws://127.0.0.1:8080/ --pid $pid --versus tcp://127.0.0.1:8081 --versus-pid $pid --check`,
		Subcommands: []*cli.Command{
			benchRPCCommand(),
			benchFanoutCommand(),
			benchConnectCommand(),
			benchIdleCommand(),
			benchIdleWorkerCommand(),
			benchSlowCommand(),
			benchBaselineCommand(),
			benchFloorCommand(),
		},
	}
}

// benchFlags are the flags every scenario takes.
func benchFlags(countUsage string, countAliases ...string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "url", Value: "tcp://127.0.0.1:8081", EnvVars: env("BENCH_URL"), Usage: "router to load: ws://, wss://, tcp:// (rs://), tcps:// (rss://), unix:///path"},
		&cli.StringFlag{Name: "serializer", Value: "msgpack", Usage: "json, msgpack or cbor"},
		&cli.StringFlag{Name: "realm", Value: "realm1", Usage: "realm to join (anonymously)"},
		&cli.Int64Flag{Name: "count", Aliases: countAliases, Usage: countUsage},
		&cli.DurationFlag{Name: "duration", Usage: "time bound of the measured phase (0: the scenario's default)"},
		&cli.BoolFlag{Name: "allow-remote", Usage: "allow a target that is not a loopback address"},
		&cli.BoolFlag{Name: "tls-insecure", Usage: "do not verify the router's TLS certificate (a loopback router with a self-signed one)"},
		&cli.StringFlag{Name: "pid", Usage: "the router's process id: report its CPU per operation and memory (/proc/PID); PID,PID,... sums a cluster's nodes"},
		&cli.BoolFlag{Name: "baseline", Usage: "also run against the baseline relay (started as a child process, on this process's CPUs: to pin it beside the router, start it under taskset and use --baseline-url) and report the ratio"},
		&cli.StringFlag{Name: "baseline-url", Usage: "a baseline relay already running (switchyard bench baseline); implies --baseline"},
		&cli.IntFlag{Name: "baseline-pid", Usage: "the process id of --baseline-url's relay"},
		&cli.StringFlag{Name: "versus", Usage: "a second target run alternately with --url, --rounds times each, compared by medians: another router side by side, or another listener of the same one"},
		&cli.StringFlag{Name: "versus-pid", Usage: "the process id of --versus's router (PID,PID,... sums a cluster's nodes)"},
		&cli.IntFlag{Name: "rounds", Value: 5, Usage: "with --versus, runs against each target"},
		&cli.BoolFlag{Name: "json", Usage: "print the report as JSON instead of a table"},
		&cli.StringFlag{Name: "json-file", Usage: "also write the report as JSON to this file"},
		&cli.BoolFlag{Name: "check", Usage: "evaluate the performance targets; exit non-zero naming each one missed"},
		&cli.BoolFlag{Name: "no-progress", Usage: "no progress bar (there is none unless stdout is a terminal)"},
		&cli.StringFlag{Name: "profile-router", Usage: "run a router in this process instead of --url and write its CPU profile here (narrow it with pprof -tagfocus=side=router)"},
		&cli.StringFlag{Name: "profile-router-mem", Usage: "with an in-process router, write the allocation profile here"},
	}
}

func common(c *cli.Context) bench.Common {
	var tlsConfig *tls.Config
	if c.Bool("tls-insecure") {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true} //nolint:gosec // asked for by the operator, for their own router
	}
	return bench.Common{
		Serializer:  c.String("serializer"),
		Realm:       c.String("realm"),
		Count:       c.Int64("count"),
		Duration:    c.Duration("duration"),
		AllowRemote: c.Bool("allow-remote"),
		TLSConfig:   tlsConfig,
	}
}

func benchRPCCommand() *cli.Command {
	return &cli.Command{
		Name:  "rpc",
		Usage: "callers → callees, a window of outstanding calls per caller: calls/s and latency",
		Flags: append(benchFlags("calls to make (default 200000)"),
			&cli.IntFlag{Name: "callers", Value: 8, Usage: "calling sessions"},
			&cli.IntFlag{Name: "callees", Value: 1, Usage: "sessions registering the procedure (shared, round robin, when more than one)"},
			&cli.IntFlag{Name: "window", Value: 16, Usage: "outstanding calls per caller"},
			&cli.IntFlag{Name: "payload", Value: 16, Usage: "bytes of binary payload per call"},
			&cli.StringSliceFlag{Name: "callee-url", Usage: "spread the callees over these routers (the nodes of a cluster; repeatable or comma-separated); callers use --url"},
		),
		Action: func(c *cli.Context) error {
			return runBench(c, &bench.RPC{Common: common(c), Callers: c.Int("callers"), Callees: c.Int("callees"), Window: c.Int("window"), Payload: c.Int("payload"),
				CalleeURLs: splitList(c.StringSlice("callee-url"))})
		},
	}
}

func benchFanoutCommand() *cli.Command {
	return &cli.Command{
		Name:  "fanout",
		Usage: "publishers → subscribers: events delivered/s, acks/s, events lost, subscribers disconnected",
		Flags: append(benchFlags("publications to make, all publishers together (default 5000)"),
			&cli.IntFlag{Name: "publishers", Value: 1, Usage: "publishing sessions"},
			&cli.IntFlag{Name: "subscribers", Value: 1000, Usage: "subscribing sessions"},
			&cli.IntFlag{Name: "window", Value: 16, Usage: "publications per publisher not yet received by every subscriber"},
			&cli.IntFlag{Name: "payload", Value: 16, Usage: "bytes of binary payload per event"},
			&cli.StringSliceFlag{Name: "subscriber-url", Usage: "spread the subscribers over these routers (the nodes of a cluster; repeatable or comma-separated); publishers use --url"},
		),
		Action: func(c *cli.Context) error {
			return runBench(c, &bench.Fanout{Common: common(c), Publishers: c.Int("publishers"), Subscribers: c.Int("subscribers"), Window: c.Int("window"), Payload: c.Int("payload"),
				SubscriberURLs: splitList(c.StringSlice("subscriber-url"))})
		},
	}
}

func benchConnectCommand() *cli.Command {
	return &cli.Command{
		Name:  "connect",
		Usage: "sessions opened and closed per second (connect, HELLO/WELCOME, GOODBYE)",
		Flags: append(benchFlags("sessions to open (default 20000)"),
			&cli.IntFlag{Name: "concurrency", Value: 8, Usage: "sessions being opened at once"},
		),
		Action: func(c *cli.Context) error {
			return runBench(c, &bench.Connect{Common: common(c), Concurrency: c.Int("concurrency")})
		},
	}
}

func benchIdleCommand() *cli.Command {
	return &cli.Command{
		Name:  "idle",
		Usage: "sessions held open: the router's memory per session (needs --pid)",
		Flags: append(benchFlags("sessions to hold (default 10000)", "sessions"),
			&cli.IntFlag{Name: "concurrency", Value: 32, Usage: "sessions being opened at once"},
			&cli.DurationFlag{Name: "settle", Value: 5 * time.Second, Usage: "wait after the last session opened before reading the router's memory (idle RawSocket sessions park after 1–2 s)"},
			&cli.DurationFlag{Name: "hold", Usage: "keep the sessions open this much longer"},
			&cli.StringSliceFlag{Name: "session-url", Usage: "spread the sessions round robin over these routers instead of --url (the nodes of a cluster; repeatable or comma-separated)"},
			&cli.IntFlag{Name: "workers", Usage: "processes opening the sessions (0: as many as this process's hard file limit requires)"},
		),
		Action: func(c *cli.Context) error {
			o := &bench.Idle{Common: common(c), Concurrency: c.Int("concurrency"), Settle: c.Duration("settle"), Hold: c.Duration("hold"),
				SessionURLs: splitList(c.StringSlice("session-url")), Workers: c.Int("workers")}
			if exe, err := os.Executable(); err == nil {
				o.WorkerCommand = []string{exe, "bench", "idle-worker"}
			}
			return runBench(c, o)
		},
	}
}

// benchIdleWorkerCommand is the worker process of an idle run that needs
// more sessions than one process may hold (bench.RunIdleWorker).
func benchIdleWorkerCommand() *cli.Command {
	return &cli.Command{
		Name:   "idle-worker",
		Usage:  "a worker process of \"bench idle\" (started by it; speaks JSON lines on stdin and stdout)",
		Hidden: true,
		Action: func(c *cli.Context) error {
			return bench.RunIdleWorker(c.Context, os.Stdin, c.App.Writer)
		},
	}
}

func benchSlowCommand() *cli.Command {
	return &cli.Command{
		Name:  "slow",
		Usage: "a subscriber that stops reading must be disconnected while the others receive every event",
		Flags: append(benchFlags("most publications to make (default 200000)"),
			&cli.IntFlag{Name: "subscribers", Value: 8, Usage: "subscribers that keep up"},
			&cli.IntFlag{Name: "window", Value: 16, Usage: "publications not yet received by every subscriber that keeps up"},
			&cli.IntFlag{Name: "payload", Value: 1024, Usage: "bytes of binary payload per event"},
			&cli.Int64Flag{Name: "after", Value: 1000, Usage: "publications after the stalled subscriber is gone"},
		),
		Action: func(c *cli.Context) error {
			return runBench(c, &bench.Slow{Common: common(c), Subscribers: c.Int("subscribers"), Window: c.Int("window"), Payload: c.Int("payload"), After: c.Int64("after")})
		},
	}
}

// serveQueue are the serve command's queue defaults, which the relay and
// the in-process router take too, so that all three are configured alike.
var serveQueue = transport.Options{QueueMaxBytes: 4 << 20, QueueMaxFrames: 8192}

func benchBaselineCommand() *cli.Command {
	return &cli.Command{
		Name:  "baseline",
		Usage: "run the baseline relay: RawSocket frames forwarded without decoding or routing",
		Description: `The relay answers session setup (HELLO, REGISTER, SUBSCRIBE, GOODBYE) and
then copies frames by their type code alone: a CALL to a callee and its
YIELD back, a PUBLISH to every subscriber (and back to its publisher as the
acknowledgement). Its connections are built like the router's (reader and
writer goroutines, the same bounded queue and buffers), so a scenario run
against it shows what this machine carries when nothing is decoded, routed
or encoded. It prints its URL on the first line of stdout.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:18082", Usage: "address to listen on (host:port, or unix:///path)"},
			&cli.IntFlag{Name: "queue-max-bytes", Value: serveQueue.QueueMaxBytes, Usage: "per-connection outbound queue limit in bytes (as serve's)"},
			&cli.IntFlag{Name: "queue-max-messages", Value: serveQueue.QueueMaxFrames, Usage: "per-connection outbound queue limit in messages (as serve's)"},
		},
		Action: func(c *cli.Context) error {
			network, address := listenFlag(c)
			r, err := bench.ListenRelay(network, address, bench.RelayOptions{
				QueueMaxBytes: c.Int("queue-max-bytes"), QueueMaxFrames: c.Int("queue-max-messages"),
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, r.URL())
			fmt.Fprintln(c.App.ErrWriter, "baseline relay listening; stop it with Ctrl-C")
			return untilInterrupted(c, r.Close)
		},
	}
}

func benchFloorCommand() *cli.Command {
	return &cli.Command{
		Name:  "floor",
		Usage: "run the connect floor: sessions answered with canned bytes, nothing decoded or kept",
		Description: `The floor answers the RawSocket or WebSocket handshake, a HELLO with a
WELCOME and a GOODBYE with a GOODBYE, all encoded once at start, on one
goroutine per connection; it ignores every other message. What it costs per
session is the least a Go server using package net can spend on this
machine, so "bench connect --versus" against it shows how much of a
router's session is the router's own. It prints its RawSocket URL on the
first line of stdout and its WebSocket URL on the second.

  taskset -c 1 switchyard bench floor --listen 127.0.0.1:18083 & FLOOR=$!
  taskset -c 0 switchyard bench connect --url tcp://127.0.0.1:8081 --pid $PID \
      --versus tcp://127.0.0.1:18083 --versus-pid $FLOOR`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:18083", Usage: "address to listen on (host:port, or unix:///path)"},
		},
		Action: func(c *cli.Context) error {
			network, address := listenFlag(c)
			f, err := bench.ListenFloor(network, address)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, f.RawSocketURL())
			if ws := f.WebSocketURL(); ws != "" {
				fmt.Fprintln(c.App.Writer, ws)
			}
			fmt.Fprintln(c.App.ErrWriter, "connect floor listening; stop it with Ctrl-C")
			return untilInterrupted(c, f.Close)
		},
	}
}

// listenFlag splits --listen into a network and an address: "unix:///path"
// is a Unix socket, whose stale file from an earlier run is removed, and
// anything else a TCP host:port.
func listenFlag(c *cli.Context) (network, address string) {
	address = c.String("listen")
	if rest, ok := strings.CutPrefix(address, "unix://"); ok {
		_ = os.Remove(rest)
		return "unix", rest
	}
	return "tcp", address
}

// untilInterrupted waits for Ctrl-C or SIGTERM, then closes what a bench
// server command started.
func untilInterrupted(c *cli.Context, close func() error) error {
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return close()
}

// runBench runs sc against the targets the flags name and reports.
func runBench(c *cli.Context, sc bench.Scenario) error {
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := c.App.Writer

	pids, err := parsePIDs(c.String("pid"))
	if err != nil {
		return err
	}
	router := bench.Target{Label: "router", URL: c.String("url")}
	if len(pids) > 0 {
		router.PID, router.MorePIDs = pids[0], pids[1:]
	}
	profiling := c.String("profile-router") != "" || c.String("profile-router-mem") != ""
	if profiling {
		url, done, err := profileRouter(ctx, c, router.URL)
		if err != nil {
			return err
		}
		defer done()
		router.URL, router.PID, router.MorePIDs = url, 0, nil
		if idle, ok := sc.(*bench.Idle); ok && c.String("profile-router-mem") != "" {
			// What idle sessions hold is the heap while they are open.
			path := c.String("profile-router-mem") + ".inuse"
			idle.Held = func() { writeHeapProfile(c, path) }
		}
	}
	if v := c.String("versus"); v != "" {
		versus, err := versusTarget(c, sc, profiling)
		if err != nil {
			return err
		}
		rep, err := bench.Alternate(ctx, sc, router, versus, c.Int("rounds"))
		return report(c, rep, err)
	}
	var targets []bench.Target
	if c.Bool("baseline") || c.String("baseline-url") != "" {
		switch {
		case sc.Name() == "slow":
			return errors.New("--baseline: the slow scenario has no baseline (the relay has no meta API to watch)")
		case sc.Name() == "idle" && len(pids) == 0:
			return errors.New("--baseline: idle compares memory per session, which needs the router's --pid")
		}
		base := bench.Target{Label: "baseline", URL: c.String("baseline-url"), PID: c.Int("baseline-pid")}
		if base.URL == "" {
			url, pid, done, err := spawnRelay(ctx)
			if err != nil {
				return err
			}
			defer done()
			base.URL, base.PID = url, pid
		}
		targets = append(targets, base)
	}
	targets = append(targets, router)

	meter := setMeter(sc)
	stopBar := func() {}
	if meter != nil && !c.Bool("json") && !c.Bool("no-progress") && isTerminal(out) {
		stopBar = bench.ShowProgress(ctx, out, meter)
	}
	rep, err := bench.Run(ctx, sc, targets...)
	stopBar() // before the table
	if r := rep.Run("router"); r != nil {
		if profiling {
			r.Notes = append(r.Notes, "the router ran in this process for profiling: the generator's CPU includes the router's, and the rates are not comparable with a router in its own process")
		}
		if r.Transport == "websocket" && rep.Run("baseline") != nil {
			r.Notes = append(r.Notes, "the baseline relay speaks RawSocket only: the ratio compares the router over WebSocket with the relay over RawSocket")
		}
	}
	return report(c, rep, err)
}

// versusTarget is the target --versus names, for the scenarios an
// alternated comparison means something for.
func versusTarget(c *cli.Context, sc bench.Scenario, profiling bool) (bench.Target, error) {
	switch {
	case c.Bool("baseline") || c.String("baseline-url") != "":
		return bench.Target{}, errors.New("--versus: compares two targets of its own; leave out --baseline")
	case profiling:
		return bench.Target{}, errors.New("--versus: not with an in-process router (--profile-router)")
	case sc.Name() == "idle" || sc.Name() == "slow":
		return bench.Target{}, fmt.Errorf("--versus: not for the %s scenario, whose run holds the router's memory", sc.Name())
	}
	pids, err := parsePIDs(c.String("versus-pid"))
	if err != nil {
		return bench.Target{}, fmt.Errorf("--versus-pid: %w", err)
	}
	t := bench.Target{Label: "versus", URL: c.String("versus")}
	if len(pids) > 0 {
		t.PID, t.MorePIDs = pids[0], pids[1:]
	}
	return t, nil
}

// setMeter gives the scenario a meter for the progress bar.
func setMeter(sc bench.Scenario) *bench.Meter {
	m := &bench.Meter{}
	switch s := sc.(type) {
	case *bench.RPC:
		s.Meter = m
	case *bench.Fanout:
		s.Meter = m
	case *bench.Connect:
		s.Meter = m
	case *bench.Idle:
		s.Meter = m
	case *bench.Slow:
		s.Meter = m
	default:
		return nil
	}
	return m
}

// report prints rep, writes the JSON file and turns missed targets into
// the exit status.
func report(c *cli.Context, rep *bench.Report, runErr error) error {
	if rep == nil || len(rep.Runs) == 0 {
		return runErr
	}
	var failed []bench.CheckResult
	if c.Bool("check") && runErr == nil {
		failed = bench.Check(rep)
	}
	out := c.App.Writer
	var err error
	if c.Bool("json") {
		err = rep.WriteJSON(out)
	} else {
		err = rep.WriteTable(out)
	}
	if path := c.String("json-file"); path != "" {
		f, ferr := os.Create(path)
		if ferr != nil {
			return errors.Join(runErr, fmt.Errorf("--json-file: %w", ferr))
		}
		werr := rep.WriteJSON(f)
		err = errors.Join(err, werr, f.Close())
	}
	if runErr != nil || err != nil {
		return errors.Join(runErr, err)
	}
	if len(failed) > 0 {
		names := make([]string, len(failed))
		for i, f := range failed {
			names[i] = f.Target + " (" + f.Detail + ")"
		}
		return cli.Exit("targets missed:\n  "+strings.Join(names, "\n  "), 1)
	}
	return nil
}

// spawnRelay starts "switchyard bench baseline" as a child process on a
// free loopback port: a separate process, like the router, so that both
// runs have the same process boundaries and the relay's CPU can be read
// from /proc. done stops it and waits for it.
func spawnRelay(ctx context.Context) (url string, pid int, done func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", 0, nil, fmt.Errorf("--baseline: find this executable: %w", err)
	}
	cmd := exec.Command(exe, "bench", "baseline", "--listen", "127.0.0.1:0")
	cmd.Stderr = io.Discard
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, fmt.Errorf("--baseline: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, fmt.Errorf("--baseline: start the relay: %w", err)
	}
	// One goroutine reads the relay's stdout: the URL, then whatever else
	// until the relay exits (exec requires the pipe drained before Wait).
	line := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		br := bufio.NewReader(stdout)
		s, _ := br.ReadString('\n')
		line <- strings.TrimSpace(s)
		io.Copy(io.Discard, br)
	}()
	done = func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-drained:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-drained
		}
		cmd.Wait()
	}
	select {
	case url = <-line:
	case <-time.After(10 * time.Second):
	case <-ctx.Done():
	}
	if !strings.HasPrefix(url, "tcp://") {
		done()
		return "", 0, nil, fmt.Errorf("--baseline: the relay did not start (said %q)", url)
	}
	return url, cmd.Process.Pid, done, nil
}

// profileRouter starts a router in this process, configured as serve's
// defaults, and profiles the process while the scenario runs. The URL's
// scheme chooses RawSocket or WebSocket. done writes the profiles and
// stops the router.
func profileRouter(ctx context.Context, c *cli.Context, target string) (string, func(), error) {
	cpuPath, memPath := c.String("profile-router"), c.String("profile-router-mem")
	ws := false
	if u, err := url.Parse(target); err == nil {
		ws = u.Scheme == "ws"
	}
	topts := serveQueue
	topts.MaxMessageSize = 16 << 20
	ir, err := bench.StartRouter(ctx, bench.RouterOptions{
		Realm:     c.String("realm"),
		Transport: topts,
		WebSocket: ws,
		// serve logs at info level: the profile pays for the same log
		// records, without the terminal.
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		return "", nil, err
	}
	stopRouter := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ir.Shutdown(sctx)
	}
	var cpu *os.File
	if cpuPath != "" {
		cpu, err = os.Create(cpuPath)
		if err != nil {
			stopRouter()
			return "", nil, fmt.Errorf("--profile-router: %w", err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			stopRouter()
			return "", nil, fmt.Errorf("--profile-router: %w", err)
		}
	}
	done := func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
			fmt.Fprintf(c.App.ErrWriter, "router CPU profile: %s (go tool pprof -tagfocus=side=router %s)\n", cpuPath, cpuPath)
		}
		if memPath != "" {
			if f, err := os.Create(memPath); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
				fmt.Fprintf(c.App.ErrWriter, "allocation profile: %s (go tool pprof -sample_index=alloc_space -focus=ServePeer %s)\n", memPath, memPath)
			}
		}
		stopRouter()
	}
	url := ir.RawSocketURL()
	if ws {
		url = ir.WebSocketURL()
	}
	return url, done, nil
}

// writeHeapProfile writes the in-use heap after a collection.
func writeHeapProfile(c *cli.Context, path string) {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(c.App.ErrWriter, "heap profile:", err)
		return
	}
	defer f.Close()
	pprof.Lookup("heap").WriteTo(f, 0)
	fmt.Fprintf(c.App.ErrWriter, "in-use heap with the sessions open: %s (go tool pprof -sample_index=inuse_space %s)\n", path, path)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// parsePIDs reads --pid: one process ID, or several comma separated (the
// nodes of a cluster, whose CPU and memory are summed); "" is none.
func parsePIDs(s string) ([]int, error) {
	var pids []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("bench: --pid %q: %q is not a process ID", s, f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}
