package simnet_test

import (
	"testing"
	"time"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/core/simnet"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/netem"
)

// counter is a Handler that reports on done each time it has seen want
// more datagrams. Only exact rounds work: a surplus would block it on done.
type counter struct {
	want, got int
	done      chan struct{}
}

func (c *counter) HandleBatch(_ int, msgs []batchio.Message) {
	c.got += len(msgs)
	if c.got >= c.want {
		c.got -= c.want
		c.done <- struct{}{}
	}
}

// pair is two endpoints on a real-clock Network, a sending batches of
// batch datagrams of size bytes to b.
type pair struct {
	nw   *simnet.Network
	a    *simnet.Endpoint
	c    *counter
	msgs []batchio.Message
}

func newPair(tb testing.TB, cfg netem.Config, batch, size int) *pair {
	tb.Helper()
	nw, err := simnet.New(simnet.Config{Seed: 1, Default: cfg, Clock: monotime.Now})
	if err != nil {
		tb.Fatal(err)
	}
	c := &counter{want: batch, done: make(chan struct{})}
	a, err := nw.Listen(addrA, c) // receives nothing
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := nw.Listen(addrB, c); err != nil {
		tb.Fatal(err)
	}
	p := &pair{nw: nw, a: a, c: c}
	for i := range batch {
		p.msgs = append(p.msgs, batchio.Message{Buffer: payload(uint32(i), size), Addr: addrB})
	}
	return p
}

// round sends one batch and waits until all of it is delivered.
func (p *pair) round() {
	if _, err := p.a.WriteBatch(p.msgs); err != nil {
		panic(err)
	}
	<-p.c.done
}

// The per-datagram path, WriteBatch and delivery, allocates nothing in
// steady state (DESIGN.md, performance rules). Outside a synctest bubble:
// AllocsPerRun counts the delivery goroutine's allocations too.
func TestZeroAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  netem.Config
	}{
		{"perfect", netem.Config{}},
		// No loss or duplication: each round waits for exactly its batch.
		{"impaired", netem.Config{Corrupt: 0.1, Delay: time.Microsecond, Jitter: time.Microsecond, JitterReorders: true, Rate: 1 << 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, tc.cfg, 32, 1200)
			defer p.nw.Close()
			for range 200 {
				p.round()
			}
			if a := testing.AllocsPerRun(200, p.round); a != 0 {
				t.Errorf("%v allocations per batch of 32", a)
			}
		})
	}
}

// BenchmarkSimnet measures WriteBatch plus delivery of 1200-byte datagrams
// on a perfect real-clock link, per batch size.
func BenchmarkSimnet(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(map[int]string{1: "batch=1", 64: "batch=64"}[batch], func(b *testing.B) {
			p := newPair(b, netem.Config{}, batch, 1200)
			defer p.nw.Close()
			for range 100 {
				p.round()
			}
			b.ReportAllocs()
			b.SetBytes(int64(batch * 1200))
			for b.Loop() {
				p.round()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/datagram")
		})
	}
}
