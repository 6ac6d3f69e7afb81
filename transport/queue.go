package transport

import "sync"

// retainBatch is the largest batch slice capacity the queue keeps between
// bursts. A burst may grow the slices to thousands of entries; keeping them
// on every idle session would cost memory for nothing, so larger ones are
// dropped and regrown by the next burst.
const retainBatch = 1024

// Queue is a peer's bounded outbound queue: many producers (the router's
// goroutines, through Peer.Send) and one consumer (the peer's writer
// goroutine).
//
// It is bounded by total bytes and by frame count, counting the frames the
// writer has taken but not yet written, so that a stalled connection holds at
// most the limit in memory. Push never blocks: past a limit it fails with
// ErrSlowConsumer, and the queue closes, because silently dropping one
// message of a session's stream is worse than disconnecting it. A frame
// pushed into an empty queue is always accepted, whatever its size: the byte
// limit measures backlog, not message size (the transports check the size
// against the peer's limit first).
//
// The writer takes every pending frame at once by swapping slices, writes
// the batch, then calls Release. Control frames (a RawSocket PONG) are kept
// apart and handed out ahead of the data frames of the same batch; since the
// writer writes whole frames, a control frame never lands inside another.
//
// In steady state neither Push nor Take allocates: the two slices swap
// back and forth and keep their capacity.
//
// All methods are safe for concurrent use. The queue's mutex is a leaf
// lock: it is never held while calling out, and may be taken while a peer
// holds its own lock.
type Queue struct {
	maxBytes, maxFrames int
	ready               chan struct{}

	mu sync.Mutex // Protects the fields below.
	// pending frames, waiting for the writer.
	frames, control [][]byte
	pendingBytes    int
	pendingFrames   int
	// in flight: taken by the writer and not yet released.
	inflightBytes  int
	inflightFrames int
	closed         bool
}

// NewQueue returns an empty queue bounded by maxBytes and maxFrames; zero or
// negative limits mean DefaultQueueMaxBytes and DefaultQueueMaxFrames.
func NewQueue(maxBytes, maxFrames int) *Queue {
	if maxBytes <= 0 {
		maxBytes = DefaultQueueMaxBytes
	}
	if maxFrames <= 0 {
		maxFrames = DefaultQueueMaxFrames
	}
	return &Queue{maxBytes: maxBytes, maxFrames: maxFrames, ready: make(chan struct{}, 1)}
}

// Push queues a data frame. It never blocks. It returns ErrSlowConsumer when
// the frame would pass a limit (the queue is then closed: the caller closes
// the peer), and ErrClosed once the queue is closed. The caller must not
// modify frame afterwards.
func (q *Queue) Push(frame []byte) error { return q.push(frame, false) }

// PushControl queues a control frame, written ahead of the data frames
// pending at the next Take. Control frames count against the same limits, so
// a peer flooding PINGs without reading PONGs is a slow consumer too.
func (q *Queue) PushControl(frame []byte) error { return q.push(frame, true) }

func (q *Queue) push(frame []byte, control bool) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	used := q.pendingBytes + q.inflightBytes
	if q.pendingFrames+q.inflightFrames >= q.maxFrames || (used > 0 && used+len(frame) > q.maxBytes) {
		q.closed = true
		q.mu.Unlock()
		return ErrSlowConsumer
	}
	wake := q.pendingFrames == 0
	if control {
		q.control = append(q.control, frame)
	} else {
		q.frames = append(q.frames, frame)
	}
	q.pendingFrames++
	q.pendingBytes += len(frame)
	q.mu.Unlock()
	if wake {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return nil
}

// Ready receives a value when frames became pending in an empty queue. It
// is a one-slot wake-up: the writer must Take until the queue is empty before
// it waits again. A spurious wake-up is possible; Take then returns nothing.
func (q *Queue) Ready() <-chan struct{} { return q.ready }

// Take hands every pending frame to the writer. control and frames are the
// writer's previous batch (or nil): Take clears them, so the queue does not
// pin frames already written, and keeps them as the new pending slices. The
// returned batch stays counted against the limits until Release.
func (q *Queue) Take(control, frames [][]byte) (takenControl, takenFrames [][]byte) {
	control = recycle(control)
	frames = recycle(frames)
	q.mu.Lock()
	takenControl, q.control = q.control, control
	takenFrames, q.frames = q.frames, frames
	q.inflightBytes += q.pendingBytes
	q.inflightFrames += q.pendingFrames
	q.pendingBytes, q.pendingFrames = 0, 0
	q.mu.Unlock()
	return takenControl, takenFrames
}

func recycle(b [][]byte) [][]byte {
	if cap(b) > retainBatch {
		return nil
	}
	clear(b)
	return b[:0]
}

// Release tells the queue that everything taken so far has been written;
// it no longer counts against the limits.
func (q *Queue) Release() {
	q.mu.Lock()
	q.inflightBytes, q.inflightFrames = 0, 0
	q.mu.Unlock()
}

// Close makes Push fail with ErrClosed from now on. Frames already pending
// stay for the writer to Take (Close is the start of a graceful flush).
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// Len returns the frames and bytes pending or in flight.
func (q *Queue) Len() (frames, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pendingFrames + q.inflightFrames, q.pendingBytes + q.inflightBytes
}
