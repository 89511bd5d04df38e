package loop

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

// TestExchange: two drivers of a kind exchange 20,000 datagrams of varied
// sizes each way, two sending goroutines per direction (concurrent
// WriteBatch on one driver), windowed so no receive queue overflows.
// Every datagram arrives once, intact, from the right source, and the
// per-wakeup figures add up.
func TestExchange(t *testing.T) {
	const total = 20000
	for _, k := range kinds {
		for _, loops := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/loops=%d", k.name, loops), func(t *testing.T) {
				t.Cleanup(func() { goleak.VerifyNone(t, leakOpts...) }) // after the drivers' Close
				cfg := Config{Loops: loops}
				rxA, rxB := newSink(total, 2), newSink(total, 2)
				a := open(t, k, cfg, rxA)
				b := open(t, k, cfg, rxB)
				if a.Loops() != loops || b.Loops() != loops {
					t.Fatalf("Loops() = %d, %d; want %d", a.Loops(), b.Loops(), loops)
				}
				rxA.expectFrom(b.LocalAddr())
				rxB.expectFrom(a.LocalAddr())

				ctx, cancel := context.WithTimeout(context.Background(), guard)
				defer cancel()
				var sentAB, sentBA atomic.Int64
				var wg sync.WaitGroup
				errs := make(chan error, 4)
				for w := range 2 {
					lo, hi := uint32(w*total/2), uint32((w+1)*total/2)
					for _, sn := range []sender{
						{d: a, dst: b.LocalAddr(), rx: rxB, wait: rxB.notify[w], sent: &sentAB, window: 512},
						{d: b, dst: a.LocalAddr(), rx: rxA, wait: rxA.notify[w], sent: &sentBA, window: 512},
					} {
						wg.Add(1)
						go func() {
							defer wg.Done()
							errs <- sn.run(ctx, lo, hi)
						}()
					}
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatal(err)
					}
				}
				for name, rx := range map[string]*sink{"A": rxA, "B": rxB} {
					if err := rx.waitRecords(ctx, rx.notify[0], total); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
				}
				for name, p := range map[string]struct {
					d  driver
					rx *sink
				}{"A": {a, rxA}, "B": {b, rxB}} {
					if err := p.rx.err(); err != nil {
						t.Errorf("%s: %v", name, err)
					}
					if n := p.rx.dups.Load(); n > 0 {
						t.Errorf("%s: %d datagrams arrived twice", name, n)
					}
					for seq := range p.rx.seen {
						if p.rx.seen[seq].Load() != 1 {
							t.Errorf("%s: datagram %d arrived %d times", name, seq, p.rx.seen[seq].Load())
							break
						}
					}
					st := p.d.Stats()
					if st.IO.KernelDrops != 0 || st.IO.Truncated != 0 {
						t.Errorf("%s: kernel drops %d, truncated %d", name, st.IO.KernelDrops, st.IO.Truncated)
					}
					if got := uint64(p.rx.msgs.Load()); st.Datagrams != got {
						t.Errorf("%s: Stats.Datagrams = %d, the handler saw %d", name, st.Datagrams, got)
					}
					if st.IO.Sent != total {
						t.Errorf("%s: sent %d datagrams, want %d", name, st.IO.Sent, total)
					}
					checkWakeups(t, name, st)
					t.Logf("%s: %d datagrams (%d records) in %d wakeups (max %d, engine reads %d), %d recvmmsg, %d coalesced, %d sendmmsg (%d GSO), parks %d",
						name, st.Datagrams, p.rx.records.Load(), st.Wakeups, st.MaxPerWakeup, st.EngineReads,
						st.IO.RecvCalls, st.IO.Coalesced, st.IO.SendCalls, st.IO.GSOSends, st.WriteParks)
				}
			})
		}
	}
}
