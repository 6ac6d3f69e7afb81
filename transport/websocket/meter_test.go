package websocket

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/transport"
)

// The server's meter counts WAMP message bytes each way (WebSocket framing
// aside), unbatched and batched alike.
func TestMeterCountsMessageBytes(t *testing.T) {
	for _, batched := range []bool{false, true} {
		var m transport.Meter
		ts := startServer(t, ServerOptions{Options: transport.Options{Meter: &m}}, nil)
		s := serializer.MessagePack
		cp := dial(t, ts.url, DialOptions{Serializer: s, Batched: batched})
		sp := ts.peer(t)
		frame := encode(t, s, hello1)
		if err := cp.Send(frame); err != nil {
			t.Fatal(err)
		}
		recvMsg(t, sp)
		// A batched message carries a 4-byte length prefix per frame.
		per := uint64(len(frame))
		if batched {
			per += 4
		}
		if got := m.BytesReceived(); got != per {
			t.Errorf("batched=%v: bytes received %d, want %d", batched, got, per)
		}
		for i := 0; i < 3; i++ {
			if err := sp.Send(frame); err != nil {
				t.Fatal(err)
			}
			recvMsg(t, cp)
		}
		deadline := time.Now().Add(5 * time.Second)
		for m.BytesSent() != 3*per && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := m.BytesSent(); got != 3*per {
			t.Errorf("batched=%v: bytes sent %d, want %d", batched, got, 3*per)
		}
		drain(sp)
	}
}

// Frames still queued when the close frame went out are dropped (nothing
// may follow a close frame) and not counted as sent.
func TestMeterLeavesOutFramesDroppedAfterTheCloseFrame(t *testing.T) {
	for _, batched := range []bool{false, true} {
		var m transport.Meter
		ts := startServer(t, ServerOptions{Options: transport.Options{Meter: &m}}, nil)
		s := serializer.MessagePack
		cp := dial(t, ts.url, DialOptions{Serializer: s, Batched: batched})
		sp := ts.peer(t).(*peer)
		frame := encode(t, s, hello1)
		if err := sp.Send(frame); err != nil {
			t.Fatal(err)
		}
		recvMsg(t, cp)
		deadline := time.Now().Add(5 * time.Second)
		for m.BytesSent() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		before := m.BytesSent()
		if before == 0 {
			t.Fatalf("batched=%v: the first frame was not counted", batched)
		}
		// The close frame goes out; then a frame is queued and flushed here,
		// on the test's goroutine (no kick: the writer stays idle).
		if err := sp.wire.writeClose(appendFrameHeader(nil, opClose, 0), false); err != nil {
			t.Fatal(err)
		}
		if err := sp.q.Push(frame); err != nil {
			t.Fatal(err)
		}
		if err := sp.flush(time.Time{}); err != nil {
			t.Fatalf("batched=%v: flush after the close frame: %v, want the frames dropped quietly", batched, err)
		}
		if n, _ := sp.q.Len(); n != 0 {
			t.Errorf("batched=%v: %d frames left queued", batched, n)
		}
		if got := m.BytesSent(); got != before {
			t.Errorf("batched=%v: bytes sent %d after a dropped frame, want %d", batched, got, before)
		}
		drain(sp)
	}
}
