// Package relay is a UDP relay on loopback that applies internal/netem's
// impairment model between two endpoints: random and Gilbert-Elliott loss,
// one-way delay and jitter, reordering, duplication, corruption, and a
// bandwidth limit with a bounded queue (tail drop), seeded. This kernel has
// no netem qdisc, so the demo, the benchmarks and real-socket tests get a
// WAN on loopback from it.
//
// Clients send to the relay's address; for each client the relay opens a
// socket of its own towards the target (as a NAT would), so the target sees
// one distinct address per client and its replies find their way back.
// Each direction of each client's flow is one netem.Pipe: the reader offers
// every datagram to the pipe (which decides its fate and copies it into a
// pooled buffer), and a scheduler goroutine sends the copies when they fall
// due, in batches through batchio (sendmmsg, with consecutive equal-size
// datagrams coalesced into UDP GSO sends). Reads use recvmmsg with GRO. A
// direction with a perfect model skips the pipe: its reader forwards each
// batch from the read buffers at once, so an unimpaired flow costs two
// batched system calls per batch, no copy and no handoff, and the relay does
// not become the bottleneck it measures (BenchmarkRelay compares it with a
// direct path).
package relay
