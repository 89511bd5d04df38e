package loop

import (
	"context"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/batchio"
)

// BenchmarkDriver: one driver blasts 1200-byte datagrams, 64 per
// WriteBatch (GSO), to another of the same kind on loopback, at most 1024
// ahead of what the receiver's handler counted, so the receiver keeps up
// and nothing is dropped. An op is one WriteBatch of 64. pkts/s counts
// datagrams delivered to the handler per second, the tail included;
// dgrams/wakeup is datagrams (packets, whether or not coalesced) per
// receiver wakeup.
func BenchmarkDriver(b *testing.B) {
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			rx := newSink(0, 1)
			dst := open(b, k, Config{}, rx)
			src := open(b, k, Config{}, newSink(0, 0))
			ctx, cancel := context.WithTimeout(context.Background(), 10*guard)
			defer cancel()
			const batch, window = 64, 1024
			buf := make([]byte, 1200)
			msgs := make([]batchio.Message, batch)
			for i := range msgs {
				msgs[i] = batchio.Message{Buffer: encode(buf, 0, 1200), Addr: dst.LocalAddr()}
			}
			var sent int64
			before := dst.Stats()
			start := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				if sent-rx.records.Load() > window {
					if err := rx.waitRecords(ctx, rx.notify[0], sent-window/2); err != nil {
						b.Fatal(err)
					}
				}
				n, err := src.WriteBatch(msgs)
				sent += int64(n)
				if err != nil {
					b.Fatal(err)
				}
			}
			if err := rx.waitRecords(ctx, rx.notify[0], sent); err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			st := dst.Stats()
			if st.IO.KernelDrops != before.IO.KernelDrops {
				b.Fatalf("%d kernel drops", st.IO.KernelDrops-before.IO.KernelDrops)
			}
			b.ReportMetric(float64(sent)/elapsed.Seconds(), "pkts/s")
			if w := st.Wakeups - before.Wakeups; w > 0 {
				b.ReportMetric(float64(sent)/float64(w), "dgrams/wakeup")
			}
			if err := rx.err(); err != nil {
				b.Error(err)
			}
		})
	}
}
