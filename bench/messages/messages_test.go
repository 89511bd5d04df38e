package messages

import (
	"context"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/bench/internal/transports"
	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests, but for
// those that live for the whole process (transports.ProcessGoroutines).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, transports.ProcessGoroutines...)
}

// BenchmarkMessages: b.N messages of each size, echoed, with window in
// flight, on one connection per transport. msgs/s counts each message once
// (not its echo); p50-us and p99-us are round trips, send to echo received.
// MB/s (b.SetBytes) is one way; B/op and allocs/op count the whole process
// (both endpoints) per message. The connection is set up and warmed up
// (2 x window messages) before the timer starts. b.N is a message count,
// not a loop of independent iterations (the pipeline spans them), hence
// b.N and not b.Loop.
func BenchmarkMessages(b *testing.B) {
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			for _, name := range names {
				b.Run(name, func(b *testing.B) {
					benchMessages(b, byName[name], sz.size)
				})
			}
		})
	}
}

func benchMessages(b *testing.B, t transport, size int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p, err := startEcho(ctx, t)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if _, err := exchange(ctx, p.client, 2*window, size, window, true); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	h, err := exchange(ctx, p.client, b.N, size, window, false)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	all := newHistogram()
	all.Merge(h) // one receiving goroutine per connection; one connection here
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(all.ValueAtQuantile(50))/1e3, "p50-us")
	b.ReportMetric(float64(all.ValueAtQuantile(99))/1e3, "p99-us")
}

// TestMessages runs one short round of every transport built and size,
// checking every byte of every echo, and (TestMain) that nothing leaks.
func TestMessages(t *testing.T) {
	for _, name := range names {
		tr := byName[name]
		for _, sz := range sizes {
			t.Run(name+"/"+sz.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				p, err := startEcho(ctx, tr)
				if err != nil {
					t.Fatal(err)
				}
				h, err := exchange(ctx, p.client, 100, sz.size, window, true)
				if cerr := p.Close(); err == nil && cerr != nil {
					t.Logf("close: %v", cerr)
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := h.TotalCount(); got != 100 {
					t.Fatalf("histogram holds %d round trips, want 100", got)
				}
			})
		}
	}
}
