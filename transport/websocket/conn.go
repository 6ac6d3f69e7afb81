package websocket

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	gws "github.com/gobwas/ws"

	"github.com/switchyard/switchyard/transport/internal/bufpool"
)

// closeError is the close frame the other side sent: readMessage returns
// it once the close frame is read (and answered).
type closeError struct {
	code   int
	reason string
}

func (e *closeError) Error() string {
	return fmt.Sprintf("websocket: close frame received (status %d %q)", e.code, e.reason)
}

// frameError is a violation of RFC 6455 by the other side: readMessage
// sends a close frame with code and returns it.
type frameError struct {
	code int
	msg  string
}

func (e *frameError) Error() string {
	return fmt.Sprintf("websocket: %s (closing with status %d)", e.msg, e.code)
}

// closeStatus is the status of the close frame the other side sent, or -1.
func closeStatus(err error) int {
	var ce *closeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return -1
}

// Opcodes and close codes (RFC 6455, sections 5.2 and 7.4.1).
const (
	opContinuation = 0x0
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA

	statusNormal        = 1000
	statusProtocolError = 1002
	statusInvalidData   = 1007
	statusTooBig        = 1009
	statusNoStatus      = 1005
)

// wsConn is one side of an upgraded WebSocket connection, the router's or
// a client's: it reads the other side's frames itself, off a small
// bufio.Reader, on the session's reader goroutine — a shallow loop with no
// context, timer or goroutine per frame — answers the control frames
// (pings, the close handshake) and writes its own control frames through
// the wire the data frames go through. The two sides differ only in
// masking (RFC 6455, section 5.3): a client masks every frame it sends, a
// server none, and each refuses the other's frames masked the wrong way.
//
// The reader owns br, ctl and the message being read; pongs and
// closeRecv are how it tells the keepalive and the close handshake what it
// saw.
type wsConn struct {
	nc net.Conn
	// pre holds bytes read past the upgrade request (frames the client
	// sent at once): Read returns them before reading nc.
	pre []byte
	// br reads through Read, off the pool; nil while parked.
	br     *bufio.Reader
	w      *wire
	limit  int  // the largest message accepted
	client bool // the client side: frames sent are masked, frames read are not
	// atRest is set while the reader waits for the first byte of a frame
	// with no message half read and nothing buffered: the one place it may
	// park (see park.go).
	atRest bool
	pk     parkState

	hdr [maxClientFrameHeader]byte
	ctl [gws.MaxControlFramePayloadSize]byte // a control frame's payload

	pongs     chan struct{} // a pong arrived; capacity 1
	closeRecv chan struct{} // closed once the other side's close frame is read, or reading failed
	closeOnce sync.Once
	closeSent atomic.Bool
}

// maxClientFrameHeader is the longest header of a masked frame: two
// bytes, a 64-bit length and the 4-byte mask.
const maxClientFrameHeader = 14

// newConn reads the frames of nc, after pre (the bytes read past the
// opening handshake, if any); client says which side of the connection
// this is.
func newConn(nc net.Conn, pre []byte, w *wire, limit int, client bool) *wsConn {
	c := &wsConn{
		nc:        nc,
		pre:       pre,
		w:         w,
		limit:     limit,
		client:    client,
		pongs:     make(chan struct{}, 1),
		closeRecv: make(chan struct{}),
	}
	c.pk.seen.Store(true)
	c.takeReader()
	return c
}

// takeReader gives the reader a pooled read buffer.
func (c *wsConn) takeReader() {
	br := readers.Get().(*bufio.Reader)
	br.Reset(c)
	c.br = br
}

// Read is what br reads: first pre, then the connection. A read cut short
// by the idle sweeper's kick (see park.go) reads on, unless the reader is
// at rest and may park: then it returns errParkNow.
func (c *wsConn) Read(b []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(b, c.pre)
		c.pre = c.pre[n:]
		if len(c.pre) == 0 {
			c.pre = nil
		}
		return n, nil
	}
	for {
		n, err := c.nc.Read(b)
		if err == nil || !c.canPark() || !isDeadline(err) {
			return n, err
		}
		switch c.kicked() {
		case kickRetry:
			if n > 0 {
				return n, nil
			}
			continue
		case kickPark:
			if n > 0 {
				return n, nil
			}
			return 0, errParkNow
		}
		return n, err
	}
}

// awaitFrame waits for the first byte of the next frame, between frames:
// the reader's place of rest, where a kick may park it.
func (c *wsConn) awaitFrame() error {
	if c.br == nil {
		c.takeReader() // resumed after a park
	}
	if c.br.Buffered() > 0 {
		return nil
	}
	c.atRest = true
	_, err := c.br.Peek(1)
	c.atRest = false
	return err
}

// frameHeader is a parsed frame header.
type frameHeader struct {
	fin    bool
	rsv    byte
	op     byte
	masked bool
	mask   [4]byte
	length int64
}

// readHeader reads one frame header. It is parsed here rather than with
// gobwas/ws.ReadHeader, which allocates its scratch buffer per frame.
func (c *wsConn) readHeader() (frameHeader, error) {
	var h frameHeader
	b := c.hdr[:2]
	if _, err := io.ReadFull(c.br, b); err != nil {
		return h, err
	}
	h.fin = b[0]&0x80 != 0
	h.rsv = b[0] & 0x70
	h.op = b[0] & 0x0f
	h.masked = b[1]&0x80 != 0
	n := int(b[1] & 0x7f)
	ext := 0
	switch n {
	case 126:
		ext = 2
	case 127:
		ext = 8
	}
	rest := ext
	if h.masked {
		rest += 4
	}
	b = c.hdr[2 : 2+rest]
	if _, err := io.ReadFull(c.br, b); err != nil {
		return h, unexpected(err)
	}
	switch ext {
	case 0:
		h.length = int64(n)
	case 2:
		h.length = int64(binary.BigEndian.Uint16(b))
	case 8:
		u := binary.BigEndian.Uint64(b)
		if u > 1<<62 {
			return h, &frameError{statusProtocolError, "frame length out of range"}
		}
		h.length = int64(u)
	}
	if h.masked {
		copy(h.mask[:], b[ext:])
	}
	return h, nil
}

// unexpected turns an EOF inside a frame into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readMessage reads one whole data message (all its fragments) into a
// pooled buffer that grows as the bytes arrive; see msgConn. It answers
// pings, passes pongs to ping, and answers a close frame, returning a
// *closeError. A frame breaking RFC 6455 (masked the wrong way, reserved bits or
// opcodes, a bad fragment sequence, an invalid close payload), a text
// message that is not UTF-8, or a message above the limit gets the close
// frame with the status RFC 6455 gives it, and a *frameError.
func (c *wsConn) readMessage() (*[]byte, error) {
	bp, err := c.readData()
	if err == errParkNow {
		return nil, err // at rest: nothing was read
	}
	if err != nil {
		if bp != nil {
			bufpool.Put(bp)
		}
		var fe *frameError
		if errors.As(err, &fe) {
			c.sendClose(fe.code, fe.msg, false)
		}
		c.closeOnce.Do(func() { close(c.closeRecv) })
		return nil, err
	}
	return bp, nil
}

func (c *wsConn) readData() (*[]byte, error) {
	var bp *[]byte
	var text bool
	for {
		if bp == nil {
			if err := c.awaitFrame(); err != nil {
				return nil, err
			}
		}
		h, err := c.readHeader()
		if err != nil {
			if bp != nil {
				err = unexpected(err)
			}
			return bp, err
		}
		if !c.pk.seen.Load() {
			c.pk.seen.Store(true)
		}
		if h.rsv != 0 {
			// No extension is ever negotiated (permessage-deflate is declined).
			return bp, &frameError{statusProtocolError, "reserved bits set"}
		}
		if h.masked == c.client {
			if c.client {
				return bp, &frameError{statusProtocolError, "masked server frame"}
			}
			return bp, &frameError{statusProtocolError, "unmasked client frame"}
		}
		if h.op >= opClose {
			if err := c.control(h); err != nil {
				return bp, err
			}
			continue
		}
		switch h.op {
		case opContinuation:
			if bp == nil {
				return bp, &frameError{statusProtocolError, "continuation frame without a message"}
			}
		case opText, opBinary:
			if bp != nil {
				return bp, &frameError{statusProtocolError, "new message inside a fragmented one"}
			}
			text = h.op == opText
			bp = bufpool.Get(min(readChunk, max(int(h.length), 64)))
		default:
			return bp, &frameError{statusProtocolError, "reserved opcode"}
		}
		if int64(len(*bp))+h.length > int64(c.limit) {
			return bp, &frameError{statusTooBig, fmt.Sprintf("message above %d bytes", c.limit)}
		}
		if bp, err = c.readPayload(bp, int(h.length), h); err != nil {
			return bp, err
		}
		if h.fin {
			if text && !utf8.Valid(*bp) {
				return bp, &frameError{statusInvalidData, "text message is not UTF-8"}
			}
			return bp, nil
		}
	}
}

// readPayload appends the n payload bytes of frame h, unmasked, to the
// pooled buffer, growing it (pooled) as they arrive.
func (c *wsConn) readPayload(bp *[]byte, n int, h frameHeader) (*[]byte, error) {
	buf := *bp
	start := len(buf)
	for n > 0 {
		if len(buf) == cap(buf) {
			nb := bufpool.Get(2 * cap(buf))
			*nb = append(*nb, buf...)
			*bp = buf
			bufpool.Put(bp)
			bp, buf = nb, *nb
		}
		room := min(cap(buf)-len(buf), n)
		k, err := io.ReadFull(c.br, buf[len(buf):len(buf)+room])
		buf = buf[:len(buf)+k]
		n -= k
		if err != nil {
			*bp = buf
			return bp, unexpected(err)
		}
	}
	if h.masked {
		gws.Cipher(buf[start:], h.mask, 0)
	}
	*bp = buf
	return bp, nil
}

// control handles one control frame.
func (c *wsConn) control(h frameHeader) error {
	if !h.fin || h.length > gws.MaxControlFramePayloadSize {
		return &frameError{statusProtocolError, "fragmented or oversize control frame"}
	}
	p := c.ctl[:h.length]
	if _, err := io.ReadFull(c.br, p); err != nil {
		return unexpected(err)
	}
	if h.masked {
		gws.Cipher(p, h.mask, 0)
	}
	switch h.op {
	case opPing:
		if err := c.writeControl(opPong, p); err != nil {
			return fmt.Errorf("websocket: pong: %w", err)
		}
	case opPong:
		select {
		case c.pongs <- struct{}{}:
		default:
		}
	case opClose:
		code, reason := statusNoStatus, ""
		switch {
		case len(p) == 1:
			return &frameError{statusProtocolError, "close frame of one byte"}
		case len(p) >= 2:
			code = int(binary.BigEndian.Uint16(p))
			reason = string(p[2:])
			if err := gws.CheckCloseFrameData(gws.StatusCode(code), reason); err != nil {
				return &frameError{statusProtocolError, "invalid close frame: " + err.Error()}
			}
		}
		// Echo the status (RFC 6455, section 5.5.1), unless we closed first.
		echo := code
		if echo == statusNoStatus {
			echo = statusNormal
		}
		// A server closes the connection right after its answer (it closes
		// TCP first, RFC 6455 section 7.1.1): the answer goes with the FIN.
		c.sendClose(echo, "", !c.client)
		return &closeError{code: code, reason: reason}
	default:
		return &frameError{statusProtocolError, "reserved control opcode"}
	}
	return nil
}

// sendClose writes a close frame once; later calls do nothing. With last
// the connection is closed right after, and the frame leaves with the FIN
// (wire.writeClose).
func (c *wsConn) sendClose(code int, reason string, last bool) {
	if !c.closeSent.CompareAndSwap(false, true) {
		return
	}
	if len(reason) > maxCloseReason {
		reason = reason[:maxCloseReason]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	var p [gws.MaxControlFramePayloadSize]byte
	binary.BigEndian.PutUint16(p[:], uint16(code))
	n := 2 + copy(p[2:], reason)
	c.writeFrame(opClose, p[:n], last) // a failed write ends the connection anyway
}

// writeControl writes one control frame with payload (at most 125 bytes),
// masked on the client side, in one Write.
func (c *wsConn) writeControl(op byte, payload []byte) error { return c.writeFrame(op, payload, false) }

// writeFrame writes a control frame. It is built in a pooled buffer: on
// the stack it would escape to the heap (the connection's Write is an
// interface call), one allocation per pong. A close frame is the wire's
// last (writeClose).
func (c *wsConn) writeFrame(op byte, payload []byte, last bool) error {
	bp := bufpool.Get(maxClientFrameHeader + gws.MaxControlFramePayloadSize)
	b := (*bp)[:0]
	if c.client {
		b = appendMaskedFrame(b, op, payload)
	} else {
		b = append(appendFrameHeader(b, op, len(payload)), payload...)
	}
	var err error
	if op == opClose {
		err = c.w.writeClose(b, last)
	} else {
		_, err = c.w.Write(b)
	}
	*bp = b[:0]
	bufpool.Put(bp)
	if errors.Is(err, errSealed) {
		return nil // a ping or pong after the close frame: not needed
	}
	return err
}

// ping writes a ping and waits for a pong; see msgConn.
func (c *wsConn) ping(ctx context.Context) error {
	select {
	case <-c.pongs: // a stale one
	default:
	}
	if err := c.writeControl(opPing, nil); err != nil {
		return fmt.Errorf("websocket: ping: %w", err)
	}
	select {
	case <-c.pongs:
		return nil
	case <-c.closeRecv:
		return errors.New("websocket: ping: connection closing")
	case <-ctx.Done():
		return fmt.Errorf("websocket: ping: %w", ctx.Err())
	}
}

// closeHandshake sends the close frame and waits, until closeBy, for the
// reader to read the other side's; see msgConn.
func (c *wsConn) closeHandshake(code int, reason string, closeBy time.Time) {
	c.sendClose(code, reason, false)
	t := time.NewTimer(time.Until(closeBy))
	defer t.Stop()
	select {
	case <-c.closeRecv:
	case <-t.C:
	}
}

func (c *wsConn) closeNow() { c.nc.Close() }
