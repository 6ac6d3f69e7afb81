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
// A frame that fits the read buffer, header included, is returned in place
// (no copy); a larger payload is read into a pooled buffer grown as its
// bytes arrive. Either way the payload is valid until release or the next
// call to next; the serializer's Decode does not retain it.
//
// A read that fails with a timeout can be repeated: next consumes a small
// frame only once it is whole, and keeps a large frame's progress, so that
// a reader kicked out of a blocked read (to park it, see park.go) loses
// nothing. Any other error leaves the stream unusable.
type frameReader struct {
	br    *bufio.Reader // nil while the peer is parked
	limit int

	skip int     // bytes of the current in-place frame still in br
	big  *[]byte // pooled buffer of the current large payload
	// want is the length of the large payload being read into big, until
	// it is complete; typ is its frame type.
	want int
	typ  byte
}

// next reads the next frame. A clean end of stream between frames returns
// io.EOF; one inside a frame io.ErrUnexpectedEOF. Framing violations return
// *FrameError or *errFrameTooLarge, and leave the stream unusable.
func (r *frameReader) next() (typ byte, payload []byte, err error) {
	if r.want > 0 {
		return r.fill()
	}
	r.release()
	h, err := r.br.Peek(frameHeaderSize)
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
	if frameHeaderSize+n <= r.br.Size() {
		p, err := r.br.Peek(frameHeaderSize + n)
		if err != nil {
			return 0, nil, unexpected(err)
		}
		r.skip = frameHeaderSize + n
		return typ, p[frameHeaderSize:], nil
	}
	r.br.Discard(frameHeaderSize) // peeked: cannot fail
	r.big = bufpool.Get(min(n, growStep))
	r.want, r.typ = n, typ
	return r.fill()
}

// fill reads on into the large payload.
func (r *frameReader) fill() (typ byte, payload []byte, err error) {
	bp := r.big
	buf := *bp
	for len(buf) < r.want {
		if len(buf) == cap(buf) {
			nb := bufpool.Get(min(r.want, 2*cap(buf)))
			*nb = append(*nb, buf...)
			*bp = buf
			bufpool.Put(bp)
			bp, buf = nb, *nb
			r.big = bp
		}
		end := min(r.want, cap(buf))
		k, err := io.ReadFull(r.br, buf[len(buf):end])
		buf = buf[:len(buf)+k]
		if err != nil {
			*bp = buf // progress kept for a repeated call
			return 0, nil, unexpected(err)
		}
	}
	*bp = buf
	r.want = 0
	return r.typ, buf, nil
}

// idle reports whether the reader is between frames with nothing buffered,
// so that the read buffer can be given back without losing a byte.
func (r *frameReader) idle() bool {
	return r.want == 0 && r.skip == 0 && r.big == nil && r.br.Buffered() == 0
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
	r.want = 0
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
