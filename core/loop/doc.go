// Package loop is petrel's I/O driver over real sockets: it binds Loops
// SO_REUSEPORT UDP sockets to one address, reads each on a loop of its own
// with batchio (recvmmsg, UDP GRO) and hands every batch to a Handler, and
// sends batches (sendmmsg, UDP GSO) through the socket a destination
// hashes to. It imports batchio and nothing of core (floor 3): core adapts
// a driver into its Driver interface.
//
// # Two drivers, one API
//
// Both offer WriteBatch, LocalAddr, Loops, Stats and Close, and the same
// contracts. They differ in what wakes a loop and what a wakeup delivers.
//
// Poller (ListenPoller, every platform) runs one goroutine per socket.
// Each calls batchio's Drain, whose first recvmmsg parks in Go's network
// poller (the runtime's edge-triggered epoll) until the socket is
// readable; then Drain reads batches of up to BatchSize datagrams (a GRO
// receive cut into its segments) until the socket is empty. A wakeup is
// one Drain: everything queued when it started and whatever arrives while
// it reads. This is how quic-go and wireguard-go read; the receive path
// allocates nothing (TestReceiveAllocs). Off Linux batchio moves one
// datagram per system call and Loops > 1 needs SO_REUSEPORT (unix).
//
// Gnet (ListenGnet, Linux) runs gnet v2 event loops, one per socket
// (WithMulticore, WithReusePort, WithNumEventLoop). gnet watches its UDP
// sockets with a level-triggered epoll of its own per loop, and for each
// readable event reads ONE datagram with recvfrom into a loop-wide buffer,
// allocating a conn, a sockaddr, a *net.UDPAddr and a callback for it (5
// allocations a read, TestReceiveAllocs), then calls OnTraffic. OnTraffic
// puts that datagram first in the batch and drains the same fd (c.Fd() is
// the loop's own socket) with batchio.NewFD until EAGAIN, so a wakeup
// delivers gnet's datagram plus everything else queued, in batches, as on
// the Poller: gnet's per-datagram costs are paid once per wakeup, not once
// per datagram. gnet reads its datagram without control messages, so when
// it is a GRO receive it arrives coalesced, as one Message with
// SegmentSize 0 holding several packets; petrel's packets are self-
// delimiting and the Handler splits them. gnet exposes no loop's socket
// before traffic reaches it, so ListenGnet sends probe datagrams from
// fresh source ports until every loop has seen one (gnet_linux.go); and
// with port 0 a placeholder socket takes the port first, since gnet binds
// every loop's socket to the address it is given. Close starts the
// engine's shutdown (Engine.Stop with a cancelled context: Stop itself
// polls every 500 ms) and waits for gnet.Run to return.
//
// Why both: the Poller shares Go's one poller and scheduler with the rest
// of the process and costs nothing to set up; gnet gives each socket a
// loop with its own epoll and keeps readiness off Go's poller. On this
// 2-core machine, loopback, 1200-byte datagrams in GSO batches of 64, the
// two move the same ~1.5 M datagrams/s (BenchmarkDriver): the kernel and
// the copy are the limit, not the loop.
//
// # Sending
//
// WriteBatch hashes each destination to a socket, so one peer's datagrams
// leave through one socket in order, and sends each run of consecutive
// datagrams for one socket with one batchio WriteBatch (write.go). On a
// full send buffer the Poller parks inside batchio, in Go's poller; the
// Gnet driver's sockets are gnet's, non-blocking, so on EAGAIN it waits on
// a dup of the socket registered with Go's poller (os.NewFile, made at the
// first park) through RawConn.Write, never polling, and counts the wait in
// Stats.WriteParks.
//
// # Invariants
//
//   - A Handler's calls from one loop never overlap; its msgs are valid
//     only during the call.
//   - WriteBatch returns a prefix count, reads Buffers during the call
//     only, and is safe for concurrent use.
//   - Stats.Wakeups is the sum of Stats.PerWakeup, and Stats.Datagrams the
//     number of Messages handed to HandleBatch.
//   - Once Close returns no HandleBatch runs, no goroutine of the driver
//     (or of gnet's engine) is left, and WriteBatch returns ErrClosed,
//     which matches net.ErrClosed. Close is idempotent.
package loop
