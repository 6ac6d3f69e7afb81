package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A process may hold only as many sessions as its file descriptor limit
// allows, and the hard limit is not always the operator's to raise (a
// container may cap it, CAP_SYS_RESOURCE dropped, below 100,000). An idle
// run that needs more starts worker processes — the generator's own binary,
// run with Idle.WorkerCommand — and each opens and holds a share. The
// parent speaks to them over their stdin and stdout, one JSON object a line:
//
//	parent → worker: the idleWorkerSpec, then idleWorkerRequests
//	worker → parent: {"progress":N} while opening, an idleWorkerReply per request
//
// A worker closes its sessions and exits when its stdin ends.

// idleFileReserve are the descriptors a generator process keeps for itself
// beside its sessions.
const idleFileReserve = 512

// idleWorkerSpec tells a worker what to open.
type idleWorkerSpec struct {
	URLs        []string `json:"urls"`
	Serializer  string   `json:"serializer"`
	Realm       string   `json:"realm"`
	AllowRemote bool     `json:"allow_remote,omitempty"`
	TLSInsecure bool     `json:"tls_insecure,omitempty"`
	Worker      int      `json:"worker"`
	Workers     int      `json:"workers"`
	Concurrency int      `json:"concurrency"`
	// Sessions is the worker's share of the whole run, to size its file
	// limit up front.
	Sessions int64 `json:"sessions"`
}

// idleWorkerRequest asks a worker to open sessions until N of its share
// were attempted (giving up after TimeoutMS), or, with Open false, only to
// report what it holds.
type idleWorkerRequest struct {
	Open      bool  `json:"open,omitempty"`
	N         int64 `json:"n,omitempty"`
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// idleWorkerReply answers a request. Progress lines carry only Progress.
type idleWorkerReply struct {
	Progress int64            `json:"progress,omitempty"`
	Errors   map[string]int64 `json:"errors,omitempty"`
	Fatal    string           `json:"fatal,omitempty"`
	Opened   int64            `json:"opened"`
	Alive    int64            `json:"alive"`
}

// RunIdleWorker is the worker side of an idle run that spans processes: it
// reads the spec and the requests from in and answers on out until in ends,
// then closes its sessions. The CLI runs it as a hidden "bench idle-worker"
// command, the command Idle.WorkerCommand names.
func RunIdleWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(bufio.NewReader(in))
	var spec idleWorkerSpec
	if err := dec.Decode(&spec); err != nil {
		return fmt.Errorf("bench: idle worker: read the spec: %w", err)
	}
	if spec.Workers <= 0 || spec.Worker < 0 || spec.Worker >= spec.Workers || len(spec.URLs) == 0 {
		return fmt.Errorf("bench: idle worker: bad spec %+v", spec)
	}
	if err := raiseFileLimit(int(spec.Sessions) + idleFileReserve); err != nil {
		return err
	}
	common := Common{Serializer: spec.Serializer, Realm: spec.Realm, AllowRemote: spec.AllowRemote}
	if spec.TLSInsecure {
		common.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true} //nolint:gosec // the parent run was asked for it
	}
	common.setDefaults(spec.Sessions, time.Minute)
	var opened atomic.Int64
	l, err := newLocalOpener(ctx, &common, spec.URLs, spec.Worker, spec.Workers, spec.Concurrency, func() { opened.Add(1) })
	if err != nil {
		return err
	}
	defer l.close()

	var mu sync.Mutex // serializes the lines on out
	enc := json.NewEncoder(out)
	send := func(r idleWorkerReply) error {
		mu.Lock()
		defer mu.Unlock()
		return enc.Encode(r)
	}
	for {
		var req idleWorkerRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("bench: idle worker: read a request: %w", err)
		}
		var reply idleWorkerReply
		if req.Open {
			stop := make(chan struct{})
			progressDone := make(chan struct{})
			go func() { // reports progress while this request opens sessions
				defer close(progressDone)
				t := time.NewTicker(200 * time.Millisecond)
				defer t.Stop()
				var sent int64
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						// Only a count that moved: a progress line of 0
						// would read as the reply (Progress is omitted).
						if n := opened.Load(); n > sent {
							sent = n
							_ = send(idleWorkerReply{Progress: n})
						}
					}
				}
			}()
			errs, err := l.openTo(ctx, req.N, time.Now().Add(time.Duration(req.TimeoutMS)*time.Millisecond))
			close(stop)
			<-progressDone
			reply.Errors = errs
			if err != nil {
				reply.Fatal = err.Error()
			}
		}
		reply.Opened, reply.Alive, _ = l.held(ctx)
		if err := send(reply); err != nil {
			return fmt.Errorf("bench: idle worker: answer: %w", err)
		}
	}
}

// workerOpener is the parent's side of one worker process.
type workerOpener struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	enc     *json.Encoder
	replies chan idleWorkerReply // closed when the worker's stdout ends
	stderr  *tailBuffer
	closed  bool // close ran: the worker was waited for
}

// startWorker starts worker w of workers with command argv and sends it its
// spec. Progress it reports is added to meter.
func startWorker(argv []string, spec idleWorkerSpec, meter *Meter) (*workerOpener, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	wo := &workerOpener{cmd: cmd, replies: make(chan idleWorkerReply, 1), stderr: &tailBuffer{max: 4096}}
	cmd.Stderr = wo.stderr
	var err error
	if wo.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("bench: idle worker %d: %w", spec.Worker, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: idle worker %d: %w", spec.Worker, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: idle worker %d: start %s: %w", spec.Worker, argv[0], err)
	}
	// One goroutine per worker reads its stdout until the worker exits;
	// close waits for it through cmd.Wait.
	go func() {
		defer close(wo.replies)
		dec := json.NewDecoder(bufio.NewReader(stdout))
		var reported int64
		for {
			var r idleWorkerReply
			if err := dec.Decode(&r); err != nil {
				return
			}
			if r.Progress > 0 {
				meter.add(r.Progress - reported)
				reported = r.Progress
				continue
			}
			wo.replies <- r
		}
	}()
	wo.enc = json.NewEncoder(wo.stdin)
	if err := wo.enc.Encode(spec); err != nil {
		return nil, wo.lost(err)
	}
	return wo, nil
}

// ask sends req and waits for the reply.
func (wo *workerOpener) ask(ctx context.Context, req idleWorkerRequest) (idleWorkerReply, error) {
	if err := wo.enc.Encode(req); err != nil {
		return idleWorkerReply{}, wo.lost(err)
	}
	select {
	case r, ok := <-wo.replies:
		if !ok {
			return r, wo.lost(io.ErrUnexpectedEOF)
		}
		return r, nil
	case <-ctx.Done():
		return idleWorkerReply{}, ctx.Err()
	}
}

// lost ends a worker that stopped answering and describes it, with the end
// of what it wrote on stderr.
func (wo *workerOpener) lost(err error) error {
	wo.close() // its stderr is whole once it has been waited for
	msg := strings.TrimSpace(wo.stderr.String())
	if msg == "" {
		return fmt.Errorf("bench: idle worker %d stopped answering: %w", wo.cmd.Process.Pid, err)
	}
	return fmt.Errorf("bench: idle worker %d stopped answering (%s): %w", wo.cmd.Process.Pid, msg, err)
}

func (wo *workerOpener) openTo(ctx context.Context, n int64, deadline time.Time) (map[string]int64, error) {
	r, err := wo.ask(ctx, idleWorkerRequest{Open: true, N: n, TimeoutMS: time.Until(deadline).Milliseconds()})
	if err != nil {
		return nil, err
	}
	if r.Fatal != "" {
		return r.Errors, errors.New(r.Fatal)
	}
	return r.Errors, nil
}

func (wo *workerOpener) held(ctx context.Context) (open, alive int64, err error) {
	r, err := wo.ask(ctx, idleWorkerRequest{})
	return r.Opened, r.Alive, err
}

// close ends the worker's stdin, which closes its sessions and ends it; a
// worker that has not exited a minute later is killed.
func (wo *workerOpener) close() {
	if wo.closed {
		return
	}
	wo.closed = true
	wo.stdin.Close()
	exited := make(chan struct{})
	go func() {
		for range wo.replies { // drain until the worker's stdout ends
		}
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(time.Minute):
		wo.cmd.Process.Kill()
		<-exited
	}
	wo.cmd.Wait()
}

// tailBuffer keeps the last max bytes written to it: a worker's stderr,
// for the error that says why it stopped.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}
