package client

import (
	"testing"
	"time"
)

func TestReconnectDelayIsCappedExponentialWithJitter(t *testing.T) {
	r := Reconnect{InitialDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	seen := map[time.Duration]bool{}
	for n := range 12 {
		want := min(100*time.Millisecond<<n, time.Second)
		for range 50 {
			d := r.delay(n)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", n, d, want/2, want)
			}
			seen[d] = true
		}
	}
	if len(seen) < 100 {
		t.Fatalf("only %d distinct delays: no jitter", len(seen))
	}
}
