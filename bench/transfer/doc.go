// Package transfer measures bulk data on streams end to end on loopback
// (127.0.0.1 only): goodput and CPU per byte of petrel's streams over each
// of its I/O drivers against quic-go, kcp-go, TCP and a raw UDP blast, in
// this one test binary. The benchmark names are fixed: bench/report looks
// the lines up by name.
//
//   - BenchmarkTransfer/{petrel-gnet,petrel-poller,quic-go,kcp-go,tcp,
//     udp-blast} moves data one way on one stream of one connection.
//     udp-blast (blast.go) is the ceiling without reliability or crypto:
//     1200-byte datagrams through batchio (sendmmsg and UDP GSO out,
//     recvmmsg and UDP GRO in), only the bytes received counted.
//   - BenchmarkLossMatrix/<cell>/{petrel-gnet,petrel-poller,quic-go,kcp-go}
//     does the same through internal/relay, each direction impaired as the
//     cell says (cell.go: 0.1%, 1% and 5% random loss at 20 ms and 100 ms
//     round trips, and a 100 Mbit/s bottleneck with netem's bounded queue
//     at 20 ms). TCP is not in it: the relay carries UDP only. The cells'
//     op sizes differ (one op is about a second at the rate reached there).
//   - BenchmarkStreams/{1,16,256}/{petrel,quic-go} splits the same total
//     over that many concurrent streams of one connection.
//   - BenchmarkPeers/{1,100,1000}/{petrel,quic-go} (peers.go): one server
//     and that many client peers in this process, each with a connection
//     of its own and one stream, all sending at once.
//
// kcp-go (bench/internal/transports) runs with AES-128 packet encryption
// (kcp.NewAESBlockCrypt, 16-byte pre-shared key) and its fast settings:
// NoDelay(1, 10, 2, 1), windows of 1024 segments (4096 collapsed on
// loopback: with no congestion control a full window overruns a lagging
// receiver), stream mode, no write delay, ACKs at once, 1200-byte
// datagrams as petrel's. FEC is off on loopback, where it only cost CPU,
// and 10 data + 3 parity shards (kcptun's default) in the loss matrix,
// where it measured faster. A KCP session, like a TCP connection, is one
// stream: neither is in BenchmarkStreams.
//
// A run (move) writes on every stream from a goroutine of its own in
// 64 KiB writes, while another goroutine per stream reads into a 64 KiB
// buffer and discards, counting bytes; the run ends when every reader has
// its bytes, so a benchmark measures goodput, not bytes buffered. Every
// transport sits behind the same link type (open and accept streams,
// close), so the harness, not the adapter, decides what is measured. With
// -petrel.cpuprofile every sub-benchmark writes a CPU profile of its timed
// part (transports.StartCPUProfile).
//
// Invariants: a run either moves every byte or fails: a stream on which no
// byte arrives for the stall bound, or any error, aborts the run (every
// stream's deadline set in the past, the link closed) and fails the
// benchmark. Everything a benchmark opens (nodes, listeners, connections,
// relays, goroutines) is closed or has ended when it returns, which each
// sub-benchmark checks with goleak.
package transfer
