package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const MiB = 1 << 20
	cases := []struct {
		name       string
		floor      uint64
		base       int
		live, root uint64
		want       int
	}{
		{"tiny heap: bounded by the runtime's minimum reaching the floor", 16 * MiB, 100, 1 * MiB, 0, 400},
		{"aimed at the floor", 16 * MiB, 100, 5 * MiB, 0, 220},
		{"roots count as the runtime counts them", 16 * MiB, 100, 5 * MiB, 1 * MiB, 183},
		{"GOGC's own goal passes the floor", 16 * MiB, 100, 9 * MiB, 0, 100},
		{"live heap above the floor", 16 * MiB, 100, 40 * MiB, 0, 100},
		{"never below the starting GOGC", 16 * MiB, 300, 5 * MiB, 0, 300},
		{"a floor under the runtime's minimum does nothing", 2 * MiB, 100, 1 * MiB, 0, 100},
		{"no collection yet", 32 * MiB, 100, 0, 0, 800},
	}
	for _, c := range cases {
		if got := Percent(c.floor, c.base, c.live, c.root); got != c.want {
			t.Errorf("%s: Percent(%d MiB, %d, %d, %d) = %d, want %d", c.name, c.floor/MiB, c.base, c.live, c.root, got, c.want)
		}
	}
}

func readUint(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

var sink []byte

// TestFloorHoldsTheHeapGoal: with a floor, the collector's goal for this
// small test heap rises to about the floor and stays there across
// collections; Stop gives GOGC back.
func TestFloorHoldsTheHeapGoal(t *testing.T) {
	const floor = 64 << 20
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	runtime.GC()
	if goal := readUint("/gc/heap/goal:bytes"); goal >= floor/2 {
		t.Fatalf("heap goal %d before the floor: the test heap is not small", goal)
	}
	f := Start(floor)
	defer f.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for cycles := 0; cycles < 5; {
		before := readUint("/gc/cycles/total:gc-cycles")
		runtime.GC()
		for readUint("/gc/cycles/total:gc-cycles") == before {
			runtime.Gosched()
		}
		// The cleanup runs on its own goroutine after the cycle.
		for readUint("/gc/gogc:percent") == 100 && time.Now().Before(deadline) {
			sink = make([]byte, 1024)
			time.Sleep(time.Millisecond)
		}
		cycles++
	}
	if time.Now().After(deadline) {
		t.Fatal("GOGC never moved off 100")
	}
	goal := readUint("/gc/heap/goal:bytes")
	if goal < floor*9/10 || goal > floor*11/10 {
		t.Fatalf("heap goal %d MiB with a %d MiB floor", goal>>20, floor>>20)
	}
	f.Stop()
	if p := readUint("/gc/gogc:percent"); p != 100 {
		t.Fatalf("GOGC %d after Stop, want 100", p)
	}
}

// TestFloorOffWithGCOff: a process with the collector off is left alone.
func TestFloorOffWithGCOff(t *testing.T) {
	base := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(base)
	f := Start(64 << 20)
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	f.Stop()
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Fatalf("GOGC %d, want it left off", p)
	}
}
