package netem

import (
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// TestZeroAllocs: the per-datagram calls allocate nothing in steady state
// (DESIGN.md, performance rules): Decide into a slice with room, Queue
// Push/PopDue once the heap has grown, and a Pipe once its buffers cycle.
func TestZeroAllocs(t *testing.T) {
	l := mustNew(t, allOn(1))
	fates := make([]Fate, 0, 2)
	now := at(0)
	var q Queue[int]
	popped := make([]int, 0, 64)
	for i := range 256 { // warm the heap to its working size
		q.Push(at(int64(i)), i)
	}
	p, err := NewPipe(allOn(2))
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 1200)
	got := make([][]byte, 0, 64)
	pipeRound := func() {
		for range 8 {
			now = now.Add(100 * time.Microsecond)
			p.Send(now, payload)
		}
		got = p.Receive(now, got[:0])
		for _, b := range got {
			p.Release(b)
		}
	}
	for range 2000 { // reach steady state: buffers cycle through the pipe
		pipeRound()
	}
	tests := []struct {
		name string
		f    func()
	}{
		{"Decide", func() {
			now = now.Add(50 * time.Microsecond)
			fates = l.Decide(fates[:0], now, 1200)
		}},
		{"Queue Push+PopDue", func() {
			base, _ := q.Next()
			for i := range 16 {
				q.Push(base+monotime.Time(256+i*7%16), i)
			}
			popped = q.PopDue(base+15, popped[:0])
		}},
		{"Pipe Send+Receive+Release", pipeRound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a := testing.AllocsPerRun(1000, tt.f); a != 0 {
				t.Fatalf("%v allocations per run", a)
			}
		})
	}
}
