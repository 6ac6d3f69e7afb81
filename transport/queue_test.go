package transport

import (
	"bytes"
	"errors"
	"strconv"
	"sync"
	"testing"
)

func TestQueueFrameLimit(t *testing.T) {
	q := NewQueue(1<<20, 3)
	for i := range 3 {
		if err := q.Push([]byte{byte(i)}); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	if err := q.Push([]byte{3}); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("push past the frame limit: got %v, want ErrSlowConsumer", err)
	}
	// The queue is closed now: the peer is going away.
	if err := q.Push([]byte{4}); !errors.Is(err, ErrClosed) {
		t.Fatalf("push after overflow: got %v, want ErrClosed", err)
	}
	_, frames := q.Take(nil, nil)
	if len(frames) != 3 {
		t.Fatalf("took %d frames, want the 3 accepted", len(frames))
	}
}

func TestQueueByteLimit(t *testing.T) {
	q := NewQueue(10, 100)
	if err := q.Push(make([]byte, 6)); err != nil {
		t.Fatal(err)
	}
	if err := q.Push(make([]byte, 4)); err != nil {
		t.Fatalf("push up to exactly the limit: %v", err)
	}
	if err := q.Push(make([]byte, 1)); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("push past the byte limit: got %v", err)
	}
}

func TestQueueLargeFrameIntoEmptyQueue(t *testing.T) {
	q := NewQueue(10, 100)
	if err := q.Push(make([]byte, 100)); err != nil {
		t.Fatalf("a large frame into an empty queue must be accepted: %v", err)
	}
	if err := q.Push([]byte{1}); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("anything behind it is over the limit: got %v", err)
	}
}

func TestQueueInflightCountsUntilRelease(t *testing.T) {
	q := NewQueue(10, 2)
	q.Push([]byte("12345"))
	q.Push([]byte("12345"))
	ctl, frames := q.Take(nil, nil)
	if n, b := q.Len(); n != 2 || b != 10 {
		t.Fatalf("in flight: Len = %d frames, %d bytes; want 2, 10", n, b)
	}
	q.Release()
	if n, b := q.Len(); n != 0 || b != 0 {
		t.Fatalf("after Release: Len = %d, %d; want 0, 0", n, b)
	}
	if err := q.Push([]byte("12345")); err != nil {
		t.Fatal(err)
	}
	ctl, frames = q.Take(ctl, frames)
	if len(ctl) != 0 || len(frames) != 1 {
		t.Fatalf("second take: %d control, %d frames", len(ctl), len(frames))
	}

	q2 := NewQueue(10, 10)
	q2.Push([]byte("12345678"))
	q2.Take(nil, nil) // in flight, not released
	if err := q2.Push([]byte("123")); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("in-flight bytes must count: got %v", err)
	}
}

func TestQueueOrderAndControlFirst(t *testing.T) {
	q := NewQueue(0, 0)
	q.Push([]byte("a"))
	q.Push([]byte("b"))
	q.PushControl([]byte("PONG"))
	q.Push([]byte("c"))
	ctl, frames := q.Take(nil, nil)
	if got := bytes.Join(ctl, nil); string(got) != "PONG" {
		t.Fatalf("control = %q", got)
	}
	if got := bytes.Join(frames, []byte(",")); string(got) != "a,b,c" {
		t.Fatalf("frames = %q, want a,b,c in order", got)
	}
	q.Release()
	// The previous batch is cleared when handed back, so it pins nothing.
	old := frames
	q.Take(ctl, frames)
	for i, f := range old[:cap(old)][:3] {
		if f != nil {
			t.Fatalf("old batch slot %d still references a frame", i)
		}
	}
}

func TestQueueReadyAndClose(t *testing.T) {
	q := NewQueue(0, 0)
	select {
	case <-q.Ready():
		t.Fatal("ready on an empty queue")
	default:
	}
	q.Push([]byte("x"))
	q.Push([]byte("y"))
	select {
	case <-q.Ready():
	default:
		t.Fatal("not ready after Push")
	}
	q.Close()
	if err := q.Push([]byte("z")); !errors.Is(err, ErrClosed) {
		t.Fatalf("push after Close: %v", err)
	}
	if err := q.PushControl([]byte("z")); !errors.Is(err, ErrClosed) {
		t.Fatalf("control push after Close: %v", err)
	}
	_, frames := q.Take(nil, nil)
	if len(frames) != 2 {
		t.Fatalf("Close must keep pending frames for the flush; took %d", len(frames))
	}
}

func TestQueueNoAllocsInSteadyState(t *testing.T) {
	q := NewQueue(0, 0)
	frame := []byte("event")
	var ctl, frames [][]byte
	allocs := testing.AllocsPerRun(1000, func() {
		for range 16 {
			q.Push(frame)
		}
		ctl, frames = q.Take(ctl, frames)
		q.Release()
	})
	if allocs != 0 {
		t.Fatalf("Push/Take/Release allocate %.1f times per batch, want 0", allocs)
	}
}

func TestQueueConcurrentProducers(t *testing.T) {
	const producers, each = 8, 2000
	q := NewQueue(0, producers*each)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := q.Push([]byte(strconv.Itoa(p) + ":" + strconv.Itoa(i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	next := make([]int, producers)
	var ctl, frames [][]byte
	total := 0
	check := func() {
		ctl, frames = q.Take(ctl, frames)
		for _, f := range frames {
			pi, ii, _ := bytes.Cut(f, []byte(":"))
			p, _ := strconv.Atoi(string(pi))
			i, _ := strconv.Atoi(string(ii))
			if i != next[p] {
				t.Fatalf("producer %d: got frame %d, want %d (order lost)", p, i, next[p])
			}
			next[p]++
			total++
		}
		q.Release()
	}
	for {
		select {
		case <-q.Ready():
			check()
			continue
		case <-done:
		}
		break
	}
	check()
	if total != producers*each {
		t.Fatalf("received %d frames, want %d", total, producers*each)
	}
}

func BenchmarkQueue(b *testing.B) {
	for _, batch := range []int{1, 16, 256} {
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) {
			q := NewQueue(0, 0)
			frame := make([]byte, 128)
			var ctl, frames [][]byte
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				for range batch {
					q.Push(frame)
				}
				ctl, frames = q.Take(ctl, frames)
				q.Release()
			}
		})
	}
	b.Run("parallel-push", func(b *testing.B) {
		q := NewQueue(1<<30, 1<<30)
		frame := make([]byte, 128)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ctl, frames [][]byte
			for {
				select {
				case <-q.Ready():
					ctl, frames = q.Take(ctl, frames)
					q.Release()
				case <-stop:
					return
				}
			}
		}()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				q.Push(frame)
			}
		})
		close(stop)
		wg.Wait()
	})
}
