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
// (not its echo); p50-us, p99-us and p99.9-us are round trips, send to
// echo received, from an HDR histogram (3 significant digits), with window
// messages queued ahead of each: the latency of a loaded connection, not
// of one message alone. With -petrel.latency the whole distribution is
// written too (transports.WriteLatency), with -petrel.cpuprofile a CPU
// profile of the timed part.
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
	stop := transports.StartCPUProfile(b)
	b.ResetTimer()
	start := time.Now()
	h, err := exchange(ctx, p.client, b.N, size, window, false)
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	if err != nil {
		b.Fatal(err)
	}
	all := newHistogram()
	all.Merge(h) // one receiving goroutine per connection; one connection here
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(all.ValueAtQuantile(50))/1e3, "p50-us")
	b.ReportMetric(float64(all.ValueAtQuantile(99))/1e3, "p99-us")
	b.ReportMetric(float64(all.ValueAtQuantile(99.9))/1e3, "p99.9-us")
	if err := transports.WriteLatency(b.Name(), all); err != nil {
		b.Fatalf("latency file: %v", err)
	}
}

// TestMessages runs one short round of every transport and size,
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
				// 100 messages, 2 MiB of them at most: under -race kcp-go
				// moves 64 KB messages at about a MB/s here.
				n := min(100, (2<<20)/sz.size)
				h, err := exchange(ctx, p.client, n, sz.size, window, true)
				if cerr := p.Close(); err == nil && cerr != nil {
					t.Logf("close: %v", cerr)
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := h.TotalCount(); got != int64(n) {
					t.Fatalf("histogram holds %d round trips, want %d", got, n)
				}
			})
		}
	}
}
