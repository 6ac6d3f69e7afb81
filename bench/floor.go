package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
	"github.com/switchyard/switchyard/transport/websocket"
)

// Floor is the connect scenario's floor: a server that answers each
// session with bytes prepared at start — the RawSocket or WebSocket
// handshake, a WELCOME for the HELLO, a GOODBYE for the GOODBYE — and
// decodes, routes and remembers nothing. What it spends per session is the
// least a Go server using package net can spend on this machine: the
// system calls, the TCP work on both ends of the loopback, one goroutine
// and the runtime under it. A router's connect figure read against it
// shows how much of a session is the router's own.
//
// It serves one listener for both transports (RawSocket's handshake opens
// with 0x7F, which no HTTP request can), any of the three serializers, and
// nothing but session setup and teardown: other messages are read and
// ignored, fragmented WebSocket messages are not reassembled. It is a
// measuring instrument, not a router.
//
// Each connection has one goroutine, owned by the Floor and joined by Close.
type Floor struct {
	ln net.Listener
	wg sync.WaitGroup
	// canned holds each serializer's WELCOME and GOODBYE, by name.
	canned map[string]cannedReplies

	mu     sync.Mutex // Protects the fields below.
	conns  map[net.Conn]struct{}
	closed bool
}

// cannedReplies are one serializer's answers, encoded once.
type cannedReplies struct {
	welcome, goodbye []byte
}

// floorMaxFrame bounds the frames a Floor reads: session setup is small,
// and anything larger closes the connection.
const floorMaxFrame = 64 << 10

// ListenFloor listens on address ("127.0.0.1:0", or a socket path for
// network "unix") and serves until Close.
func ListenFloor(network, address string) (*Floor, error) {
	f, err := newFloor()
	if err != nil {
		return nil, err
	}
	if f.ln, err = transport.Listen(context.Background(), network, address); err != nil {
		return nil, fmt.Errorf("bench: floor: %w", err)
	}
	f.wg.Add(1)
	go f.accept()
	return f, nil
}

// newFloor prepares a Floor's answers; it is not listening yet.
func newFloor() (*Floor, error) {
	canned := map[string]cannedReplies{}
	welcome := &spec.Welcome{Session: 1, Details: spec.Dict{
		"roles":      spec.Dict{spec.RoleBroker: spec.Dict{}, spec.RoleDealer: spec.Dict{}},
		"authid":     "floor",
		"authrole":   "anonymous",
		"authmethod": "anonymous",
	}}
	goodbye := &spec.Goodbye{Details: spec.Dict{}, Reason: spec.CloseGoodbyeAndOut}
	for _, s := range serializer.All() {
		w, err := s.Encode(nil, welcome)
		if err != nil {
			return nil, fmt.Errorf("bench: floor: encode WELCOME (%s): %w", s.Name(), err)
		}
		g, err := s.Encode(nil, goodbye)
		if err != nil {
			return nil, fmt.Errorf("bench: floor: encode GOODBYE (%s): %w", s.Name(), err)
		}
		canned[s.Name()] = cannedReplies{welcome: w, goodbye: g}
	}
	return &Floor{canned: canned, conns: map[net.Conn]struct{}{}}, nil
}

// Addr is the address the Floor listens on.
func (f *Floor) Addr() net.Addr { return f.ln.Addr() }

// RawSocketURL is the Floor's address as a RawSocket bench target URL.
func (f *Floor) RawSocketURL() string {
	a := f.ln.Addr()
	if a.Network() == "unix" {
		return "unix://" + a.String()
	}
	return "tcp://" + a.String()
}

// WebSocketURL is the Floor's address as a WebSocket URL ("" over a Unix
// socket, which the generator reaches over RawSocket only).
func (f *Floor) WebSocketURL() string {
	a := f.ln.Addr()
	if a.Network() == "unix" {
		return ""
	}
	return "ws://" + a.String() + "/"
}

// Close stops accepting, closes every connection and waits for every
// goroutine of the Floor to end.
func (f *Floor) Close() error {
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	err := f.ln.Close()
	f.wg.Wait()
	return err
}

func (f *Floor) accept() {
	defer f.wg.Done()
	acceptLoop(f.ln, func(nc net.Conn) bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.closed {
			return false
		}
		f.conns[nc] = struct{}{}
		f.wg.Add(1)
		go f.serve(nc)
		return true
	})
}

// serve answers one connection until the client closes it.
func (f *Floor) serve(nc net.Conn) {
	defer f.wg.Done()
	defer func() {
		nc.Close()
		f.mu.Lock()
		delete(f.conns, nc)
		f.mu.Unlock()
	}()
	br := bufio.NewReaderSize(nc, 4096)
	head, err := br.Peek(1)
	if err != nil {
		return
	}
	if head[0] == 0x7F {
		f.serveRawSocket(nc, br)
		return
	}
	f.serveWebSocket(nc, br)
}

// serveRawSocket accepts the client's serializer and answers its frames.
func (f *Floor) serveRawSocket(nc net.Conn, br *bufio.Reader) {
	var h [4]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return
	}
	ser, ok := serializer.ByRawSocketID(h[1] & 0x0F)
	if !ok {
		nc.Write([]byte{0x7F, 0x10, 0, 0}) // serializer unsupported
		return
	}
	// The largest length a RawSocket handshake can announce (16 MiB), and
	// the serializer the client asked for.
	if _, err := nc.Write([]byte{0x7F, 0xF0 | h[1]&0x0F, 0, 0}); err != nil {
		return
	}
	replies := f.canned[ser.Name()]
	frame := func(typ byte, p []byte) []byte {
		return append([]byte{typ, byte(len(p) >> 16), byte(len(p) >> 8), byte(len(p))}, p...)
	}
	welcome, goodbye := frame(0, replies.welcome), frame(0, replies.goodbye)
	buf := make([]byte, 512)
	for {
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return
		}
		n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		if n > floorMaxFrame {
			return
		}
		if n > len(buf) {
			buf = make([]byte, n)
		}
		p := buf[:n]
		if _, err := io.ReadFull(br, p); err != nil {
			return
		}
		var answer []byte
		switch h[0] & 0x07 {
		case 0: // a WAMP message
			answer = f.answer(ser.Name(), p, welcome, goodbye)
		case 1: // PING: the PONG echoes its payload
			answer = frame(2, p)
		}
		if answer != nil {
			if _, err := nc.Write(answer); err != nil {
				return
			}
		}
	}
}

// answer picks the reply to a WAMP message: framed WELCOME for a HELLO,
// framed GOODBYE for a GOODBYE, nothing for the rest.
func (f *Floor) answer(format string, msg, welcome, goodbye []byte) []byte {
	t, _ := peekType(format, msg)
	switch t {
	case spec.TypeHello:
		return welcome
	case spec.TypeGoodbye:
		return goodbye
	}
	return nil
}

// The WebSocket opcodes the Floor tells apart (RFC 6455 5.2).
const (
	wsText   = 0x1
	wsBinary = 0x2
	wsClose  = 0x8
	wsPing   = 0x9
	wsPong   = 0xA
)

// serveWebSocket answers the opening handshake with the first WAMP
// subprotocol the client offers, then the client's messages.
func (f *Floor) serveWebSocket(nc net.Conn, br *bufio.Reader) {
	key, ser, ok := readUpgrade(br)
	if !ok {
		nc.Write([]byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
		return
	}
	if _, err := nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + websocket.AcceptKey(key) + "\r\n" +
		"Sec-WebSocket-Protocol: wamp.2." + ser.Name() + "\r\n\r\n")); err != nil {
		return
	}
	op := byte(wsBinary)
	if ser.Name() == "json" {
		op = wsText
	}
	replies := f.canned[ser.Name()]
	welcome, goodbye := wsFrame(op, replies.welcome), wsFrame(op, replies.goodbye)
	buf := make([]byte, 512)
	for {
		opcode, p, err := readWSFrame(br, buf)
		if err != nil {
			return
		}
		var answer []byte
		switch opcode {
		case wsText, wsBinary:
			answer = f.answer(ser.Name(), p, welcome, goodbye)
		case wsPing:
			answer = wsFrame(wsPong, p)
		case wsClose:
			// Echo the status code, and close: the server closes TCP.
			nc.Write(wsFrame(wsClose, p[:min(len(p), 2)]))
			return
		}
		if answer != nil {
			if _, err := nc.Write(answer); err != nil {
				return
			}
		}
		if cap(p) > cap(buf) {
			buf = p[:0]
		}
	}
}

// readUpgrade reads an opening handshake's request up to its blank line and
// returns its key and the serializer of the first WAMP subprotocol offered.
func readUpgrade(br *bufio.Reader) (key string, ser serializer.Serializer, ok bool) {
	for range 100 { // header lines
		line, err := br.ReadSlice('\n')
		if err != nil {
			return "", nil, false
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			return key, ser, key != "" && ser != nil
		}
		name, value, found := strings.Cut(string(line), ":")
		if !found {
			continue
		}
		value = strings.TrimSpace(value)
		switch {
		case strings.EqualFold(name, "Sec-WebSocket-Key"):
			key = value
		case strings.EqualFold(name, "Sec-WebSocket-Protocol") && ser == nil:
			for _, proto := range strings.Split(value, ",") {
				if s, found := serializer.ByName(strings.TrimPrefix(strings.TrimSpace(proto), "wamp.2.")); found {
					ser = s
					break
				}
			}
		}
	}
	return "", nil, false
}

// readWSFrame reads one client frame into buf (grown if needed) and
// returns its opcode and unmasked payload.
func readWSFrame(br *bufio.Reader, buf []byte) (byte, []byte, error) {
	var h [8]byte
	if _, err := io.ReadFull(br, h[:2]); err != nil {
		return 0, nil, err
	}
	opcode, masked := h[0]&0x0F, h[1]&0x80 != 0
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		if _, err := io.ReadFull(br, h[:2]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(h[:2]))
	case 127:
		if _, err := io.ReadFull(br, h[:8]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(h[:8])
	}
	if n > floorMaxFrame {
		return 0, nil, errors.New("bench: floor: frame too large")
	}
	var mask [4]byte
	if masked {
		if _, err := io.ReadFull(br, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	if int(n) > cap(buf) {
		buf = make([]byte, n)
	}
	p := buf[:n]
	if _, err := io.ReadFull(br, p); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range p {
			p[i] ^= mask[i&3]
		}
	}
	return opcode, p, nil
}

// wsFrame builds an unmasked, final server frame.
func wsFrame(opcode byte, p []byte) []byte {
	var b []byte
	switch n := len(p); {
	case n < 126:
		b = append(make([]byte, 0, 2+n), 0x80|opcode, byte(n))
	case n <= 0xFFFF:
		b = append(make([]byte, 0, 4+n), 0x80|opcode, 126, byte(n>>8), byte(n))
	default:
		b = binary.BigEndian.AppendUint64(append(make([]byte, 0, 10+n), 0x80|opcode, 127), uint64(n))
	}
	return append(b, p...)
}
