package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gws "github.com/gobwas/ws"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// closeWatcher is a one-session WAMP router over WebSocket (JSON), just
// enough to see how a client leaves: it answers HELLO and GOODBYE, echoes
// the client's close frame and then, instead of closing first as a router
// does, reads on to see how the client's end of the TCP connection ends.
// ended receives that read's error: io.EOF for an orderly close, a reset
// when the client closed with the echo still unread in its socket.
func closeWatcher(t *testing.T) (url string, ended <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	out := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			out <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		out <- watchClose(c)
	}()
	return "ws://" + ln.Addr().String() + "/", out
}

func watchClose(c net.Conn) error {
	up := gws.Upgrader{Protocol: func(p []byte) bool { return string(p) == "wamp.2.json" }}
	if _, err := up.Upgrade(c); err != nil {
		return err
	}
	read := func(want gws.OpCode) ([]byte, error) {
		f, err := gws.ReadFrame(c)
		if err != nil {
			return nil, err
		}
		if f.Header.OpCode != want {
			return nil, fmt.Errorf("frame with opcode %d, want %d", f.Header.OpCode, want)
		}
		return gws.UnmaskFrameInPlace(f).Payload, nil
	}
	send := func(f gws.Frame) error { return gws.WriteFrame(c, f) }
	if _, err := read(gws.OpText); err != nil { // HELLO
		return err
	}
	if err := send(gws.NewTextFrame([]byte(`[2,7,{"roles":{"broker":{},"dealer":{}},"authid":"a","authrole":"anonymous","authmethod":"anonymous"}]`))); err != nil {
		return err
	}
	goodbye, err := read(gws.OpText)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(string(goodbye), "[6,") {
		return errors.New("expected GOODBYE, got " + string(goodbye))
	}
	if err := send(gws.NewTextFrame([]byte(`[6,{},"wamp.close.goodbye_and_out"]`))); err != nil {
		return err
	}
	if _, err := read(gws.OpClose); err != nil {
		return err
	}
	if err := send(gws.NewCloseFrame(gws.NewCloseFrameBody(gws.StatusNormalClosure, ""))); err != nil {
		return err
	}
	var b [1]byte
	_, err = c.Read(b[:])
	return err
}

// TestCloseFinishesTheWebSocketCloseHandshake: Close reads the router's
// answer to its close frame before it closes the socket, so the TCP
// connection ends with a FIN. With the answer left unread the kernel sent
// a reset instead (and, against a router that closes first, retransmitted
// into it): one per session in bench connect.
func TestCloseFinishesTheWebSocketCloseHandshake(t *testing.T) {
	url, ended := closeWatcher(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, url, client.Config{Realm: "realm1", Serializer: "json"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Close took %v: it waited out a timeout instead of the handshake", took)
	}
	switch err := <-ended; {
	case errors.Is(err, io.EOF):
	case errors.Is(err, syscall.ECONNRESET):
		t.Fatal("the client reset the connection: it closed with the router's close frame unread")
	default:
		t.Fatalf("the watcher failed: %v", err)
	}
}

// stuckPeer is a transport whose reads end only with their context: after
// WELCOME and the answer to GOODBYE, Recv blocks whether or not the peer
// is closed. Close ends it (Done).
type stuckPeer struct {
	ser     serializer.Serializer
	replies chan spec.Message
	done    chan struct{}
	once    sync.Once
}

func (p *stuckPeer) Serializer() serializer.Serializer { return p.ser }
func (p *stuckPeer) Info() transport.Info              { return transport.Info{Transport: "test"} }
func (p *stuckPeer) Done() <-chan struct{}             { return p.done }
func (p *stuckPeer) Close(string) error                { p.once.Do(func() { close(p.done) }); return nil }
func (p *stuckPeer) Send(frame []byte) error {
	m, err := p.ser.Decode(frame)
	if err != nil {
		return err
	}
	if _, ok := m.(*spec.Goodbye); ok {
		p.replies <- &spec.Goodbye{Details: spec.Dict{}, Reason: spec.CloseGoodbyeAndOut}
	}
	return nil
}
func (p *stuckPeer) Recv(ctx context.Context) (spec.Message, error) {
	select {
	case m := <-p.replies:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestCloseReturnsWithAPeerThatKeepsReading: Close reads the closing peer
// until it ends, but a read still blocked once the peer is done is
// cancelled, so Close returns.
func TestCloseReturnsWithAPeerThatKeepsReading(t *testing.T) {
	p := &stuckPeer{ser: serializer.JSON, replies: make(chan spec.Message, 2), done: make(chan struct{})}
	p.replies <- &spec.Welcome{Session: 7, Details: spec.Dict{"roles": spec.Dict{"broker": spec.Dict{}, "dealer": spec.Dict{}}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Join(ctx, p, client.Config{Realm: "realm1"})
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close(ctx) }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return: its read of the closed peer never ended")
	}
}
