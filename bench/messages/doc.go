// Package messages measures request–response messaging end to end on
// loopback (127.0.0.1 only): petrel over each of its I/O drivers against
// quic-go (one bidirectional stream), kcp-go (one session) and TCP, the
// last three with 4-byte big-endian length-prefixed messages. Its one
// benchmark,
// BenchmarkMessages/{64B,1KB,64KB}/{petrel-gnet,petrel-poller,quic-go,kcp-go,tcp},
// has fixed names: bench/report's claims compare its lines (petrel against
// quic-go at 1 KB and 64 B) by name.
//
// A run (exchange) sends messages from one goroutine with at most window
// of them outstanding, while another receives the echoes in order, checks
// each one's sequence number and size, and records its round trip (send
// time, carried in the message, to echo received) in an HDR histogram of
// its own; histograms are merged for the report. Every transport sits
// behind the same small msgConn interface, so the harness, not the adapter,
// decides what is measured.
//
// Invariants: a run is bounded by its message count; everything a run opens
// (listeners, connections, client nodes, goroutines) is closed when it
// returns, which TestMain checks with goleak.
package messages
