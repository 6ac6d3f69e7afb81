package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport/internal/peerutil"
)

// pipeInbox is how many frames may travel between the two ends of a pipe
// before the sending writer blocks, as a socket buffer would fill.
const pipeInbox = 128

var errPipeClosedByPeer = errors.New("transport: pipe: closed by peer")

var errPipeWriteTimeout = errors.New("transport: pipe: write timed out (the other end is not reading)")

// Pipe returns the two ends of an in-process connection, for tests and for
// embedding a client in the router's process. Frames Sent on one end are
// decoded by Recv on the other with s, so the router's encode and decode
// paths are exercised as on a network transport.
//
// Each end has the same outbound queue semantics as a network peer (limits
// from opts, ErrSlowConsumer, Close flushing within CloseTimeout) and its
// own writer goroutine, which hands frames to the other end. Both ends use
// opts.MaxMessageSize as their limit; keepalive does not apply.
//
// Closing one end closes the other once it has received what was sent:
// its Recv then returns an error wrapping io.EOF. Unlike the network
// transports, a Recv whose context ends leaves the pipe readable.
func Pipe(s serializer.Serializer, opts Options) (client, server Peer) {
	opts = opts.WithDefaults()
	a := newPipePeer(s, opts)
	b := newPipePeer(s, opts)
	a.other, b.other = b, a
	b.rawPayloads = true // the server end feeds a router
	go a.writeLoop()
	go b.writeLoop()
	return a, b
}

// pipePeer is one end of a Pipe. Lock order: Lifecycle.mu → Queue.mu.
type pipePeer struct {
	ser  serializer.Serializer
	opts Options
	// rawPayloads: decode with serializer.DecodeRaw (the server end).
	rawPayloads bool
	info        Info
	q           *Queue
	life        peerutil.Lifecycle
	inbox       chan []byte // filled by the other end's writer
	other       *pipePeer

	// Write state, owned by the writer goroutine.
	ctl, frames [][]byte
}

var _ Peer = (*pipePeer)(nil)

func newPipePeer(s serializer.Serializer, opts Options) *pipePeer {
	p := &pipePeer{
		ser:   s,
		opts:  opts,
		q:     NewQueue(opts.QueueMaxBytes, opts.QueueMaxFrames),
		inbox: make(chan []byte, pipeInbox),
		info: Info{
			Transport:  "pipe",
			Protocol:   "wamp.2." + s.Name(),
			RemoteAddr: "pipe",
			MaxRecv:    opts.MaxMessageSize,
			MaxSend:    opts.MaxMessageSize,
		},
	}
	p.life.Init()
	return p
}

func (p *pipePeer) Serializer() serializer.Serializer { return p.ser }
func (p *pipePeer) Info() Info                        { return p.info }
func (p *pipePeer) Done() <-chan struct{}             { return p.life.Done() }

// Send queues frame for the writer; see Peer.
func (p *pipePeer) Send(frame []byte) error {
	if len(frame) > p.info.MaxSend {
		return ErrFrameTooLarge
	}
	err := p.q.Push(frame)
	if err == ErrSlowConsumer {
		p.life.Fail(err)
		p.q.Close()
	}
	return err
}

// Close flushes the queue to the other end (within CloseTimeout) and
// closes this end. It does not wait; see Done.
func (p *pipePeer) Close(reason string) error {
	if p.life.Close(reason) {
		p.q.Close()
	}
	return nil
}

// Recv returns the next message from the other end.
func (p *pipePeer) Recv(ctx context.Context) (spec.Message, error) {
	select {
	case f := <-p.inbox:
		return p.decode(f)
	default:
	}
	select {
	case f := <-p.inbox:
		return p.decode(f)
	case <-p.other.life.Done():
		return p.ended()
	case <-p.life.Done():
		return p.ended()
	case <-ctx.Done():
		return nil, fmt.Errorf("transport: pipe: recv: %w", ctx.Err())
	}
}

// ended reports the end of the pipe to Recv, once one end has exited:
// first the frames still in the inbox, then io.EOF if the other end went
// away, ErrClosed if this end was closed.
func (p *pipePeer) ended() (spec.Message, error) {
	select {
	case f := <-p.inbox:
		return p.decode(f)
	default:
	}
	select {
	case <-p.other.life.Done():
		p.Close("closed by peer")
		return nil, fmt.Errorf("transport: pipe: closed by peer: %w", io.EOF)
	default:
	}
	if err := p.life.Err(); err != nil {
		return nil, fmt.Errorf("transport: pipe: %w: %w", ErrClosed, err)
	}
	return nil, fmt.Errorf("transport: pipe: %w", ErrClosed)
}

func (p *pipePeer) decode(f []byte) (spec.Message, error) {
	var m spec.Message
	var err error
	if p.rawPayloads {
		m, err = serializer.DecodeRaw(p.ser, f)
	} else {
		m, err = p.ser.Decode(f)
	}
	if err != nil {
		var pe *spec.ProtocolError
		if !errors.As(err, &pe) {
			err = fmt.Errorf("%w: %w", &spec.ProtocolError{Reason: err.Error()}, err)
		}
		return nil, fmt.Errorf("transport: pipe: decode: %w", err)
	}
	return m, nil
}

// writeLoop is the end's writer goroutine: it hands queued frames to the
// other end, and closes Done when it exits.
func (p *pipePeer) writeLoop() {
	defer p.life.Finish()
	defer p.q.Close()
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-p.q.Ready():
			if err := p.flush(t, time.Time{}); err != nil {
				p.life.Fail(err)
				return
			}
		case <-p.other.life.Done():
			p.life.Fail(errPipeClosedByPeer)
			return
		case <-p.life.Closing():
			select {
			case <-p.life.Killed():
				return
			default:
			}
			if err := p.flush(t, time.Now().Add(p.opts.CloseTimeout)); err != nil {
				p.life.Fail(err)
			}
			return
		}
	}
}

// flush delivers everything queued. A batch must be taken by the other end
// within WriteTimeout (and everything before closeBy, if set).
func (p *pipePeer) flush(t *time.Timer, closeBy time.Time) error {
	for {
		p.ctl, p.frames = p.q.Take(p.ctl, p.frames)
		if len(p.frames) == 0 && len(p.ctl) == 0 {
			return nil
		}
		d := p.opts.WriteTimeout
		if !closeBy.IsZero() {
			d = min(d, time.Until(closeBy))
		}
		t.Reset(d)
		for _, f := range p.frames {
			select {
			case p.other.inbox <- f:
			case <-p.other.life.Done():
				t.Stop()
				return errPipeClosedByPeer
			case <-p.life.Killed():
				t.Stop()
				return p.life.Err()
			case <-t.C:
				return errPipeWriteTimeout
			}
		}
		t.Stop()
		p.q.Release()
		clear(p.frames)
	}
}
