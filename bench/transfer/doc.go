// Package transfer measures bulk data on streams end to end on loopback
// (127.0.0.1 only): goodput and CPU per byte of petrel's streams over each
// of its I/O drivers against quic-go and TCP, in this one test binary.
//
// BenchmarkTransfer/{petrel-gnet,petrel-poller,quic-go,tcp} moves data one
// way on one stream of one connection; BenchmarkTransfer/impaired/{petrel-
// gnet,petrel-poller,quic-go} does the same through internal/relay (1%
// random loss and 10 ms of delay in each direction, seeded), and
// BenchmarkStreams/{1,16,256}/{petrel,quic-go} splits the same total over
// that many concurrent streams of one connection. The names are fixed:
// bench/report's claims compare these lines by name.
//
// A run (move) writes on every stream from a goroutine of its own in
// 64 KiB writes, while another goroutine per stream reads into a 64 KiB
// buffer and discards, counting bytes; the run ends when every reader has
// its bytes, so a benchmark measures goodput, not bytes buffered. Every
// transport sits behind the same link type (open and accept streams,
// close), so the harness, not the adapter, decides what is measured.
//
// Invariants: a run either moves every byte or fails: a stream on which no
// byte arrives for the stall bound, or any error, aborts the run (every
// stream's deadline set in the past, the link closed) and fails the
// benchmark. Everything a benchmark opens (nodes, listeners, connections,
// relays, goroutines) is closed or has ended when it returns, which each
// sub-benchmark checks with goleak.
package transfer
