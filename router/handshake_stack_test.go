package router_test

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// parkerPeer is a pipe's server end that says whether it can park (it
// never does) and records the goroutine of every Recv.
type parkerPeer struct {
	transport.Peer
	canPark bool

	mu         sync.Mutex
	goroutines []string
}

func (p *parkerPeer) ResumeWith(func()) {}
func (p *parkerPeer) CanPark() bool     { return p.canPark }

func (p *parkerPeer) Recv(ctx context.Context) (spec.Message, error) {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _, _ := bytes.Cut(bytes.TrimPrefix(buf, []byte("goroutine ")), []byte(" "))
	p.mu.Lock()
	p.goroutines = append(p.goroutines, string(id))
	p.mu.Unlock()
	return p.Peer.Recv(ctx)
}

// TestHandshakeOnTheReaderWhenParking: a connection that can park reads
// HELLO on its reader goroutine (the reader's grown stack goes when it
// parks), one that cannot reads it on a short-lived goroutine of its own
// (so that its reader does not keep the handshake's stack for life).
func TestHandshakeOnTheReaderWhenParking(t *testing.T) {
	for _, canPark := range []bool{true, false} {
		tr := newTestRouter(t, router.Options{})
		clientEnd, serverEnd := transport.Pipe(serializer.JSON, transport.Options{})
		p := &parkerPeer{Peer: serverEnd, canPark: canPark}
		served := make(chan struct{})
		go func() {
			defer close(served)
			tr.r.ServePeer(tr.ctx, p)
		}()
		r := &raw{t: t, peer: clientEnd}
		r.hello("realm1")
		r.send(&spec.Goodbye{Details: spec.Dict{}, Reason: spec.CloseNormal})
		if m := r.recv(); m.Type() != spec.TypeGoodbye {
			t.Fatalf("GOODBYE answered with %s", m.Type())
		}
		clientEnd.Close("test over")
		<-served
		p.mu.Lock()
		g := p.goroutines
		p.mu.Unlock()
		if len(g) < 2 {
			t.Fatalf("canPark %v: %d reads recorded, want HELLO's and GOODBYE's", canPark, len(g))
		}
		if same := g[0] == g[1]; same != canPark {
			t.Errorf("canPark %v: HELLO read on goroutine %s, GOODBYE on %s", canPark, g[0], g[1])
		}
	}
}
