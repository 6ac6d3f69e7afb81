package transport

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

func encode(t testing.TB, s serializer.Serializer, m spec.Message) []byte {
	t.Helper()
	b, err := s.Encode(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func recv(t testing.TB, p Peer) spec.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := p.Recv(ctx)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return m
}

func waitDone(t testing.TB, p Peer) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("peer not Done within 5s")
	}
}

func TestPipeRoundTrip(t *testing.T) {
	for _, s := range serializer.All() {
		t.Run(s.Name(), func(t *testing.T) {
			c, r := Pipe(s, Options{})
			defer func() { c.Close("test over"); r.Close("test over"); waitDone(t, c); waitDone(t, r) }()
			if err := c.Send(encode(t, s, &spec.Hello{Realm: "realm1", Details: spec.Dict{"roles": spec.Dict{"caller": spec.Dict{}}}})); err != nil {
				t.Fatal(err)
			}
			if h, ok := recv(t, r).(*spec.Hello); !ok || h.Realm != "realm1" {
				t.Fatalf("server got %#v", h)
			}
			if err := r.Send(encode(t, s, &spec.Welcome{Session: 42, Details: spec.Dict{}})); err != nil {
				t.Fatal(err)
			}
			if w, ok := recv(t, c).(*spec.Welcome); !ok || w.Session != 42 {
				t.Fatalf("client got %#v", w)
			}
			if info := r.Info(); info.Transport != "pipe" || info.Protocol != "wamp.2."+s.Name() {
				t.Fatalf("Info = %+v", info)
			}
		})
	}
}

func TestPipeCloseFlushesThenEOF(t *testing.T) {
	s := serializer.JSON
	c, r := Pipe(s, Options{})
	const n = 500 // more than the pipe's inbox holds
	for i := range n {
		if err := r.Send(encode(t, s, &spec.Published{Request: spec.ID(i + 1), Publication: 1})); err != nil {
			t.Fatal(err)
		}
	}
	r.Close("bye")
	if err := r.Send([]byte("[]")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	for i := range n {
		m := recv(t, c)
		if m.(*spec.Published).Request != spec.ID(i+1) {
			t.Fatalf("message %d out of order", i)
		}
	}
	_, err := c.Recv(context.Background())
	if !errors.Is(err, io.EOF) {
		t.Fatalf("after the flush: got %v, want io.EOF", err)
	}
	waitDone(t, r)
	waitDone(t, c)
}

func TestPipeSlowConsumer(t *testing.T) {
	s := serializer.JSON
	c, r := Pipe(s, Options{QueueMaxFrames: 8, WriteTimeout: time.Minute})
	frame := encode(t, s, &spec.Published{Request: 1, Publication: 1})
	var err error
	for i := 0; i < pipeInbox+1000 && err == nil; i++ {
		err = r.Send(frame)
	}
	if !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("got %v, want ErrSlowConsumer", err)
	}
	waitDone(t, r)
	waitDone(t, c)
}

func TestPipeWriteTimeout(t *testing.T) {
	s := serializer.JSON
	c, r := Pipe(s, Options{WriteTimeout: 50 * time.Millisecond})
	frame := encode(t, s, &spec.Published{Request: 1, Publication: 1})
	for range pipeInbox + 10 {
		if err := r.Send(frame); err != nil {
			t.Fatal(err)
		}
	}
	waitDone(t, r) // c never reads: r's writer gives up
	waitDone(t, c)
}

func TestPipeFrameTooLarge(t *testing.T) {
	s := serializer.JSON
	c, r := Pipe(s, Options{MaxMessageSize: 64})
	defer func() { c.Close(""); waitDone(t, r) }()
	if err := r.Send(make([]byte, 65)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v, want ErrFrameTooLarge", err)
	}
	if err := r.Send(encode(t, s, &spec.Published{Request: 1, Publication: 1})); err != nil {
		t.Fatalf("the peer must stay open: %v", err)
	}
	recv(t, c)
}

func TestPipeDecodeErrorKeepsPeerOpen(t *testing.T) {
	s := serializer.JSON
	c, r := Pipe(s, Options{})
	defer func() { c.Close(""); waitDone(t, r) }()
	r.Send([]byte(`{"not":"a list"}`))
	r.Send(encode(t, s, &spec.Published{Request: 7, Publication: 1}))
	_, err := c.Recv(context.Background())
	var pe *spec.ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a *spec.ProtocolError", err)
	}
	if m := recv(t, c); m.(*spec.Published).Request != 7 {
		t.Fatalf("got %#v", m)
	}
}

func TestPipeRecvContext(t *testing.T) {
	s := serializer.JSON
	c, r := Pipe(s, Options{})
	defer func() { c.Close(""); waitDone(t, r) }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	r.Send(encode(t, s, &spec.Published{Request: 1, Publication: 1}))
	recv(t, c)
}

func BenchmarkPipe(b *testing.B) {
	s := serializer.MessagePack
	c, r := Pipe(s, Options{})
	frame := encode(b, s, &spec.Event{Subscription: 1, Publication: 2, Details: spec.Dict{}, Arguments: spec.List{"hello"}})
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range b.N {
			if _, err := c.Recv(context.Background()); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	for range b.N {
		for r.Send(frame) == ErrSlowConsumer {
			b.Fatal("slow consumer")
		}
	}
	<-done
	r.Close("")
	<-c.Done()
}
