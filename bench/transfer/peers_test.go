package transfer

import (
	"context"
	"strconv"
	"testing"

	"github.com/petrel-transport/petrel/bench/internal/transports"
	"go.uber.org/goleak"
)

// peerCounts are BenchmarkPeers' numbers of client peers of one server.
var peerCounts = []int{1, 100, 1000}

// peersBlock is the bytes one op moves over all peers together, an equal
// share each: BenchmarkTransfer's block, so one op takes tens to hundreds
// of milliseconds and 1,000 peers move 16 KiB each per op.
const peersBlock = block

// filesPerPeer bounds the file descriptors one peer takes: its socket,
// and for a petrel node its driver's (an epoll instance or an eventfd,
// and a timer); the server's few are in the slack.
const filesPerPeer = 4

// BenchmarkPeers: one server node and 1, 100 or 1,000 client peers, each
// with a connection of its own and one stream on it, all sending at once
// (move: a writer and a reader goroutine per stream); petrel (server on
// the gnet driver, clients peerClientConfig) against quic-go (a socket
// and a quic.Transport per client). MB/s (b.SetBytes) is the aggregate
// goodput, cpu-s/GiB as in BenchmarkTransfer. Setup (dials, handshakes)
// and a quarter op of warm-up are not timed.
//
// Every peer lives in this process, so the clients' own cost is in the
// CPU figure and competes with the server for the two cores: a petrel
// node advances its timer wheel every Tick (1 ms) whether it has work or
// not, which at 1,000 client nodes is a million wake-ups a second
// (internal/wheel Advance and the runtime's timers were a third of the
// process's CPU in a profile of the 1,000-peer run), where an idle
// quic-go connection arms a timer only for its own deadlines.
func BenchmarkPeers(b *testing.B) {
	for _, n := range peerCounts {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.Run("petrel", func(b *testing.B) { benchPeers(b, petrelPeers, n) })
			b.Run("quic-go", func(b *testing.B) { benchPeers(b, quicPeers, n) })
		})
	}
}

func benchPeers(b *testing.B, s peersSetup, n int) {
	defer goleak.VerifyNone(b, transports.Baseline()...)
	b.ReportAllocs()
	if err := ensureFiles(uint64(filesPerPeer*n + 256)); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.Context(), bound)
	defer cancel()
	l := &link{}
	defer l.Close() // after StopTimer: teardown is not timed
	f, err := s(ctx, l, n)
	if err != nil {
		b.Fatalf("set up %d peers: %v", n, err)
	}
	share := peersBlock / int64(n)
	if err := move(l, f, share/4); err != nil { // a quarter: 1,000 peers take seconds per op
		b.Fatalf("warm-up: %v", err)
	}
	b.SetBytes(share * int64(n))
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
		gib := float64(b.N) * float64(share*int64(n)) / (1 << 30)
		b.ReportMetric((cpu1-cpu0).Seconds()/gib, "cpu-s/GiB")
	}
}
