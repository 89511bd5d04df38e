package transfer

import (
	"context"
	"strconv"
	"testing"

	"github.com/petrel-transport/petrel/bench/internal/transports"
	"github.com/petrel-transport/petrel/core"
	"go.uber.org/goleak"
)

// names are the transports of BenchmarkTransfer in order, the
// sub-benchmark names bench/report's claims look up (udp-blast, last, is
// not a link: benchBlast); the loss matrix runs the UDP transports with
// reliability (internal/relay relays UDP only, so not TCP; and a blast
// without reliability has no goodput to speak of under loss).
var (
	names    = []string{"petrel-gnet", "petrel-poller", "quic-go", "kcp-go", "tcp", "udp-blast"}
	impaired = names[:4]
	setups   = map[string]setup{
		"petrel-gnet":   petrelSetup(core.DriverGnet),
		"petrel-poller": petrelSetup(core.DriverPoller),
		"quic-go":       quicSetup,
		"kcp-go":        kcpSetup,
		"tcp":           tcpSetup,
	}
)

// streamCounts are BenchmarkStreams' numbers of concurrent streams on one
// connection; each moves an equal share of block per op (256 x 64 KiB).
var streamCounts = []int{1, 16, 256}

// TestMain fails the package if any goroutine outlives the benchmarks, but
// for those that live for the whole process (transports.ProcessGoroutines).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, transports.ProcessGoroutines...)
}

// BenchmarkTransfer: bulk data one way on one stream of one connection,
// b.N blocks per run. MB/s (b.SetBytes) is goodput: the run ends when the
// receiver has the last byte. cpu-s/GiB is the process's CPU time, user
// plus system, both endpoints (and on the impaired path the relay) in
// it, per GiB moved; B/op and allocs/op count the whole process too. The
// link and its stream are set up, and one block moved, before the timer
// starts. b.N is a count of blocks moved back to back on one stream (the
// pipeline spans them), hence b.N and not b.Loop.
func BenchmarkTransfer(b *testing.B) {
	for _, name := range names {
		if name == "udp-blast" {
			b.Run(name, benchBlast)
			continue
		}
		b.Run(name, func(b *testing.B) { benchmark(b, setups[name], false, 1, block) })
	}
}

// BenchmarkLossMatrix: BenchmarkTransfer's one stream through
// internal/relay, each direction impaired as the cell says (cells), for
// every transport but TCP (the relay carries UDP) and udp-blast. MB/s and
// cpu-s/GiB as in BenchmarkTransfer (the relay's CPU is in the latter).
// An op moves the cell's perOp bytes, after a warm-up of a quarter of
// that (the congestion controller leaves slow start in it); b.N is 1 at
// any -benchtime up to a second, so a round of the matrix costs about
// 28 sub-benchmarks x (setup + 1.25 ops), a minute or two.
func BenchmarkLossMatrix(b *testing.B) {
	for _, c := range cells {
		b.Run(c.name, func(b *testing.B) {
			for _, name := range impaired {
				b.Run(name, func(b *testing.B) { run(b, setups[name], c, 1, c.perOp, c.perOp/4) })
			}
		})
	}
}

// BenchmarkStreams: block per op split over 1, 16 or 256 concurrent
// streams of one connection, petrel (gnet driver) against quic-go; MB/s
// is the aggregate goodput, cpu-s/GiB as in BenchmarkTransfer.
func BenchmarkStreams(b *testing.B) {
	for _, k := range streamCounts {
		b.Run(strconv.Itoa(k), func(b *testing.B) {
			b.Run("petrel", func(b *testing.B) { benchmark(b, setups["petrel-gnet"], false, k, block) })
			b.Run("quic-go", func(b *testing.B) { benchmark(b, quicSetup, false, k, block) })
		})
	}
}

// benchmark sets up a link with s and k streams on it, through the
// default impaired path (defaultCell) if impaired, moves one op of
// warm-up, then times b.N ops of perOp bytes, split evenly over the
// streams, and reports goodput and CPU per GiB (run).
func benchmark(b *testing.B, s setup, impaired bool, k int, perOp int64) {
	var c *cell
	if impaired {
		c = defaultCell
	}
	run(b, s, c, k, perOp, perOp)
}

// run sets up a link with s and k streams on it, through a relay
// impairing it as c says if c is not nil, moves warm bytes of warm-up
// split evenly over the streams, then times b.N ops of perOp bytes, split
// the same way, and reports goodput and CPU per GiB; with
// -petrel.cpuprofile it profiles the timed part. Everything it opened is
// closed, and every goroutine it started has ended, when it returns.
func run(b *testing.B, s setup, c *cell, k int, perOp, warm int64) {
	defer goleak.VerifyNone(b, transports.Baseline()...)
	b.ReportAllocs()
	ctx, cancel := context.WithTimeout(b.Context(), bound)
	defer cancel()
	l, err := dial(ctx, s, c)
	if err != nil {
		b.Fatalf("set up: %v", err)
	}
	defer l.Close() // after StopTimer: teardown is not timed
	f, err := openFlows(ctx, l, k)
	if err != nil {
		b.Fatalf("open streams (%d): %v", k, err)
	}
	share := perOp / int64(k)
	if err := move(l, f, warm/int64(k)); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	b.SetBytes(perOp)
	stop := transports.StartCPUProfile(b)
	b.ResetTimer()
	cpu0, cpuOK := cpuTime()
	err = move(l, f, int64(b.N)*share)
	cpu1, _ := cpuTime()
	b.StopTimer()
	stop()
	if err != nil {
		b.Fatal(err)
	}
	if cpuOK {
		gib := float64(b.N) * float64(perOp) / (1 << 30)
		b.ReportMetric((cpu1-cpu0).Seconds()/gib, "cpu-s/GiB")
	}
	if c != nil {
		fwd, rev := l.relay.Stats()
		if fwd.Received == 0 || rev.Received == 0 {
			b.Fatalf("the relay carried %d datagrams forward and %d back: both directions must cross it", fwd.Received, rev.Received)
		}
	}
}
