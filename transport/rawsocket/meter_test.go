package rawsocket

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/transport"
)

// The server's meter counts every frame each way: payload plus the 4-byte
// header, as the bytes counters of the metrics promise.
func TestMeterCountsFrameBytes(t *testing.T) {
	var m transport.Meter
	ts := startServer(t, ServerOptions{Options: transport.Options{Meter: &m}})
	cp := dial(t, "tcp", ts.addr, DialOptions{})
	sp := ts.peer(t)
	in := encode(t, serializer.JSON, hello1)
	if err := cp.Send(in); err != nil {
		t.Fatal(err)
	}
	recvMsg(t, sp)
	if got, want := m.BytesReceived(), uint64(len(in)+4); got != want {
		t.Errorf("bytes received %d, want %d", got, want)
	}
	out := encode(t, serializer.JSON, hello1)
	for i := 0; i < 3; i++ {
		if err := sp.Send(out); err != nil {
			t.Fatal(err)
		}
		recvMsg(t, cp)
	}
	want := uint64(3 * (len(out) + 4))
	deadline := time.Now().Add(5 * time.Second)
	for m.BytesSent() != want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // the writer counts after its flush
	}
	if got := m.BytesSent(); got != want {
		t.Errorf("bytes sent %d, want %d", got, want)
	}
}
