package netem

import (
	"fmt"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// BenchmarkDecide measures one datagram's decision: with nothing configured,
// and with every impairment on (bursty loss, a 10 MB/s bottleneck offered
// 12 MB/s so its queue stays full, delay with jitter, reordering,
// duplication, corruption).
func BenchmarkDecide(b *testing.B) {
	cfgs := []struct {
		name string
		cfg  Config
	}{
		{"none", Config{}},
		{"all", allOn(1)},
	}
	for _, c := range cfgs {
		b.Run(c.name, func(b *testing.B) {
			l := mustNew(b, c.cfg)
			fates := make([]Fate, 0, 2)
			now := at(0)
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(100 * time.Microsecond)
				fates = l.Decide(fates[:0], now, 1200)
			}
		})
	}
}

// BenchmarkQueue measures one Push plus one PopDue that pops one value,
// with a constant number of deliveries pending, arrival times spread as
// jitter spreads them: mostly later than everything pending, sometimes
// earlier. Times are made unique (the low 20 bits count pushes) so that
// each PopDue pops exactly one value and the size stays put.
func BenchmarkQueue(b *testing.B) {
	for _, pending := range []int{16, 1024, 65536} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			var q Queue[[]byte]
			offsets := make([]int64, 1024)
			for i := range offsets {
				offsets[i] = int64(pending + (i*7919)%(pending/4+1) - pending/8)
			}
			key := func(t int64, i int) monotime.Time { return monotime.Time(t<<20 | int64(i&(1<<20-1))) }
			for i := range pending {
				q.Push(key(int64(i), i), nil)
			}
			out := make([][]byte, 0, 1)
			t, i := int64(0), pending
			b.ReportAllocs()
			for b.Loop() {
				q.Push(key(t+offsets[i&1023], i), nil)
				i++
				t++
				next, _ := q.Next()
				out = q.PopDue(next, out[:0])
			}
			if q.Len() != pending || len(out) != 1 {
				b.Fatalf("%d pending, %d popped: the benchmark drifted", q.Len(), len(out))
			}
		})
	}
}

// BenchmarkPipe measures a 1200-byte datagram through a Pipe with every
// impairment on: Send (decide, copy, flip), Receive and Release.
func BenchmarkPipe(b *testing.B) {
	p, err := NewPipe(allOn(1))
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 1200)
	got := make([][]byte, 0, 16)
	now := at(0)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(100 * time.Microsecond)
		p.Send(now, payload)
		got = p.Receive(now, got[:0])
		for _, d := range got {
			p.Release(d)
		}
	}
}
