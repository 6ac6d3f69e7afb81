package transport

import "testing"

func TestConnLimiter(t *testing.T) {
	l := &ConnLimiter{MaxTotal: 3, MaxPerAddr: 2}
	if !l.Acquire("10.0.0.1:1000") || !l.Acquire("10.0.0.1:1001") {
		t.Fatal("two connections from one address refused")
	}
	if l.Acquire("10.0.0.1:1002") {
		t.Fatal("a third connection from one address admitted")
	}
	if !l.Acquire("[::1]:5") {
		t.Fatal("another address refused below the total")
	}
	if l.Acquire("10.0.0.2:1") || l.Acquire("unix:/run/s.sock") {
		t.Fatal("admitted past the total")
	}
	l.Release("10.0.0.1:1000")
	if !l.Acquire("unix:/run/s.sock") {
		t.Fatal("a freed slot was not reusable")
	}
	if l.Count() != 3 {
		t.Fatalf("Count = %d, want 3", l.Count())
	}
	var none *ConnLimiter
	if !none.Acquire("1.2.3.4:5") {
		t.Fatal("a nil limiter limited")
	}
	none.Release("1.2.3.4:5")
	unlimited := &ConnLimiter{}
	for i := 0; i < 1000; i++ {
		if !unlimited.Acquire("1.2.3.4:5") {
			t.Fatal("the zero limiter limited")
		}
	}
}
