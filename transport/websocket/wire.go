package websocket

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	gws "github.com/gobwas/ws"
)

// wire is a connection's single path onto the socket, shared by writers
// that must never interleave:
//
//   - wsConn, which writes the control frames (the pongs it answers from
//     within Recv, the keepalive's pings, the close frame), each whole in
//     one Write, and on the server side the upgrade response before them;
//   - the peer's writer goroutine, which frames the data messages itself and
//     writes all the frames queued for the connection in one system call
//     (writeFrames).
//
// The wire also keeps the write deadline, for both: like the RawSocket
// writer it moves the deadline only once less than half of the timeout is
// left (moving it costs a timer update per write), and after limit never
// past the close deadline.
type wire struct {
	conn    net.Conn
	timeout time.Duration

	mu       sync.Mutex // Protects the fields below; held across the write, so frames never interleave.
	deadline time.Time  // the write deadline last set
	closeBy  time.Time  // once set (limit), no write goes past it
	sealed   bool       // a close frame went out: nothing may follow it
}

func newWire(c net.Conn, timeout time.Duration) *wire {
	return &wire{conn: c, timeout: timeout}
}

// errSealed is what Write and writeBuffers return once a close frame was
// written: the frames were dropped, not sent.
var errSealed = errors.New("websocket: frame dropped after the close frame")

// Write writes p, one or more whole frames, onto the connection. Once a
// close frame was written (writeClose) it writes nothing and returns
// errSealed: no frame may follow a close frame (RFC 6455, section 5.5.1),
// and whatever was still queued when the peer's close frame was answered
// is for a peer that has stopped reading messages.
func (w *wire) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sealed {
		return 0, errSealed
	}
	w.arm()
	return w.conn.Write(p)
}

// writeBuffers writes the buffers in order, as one write where the
// connection supports it (writev), without letting another frame in;
// nothing once sealed (errSealed), as Write.
func (w *wire) writeBuffers(bufs *net.Buffers) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sealed {
		*bufs = nil
		return errSealed
	}
	w.arm()
	_, err := bufs.WriteTo(w.conn)
	return err
}

// writeClose writes the close frame p, the last frame the connection
// carries. With last, the connection is closed right after (the server
// answering the peer's close frame), and p is written to leave with the FIN
// (writeLast).
func (w *wire) writeClose(p []byte, last bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sealed {
		return nil
	}
	w.sealed = true
	w.arm()
	if last {
		return w.writeLast(p)
	}
	_, err := w.conn.Write(p)
	return err
}

// limit bounds every write from now on by closeBy: the close handshake
// must be over by then.
func (w *wire) limit(closeBy time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closeBy.IsZero() || closeBy.Before(w.closeBy) {
		w.closeBy = closeBy
		w.deadline = closeBy
		w.conn.SetWriteDeadline(closeBy)
	}
}

// prime arms the write deadline ahead of the first write, on the goroutine
// that set the connection up: the writer goroutine, started on demand with
// a fresh stack, then finds it armed and does not grow its stack into the
// runtime's timer code (one stack copy per WebSocket session in the
// connect profile).
func (w *wire) prime() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.arm()
}

// arm makes sure the coming write has a deadline; w.mu is held.
func (w *wire) arm() {
	if !w.closeBy.IsZero() {
		return // limit set it for good
	}
	now := time.Now()
	if w.deadline.Sub(now) > w.timeout/2 {
		return
	}
	w.deadline = now.Add(w.timeout)
	w.conn.SetWriteDeadline(w.deadline)
}

// WebSocket frame opcodes (RFC 6455, section 5.2) for data messages.
const (
	opText   = 0x1
	opBinary = 0x2
	finBit   = 0x80
)

// appendFrameHeader appends the header of one unmasked, final (unfragmented)
// frame of n payload bytes: the server's frames are never masked (RFC
// 6455, section 5.1). It does not allocate when dst has room.
func appendFrameHeader(dst []byte, opcode byte, n int) []byte {
	switch {
	case n < 126:
		return append(dst, finBit|opcode, byte(n))
	case n <= 0xffff:
		return append(dst, finBit|opcode, 126, byte(n>>8), byte(n))
	default:
		u := uint64(n)
		return append(dst, finBit|opcode, 127,
			byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
			byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
}

// maskBit, in a header's second byte, marks a masked frame.
const maskBit = 0x80

// newMask returns the masking key of one client frame. RFC 6455 (section
// 5.3) asks for keys an intermediary cannot predict, to keep a page's
// script from steering the bytes a proxy sees; math/rand/v2's generator is
// the runtime's ChaCha8, seeded from the system's entropy, and costs no
// system call or lock per frame.
func newMask() [4]byte {
	var k [4]byte
	binary.LittleEndian.PutUint32(k[:], rand.Uint32())
	return k
}

// appendMaskedFrame appends one final frame carrying payload, masked with
// a new key, as a client sends it; payload itself is left as it is. It
// does not allocate when dst has room.
func appendMaskedFrame(dst []byte, opcode byte, payload []byte) []byte {
	start := len(dst)
	dst = appendFrameHeader(dst, opcode, len(payload))
	dst[start+1] |= maskBit
	key := newMask()
	dst = append(dst, key[:]...)
	at := len(dst)
	dst = append(dst, payload...)
	gws.Cipher(dst[at:], key, 0)
	return dst
}
