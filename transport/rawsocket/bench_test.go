package rawsocket

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strconv"
	"testing"

	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

func BenchmarkFrameRead(b *testing.B) {
	for _, size := range []int{64, 1024, 100 << 10} {
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			const frames = 64
			var stream bytes.Buffer
			for range frames {
				stream.Write(frameBytes(frameMessage, make([]byte, size)))
			}
			data := stream.Bytes()
			src := bytes.NewReader(data)
			br := bufio.NewReaderSize(src, transport.DefaultReadBufferSize)
			r := frameReader{br: br, limit: MaxFrameSize}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; {
				src.Reset(data)
				br.Reset(src)
				for range frames {
					if _, _, err := r.next(); err != nil {
						b.Fatal(err)
					}
					i++
				}
				r.release()
			}
		})
	}
}

func BenchmarkFrameWrite(b *testing.B) {
	for _, size := range []int{64, 1024, 100 << 10} {
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			bw := bufio.NewWriterSize(io.Discard, writeBufferSize)
			payload := make([]byte, size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for range b.N {
				writeFrame(bw, frameMessage, payload)
			}
			bw.Flush()
		})
	}
}

// BenchmarkPeerNetPipe measures one message from Send on one peer to Recv
// (decoded) on the other, over net.Pipe: queue, writer goroutine, framing,
// reader and msgpack decoding.
func BenchmarkPeerNetPipe(b *testing.B) {
	b.Run("msgpack", func(b *testing.B) { benchPeer(b, serializer.MessagePack) })
	// nopDecode isolates the transport's own cost.
	b.Run("transport-only", func(b *testing.B) { benchPeer(b, nopDecode{serializer.MessagePack}) })
}

// nopDecode is msgpack without the decoding: Decode returns one shared
// message.
type nopDecode struct{ serializer.Serializer }

var shared = &spec.Published{Request: 1, Publication: 1}

func (nopDecode) Decode([]byte) (spec.Message, error) { return shared, nil }

func benchPeer(b *testing.B, s serializer.Serializer) {
	cp, sp, cleanup := pipePair(b, s, transport.Options{QueueMaxBytes: 1 << 30, QueueMaxFrames: 1 << 30})
	defer cleanup()
	frame, _ := s.Encode(nil, &spec.Event{Subscription: 1, Publication: 2, Details: spec.Dict{}, Arguments: spec.List{"hello", int64(42)}})
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	done := make(chan error, 1)
	go func() {
		for range b.N {
			if _, err := cp.Recv(context.Background()); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range b.N {
		for {
			err := sp.Send(frame)
			if err == nil {
				break
			}
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
