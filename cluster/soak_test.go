package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// Churn across nodes loses nothing acknowledged: while sessions join,
// subscribe to the same and to other topics, unsubscribe and leave on every
// node, steady subscribers on the other nodes receive every acknowledged
// publication of a publisher on node 1, in order.
func TestChurnLosesNothingAcknowledged(t *testing.T) {
	nodes := startCluster(t, 3)
	steady := []*inbox{
		subscribe(t, nodes[1].join(serializer.MessagePack), "soak.t", nil),
		subscribe(t, nodes[2].join(serializer.CBOR), "soak", spec.Dict{"match": "prefix"}),
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var churned atomic.Int64
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tn := nodes[(w+i)%3]
				c := tn.join(serializer.JSON)
				topic := "soak.t"
				if i%2 == 1 {
					topic = "soak.other" + string(rune('a'+i%5))
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if id, err := c.Subscribe(ctx, topic, func(*client.Event) {}, nil); err == nil && i%3 == 0 {
					c.Unsubscribe(ctx, id)
				}
				c.Close(ctx)
				cancel()
				churned.Add(1)
			}
		}()
	}
	pub := nodes[0].join(serializer.JSON)
	const n = 300
	for i := 0; i < n; i++ {
		if err := publish(t, pub, "soak.t", spec.List{int64(i)}, ack); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("publication %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	for k, b := range steady {
		evs := b.wait(t, n)
		for i, e := range evs[:n] {
			if v, _ := spec.AsInt(e.Arguments[0]); v != int64(i) {
				t.Fatalf("steady subscriber %d: event %d is %v", k, i, e.Arguments)
			}
		}
	}
	if churned.Load() < 3 {
		t.Fatalf("only %d churn sessions ran", churned.Load())
	}
	t.Logf("%d sessions churned during %d acknowledged publications", churned.Load(), n)
}
