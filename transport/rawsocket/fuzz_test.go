package rawsocket

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/transport"
)

// fakeConn is a net.Conn reading from a fixed input and recording writes.
type fakeConn struct {
	r      io.Reader
	mu     sync.Mutex
	out    bytes.Buffer
	closed bool
}

func (c *fakeConn) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c *fakeConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.out.Write(p)
}
func (c *fakeConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}
func (c *fakeConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *fakeConn) SetDeadline(t time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(t time.Time) error { return nil }

// FuzzHandshake runs the server side of the handshake on arbitrary client
// bytes and checks the shape of the answer against the specification.
func FuzzHandshake(f *testing.F) {
	for _, seed := range [][]byte{
		{magic, 0xF1, 0, 0}, {magic, 0xF2, 0, 0}, {magic, 0x03, 0, 0}, {magic, 0xF0, 0, 0},
		{magic, 0xF7, 0, 0}, {magic, 0xF1, 0, 1}, {magic, 0xF1, 1, 0}, {'G', 'E', 'T', ' '},
		{magic}, {}, {magic, 0xF1, 0, 0, 0, 0, 0, 2, '[', ']'},
	} {
		f.Add(seed, uint8(0), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, limitExp uint8, full bool) {
		maxConns := 0
		if full {
			maxConns = -1 // filled below: the server is full
		}
		s := NewServer(transport.HandlerFunc(nil), ServerOptions{
			Options:     transport.Options{Logger: quiet, MaxMessageSize: lengthLimit(limitExp % 16), PingInterval: -1},
			Serializers: []serializer.Serializer{serializer.JSON, serializer.MessagePack},
		})
		if maxConns < 0 {
			s.opts.MaxConns = 1
			s.sessions.Store(1)
		}
		c := &fakeConn{r: bytes.NewReader(in)}
		p := s.handshake(c)
		if p != nil {
			p.fail(errors.New("fuzz over"))
			<-p.Done()
		}
		rep := c.out.Bytes()
		if len(in) < 4 || in[0] != magic {
			if len(rep) != 0 || p != nil {
				t.Fatalf("input % x: reply % x, want none", in, rep)
			}
			if !c.closed {
				t.Fatal("connection left open")
			}
			return
		}
		if len(rep) < 4 || rep[0] != magic || rep[2] != 0 || rep[3] != 0 {
			t.Fatalf("input % x: malformed reply % x", in, rep)
		}
		id := in[1] & 0x0F
		switch {
		case in[2] != 0 || in[3] != 0:
			if rep[1] != 0x30 || p != nil {
				t.Fatalf("reserved octets: reply % x", rep)
			}
		case id != 1 && id != 2:
			if rep[1] != 0x10 || p != nil {
				t.Fatalf("serializer %d: reply % x", id, rep)
			}
		case full:
			if rep[1] != 0x40 || p != nil {
				t.Fatalf("server full: reply % x", rep)
			}
		default:
			if p == nil || rep[1]&0x0F != id || rep[1]>>4 != limitExp%16 {
				t.Fatalf("input % x: reply % x, want success with L=%d", in, rep, limitExp%16)
			}
			if got, want := p.maxSend, lengthLimit(in[1]>>4); got != want {
				t.Fatalf("send limit %d, want %d", got, want)
			}
			if len(rep) > 4 {
				t.Fatalf("extra bytes written: % x", rep)
			}
		}
		if p == nil && !c.closed {
			t.Fatal("refused connection left open")
		}
	})
}

// chunkReader returns its input in pseudo-random chunk sizes, so that the
// frame reader meets every possible split of headers and payloads.
type chunkReader struct {
	b   []byte
	rng *rand.Rand
	// timeouts: some reads fail with a deadline error, as when the idle
	// sweeper kicks a reader out of its read (the reader then reads again).
	timeouts bool
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.timeouts && r.rng.IntN(4) == 0 {
		return 0, os.ErrDeadlineExceeded
	}
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.b), 1+r.rng.IntN(64))
	if r.rng.IntN(8) == 0 {
		n = min(len(p), len(r.b)) // sometimes all at once
	}
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

type refFrame struct {
	typ     byte
	payload []byte
}

// refParse is a straightforward reading of the specification, against
// which the streaming reader is checked.
func refParse(b []byte, limit int) (frames []refFrame, end string) {
	for {
		if len(b) == 0 {
			return frames, "eof"
		}
		if len(b) < 4 {
			return frames, "unexpected"
		}
		if b[0]&0xF0 != 0 || b[0]&0x07 > 2 {
			return frames, "frame"
		}
		n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		if b[0]&0x08 != 0 {
			if n != 0 {
				return frames, "frame"
			}
			n = 1 << 24
		}
		if n > limit {
			return frames, "large"
		}
		if len(b)-4 < n {
			return frames, "unexpected"
		}
		frames = append(frames, refFrame{b[0] & 0x07, b[4 : 4+n]})
		b = b[4+n:]
	}
}

// FuzzFrameReader feeds arbitrary byte streams, split at arbitrary points,
// to the frame reader: it must not panic, must agree with refParse frame by
// frame, and must never hold a buffer larger than the receive limit.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, '[', ']'}, uint8(0), uint16(16), uint64(1))
	f.Add(append([]byte{1, 0, 0, 3, 'a', 'b', 'c', 2, 0, 0, 0}, frameBytes(0, bytes.Repeat([]byte("x"), 3000))...), uint8(3), uint16(64), uint64(2))
	f.Add([]byte{0, 0, 0x10, 0}, uint8(0), uint16(0), uint64(3))
	f.Add([]byte{0x08, 0, 0, 0}, uint8(15), uint16(4096), uint64(4))
	f.Add([]byte{0x08, 0, 0, 1}, uint8(15), uint16(4096), uint64(4))
	f.Add([]byte{0x13, 0, 0, 0}, uint8(1), uint16(4096), uint64(5))
	f.Add([]byte{0, 0, 1}, uint8(1), uint16(4096), uint64(6))
	f.Add(frameBytes(0, bytes.Repeat([]byte("y"), 700)), uint8(1), uint16(100), uint64(7))
	f.Fuzz(func(t *testing.T, data []byte, limitExp uint8, bufSize uint16, seed uint64) {
		limit := lengthLimit(limitExp % 16)
		want, wantEnd := refParse(data, limit)
		br := bufio.NewReaderSize(&chunkReader{b: data, rng: rand.New(rand.NewPCG(seed, 0)), timeouts: seed%2 == 1}, int(bufSize%8192))
		r := frameReader{br: br, limit: limit}
		maxBuf := max(limit, 1024)
		for i := 0; ; i++ {
			typ, payload, err := r.next()
			if errors.Is(err, os.ErrDeadlineExceeded) {
				i--
				continue
			}
			if err != nil {
				var fe *FrameError
				var tl *errFrameTooLarge
				got := "other"
				switch {
				case err == io.EOF:
					got = "eof"
				case errors.Is(err, io.ErrUnexpectedEOF):
					got = "unexpected"
				case errors.As(err, &fe):
					got = "frame"
				case errors.As(err, &tl):
					got = "large"
				}
				if i != len(want) || got != wantEnd {
					t.Fatalf("ended after %d frames with %q (%v); reference: %d frames then %q", i, got, err, len(want), wantEnd)
				}
				r.release()
				return
			}
			if i >= len(want) {
				t.Fatalf("frame %d beyond the reference's %d", i, len(want))
			}
			if typ != want[i].typ || !bytes.Equal(payload, want[i].payload) {
				t.Fatalf("frame %d: type %d, %d bytes; reference type %d, %d bytes", i, typ, len(payload), want[i].typ, len(want[i].payload))
			}
			if len(payload) > limit {
				t.Fatalf("payload of %d bytes above the limit %d", len(payload), limit)
			}
			if r.big != nil && cap(*r.big) > maxBuf {
				t.Fatalf("buffer of %d bytes for a limit of %d", cap(*r.big), limit)
			}
		}
	})
}
