package rawsocket

import (
	"bufio"
	"errors"
	"io"
	"strconv"

	"github.com/switchyard/switchyard/transport/internal/bufpool"
)

// Frame types (the TTT bits of the frame header).
const (
	frameMessage = 0
	framePing    = 1
	framePong    = 2
)

// growStep is the first buffer size for a payload too large for the read
// buffer; the buffer doubles as bytes actually arrive, so a peer that
// announces 16 MiB and sends nothing costs 64 KiB, not 16 MiB.
const growStep = 64 << 10

// FrameError is a framing violation by the peer. The connection is failed:
// after it nothing on the stream can be trusted.
type FrameError struct {
	Reason string
}

func (e *FrameError) Error() string { return "rawsocket: bad frame: " + e.Reason }

// errFrameTooLarge reports an incoming frame above our receive limit.
type errFrameTooLarge struct{ size, limit int }

func (e *errFrameTooLarge) Error() string {
	return "rawsocket: incoming frame of " + strconv.Itoa(e.size) + " bytes exceeds the limit of " + strconv.Itoa(e.limit)
}

// frameReader reads RawSocket frames from a buffered stream.
//
// A payload that fits the read buffer is returned in place (no copy); a
// larger one is read into a pooled buffer grown as its bytes arrive. Either
// way the payload is valid until release or the next call to next; the
// serializer's Decode does not retain it.
type frameReader struct {
	br    *bufio.Reader
	limit int

	skip int     // bytes of the current in-place payload still in br
	big  *[]byte // pooled buffer of the current large payload
}

// next reads the next frame. A clean end of stream between frames returns
// io.EOF; one inside a frame io.ErrUnexpectedEOF. Framing violations return
// *FrameError or *errFrameTooLarge, and leave the stream unusable.
func (r *frameReader) next() (typ byte, payload []byte, err error) {
	r.release()
	h, err := r.br.Peek(4)
	if err != nil {
		if len(h) > 0 && err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	b0 := h[0]
	if b0&0xF0 != 0 {
		return 0, nil, &FrameError{Reason: "reserved header bits set"}
	}
	typ = b0 & 0x07
	if typ > framePong {
		return 0, nil, &FrameError{Reason: "reserved frame type " + strconv.Itoa(int(typ))}
	}
	n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	if b0&0x08 != 0 {
		// The 25th length bit is legal only for a payload of exactly 2^24.
		if n != 0 {
			return 0, nil, &FrameError{Reason: "length bit X set with a non-zero length"}
		}
		n = MaxFrameSize
	}
	if n > r.limit {
		return 0, nil, &errFrameTooLarge{size: n, limit: r.limit}
	}
	if _, err := r.br.Discard(4); err != nil {
		return 0, nil, err
	}
	if n <= r.br.Size() {
		p, err := r.br.Peek(n)
		if err != nil {
			return 0, nil, unexpected(err)
		}
		r.skip = n
		return typ, p, nil
	}
	bp := bufpool.Get(min(n, growStep))
	buf := *bp
	for len(buf) < n {
		if len(buf) == cap(buf) {
			nb := bufpool.Get(min(n, 2*cap(buf)))
			*nb = append(*nb, buf...)
			*bp = buf
			bufpool.Put(bp)
			bp, buf = nb, *nb
		}
		end := min(n, cap(buf))
		k, err := io.ReadFull(r.br, buf[len(buf):end])
		buf = buf[:len(buf)+k]
		if err != nil {
			*bp = buf
			bufpool.Put(bp)
			return 0, nil, unexpected(err)
		}
	}
	*bp = buf
	r.big = bp
	return typ, buf, nil
}

// release gives back the current payload's memory.
func (r *frameReader) release() {
	if r.skip > 0 {
		r.br.Discard(r.skip) // buffered: cannot fail
		r.skip = 0
	}
	if r.big != nil {
		bufpool.Put(r.big)
		r.big = nil
	}
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// frameHeaderSize is the length of a frame header: type and 24-bit length.
const frameHeaderSize = 4

// writeFrame writes one frame to bw. The header goes out byte by byte so
// that no header buffer escapes to the heap.
func writeFrame(bw *bufio.Writer, typ byte, payload []byte) error {
	n := len(payload)
	b0 := typ
	if n == MaxFrameSize {
		b0 |= 0x08
		n = 0
	}
	bw.WriteByte(b0)
	bw.WriteByte(byte(n >> 16))
	bw.WriteByte(byte(n >> 8))
	bw.WriteByte(byte(n))
	_, err := bw.Write(payload)
	return err
}
