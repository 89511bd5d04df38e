// Package batchio moves UDP datagrams between petrel and the kernel in
// batches, with every offload the kernel offers and a clean fallback when it
// refuses. It is petrel's only I/O boundary and imports nothing of petrel.
//
// # Concern
//
// One thing: turn a slice of [Message] into as few system calls as the
// kernel allows, and back. On Linux a [Conn] uses recvmmsg(2) and
// sendmmsg(2); consecutive datagrams of equal size to the same destination
// leave as one UDP GSO send (a UDP_SEGMENT control message), and coalesced
// UDP GRO receives are cut back into datagrams without copying. Elsewhere the
// same API moves one datagram per system call; Config.DisableMmsg makes a
// Linux Conn do the same (recvmsg/sendmsg, no GSO or GRO), to measure what
// the batches are worth or to run where the mmsg calls are refused.
//
// A Conn runs in one of two modes, chosen by its constructor:
//   - [New] wraps a *net.UDPConn and drives it through syscall.RawConn, so
//     reads and writes park in Go's network poller instead of a thread;
//   - [NewFD] (Linux) drives a non-blocking socket owned by an event loop
//     (gnet hands out its loop's fd): calls never block and report
//     [ErrWouldBlock] when the kernel answers EAGAIN; [Conn.Drain] reads
//     until then.
//
// Sends are made without entering Go's scheduler (RawSyscall) when they
// are sure to be short: every sendmmsg is non-blocking, so its length is
// the work it does, and a Conn measures that work per header and per GSO
// segment and cuts each call to what it predicts will end within 20 µs,
// sysmon's shortest tick; a single header predicted to take longer goes
// through syscall.Syscall as usual (sendcost.go; Stats.RawSendCalls). On a
// 2-core machine this is what makes sendmmsg beat one sendto per datagram
// at all on loopback: a long scheduled call lets sysmon hand the sender's
// P to another thread mid-call (BenchmarkLoopback/mmsg against
// /mmsg-sched).
//
// # Invariants
//
//   - Nothing is lost silently. Every datagram handed to WriteBatch is either
//     counted in its return value or was not sent and is reported by the
//     returned error; when the kernel answers EIO to a GSO send, GSO is
//     switched off for that socket, the unsent rest of the batch is sent
//     again without it, and the event is reported ([GSODisabledError],
//     Stats.GSODisabled). Received datagrams the kernel truncated are
//     counted (Stats.Truncated), and so are the kernel's receive-queue drops
//     (Stats.KernelDrops: its sk_drops counter, read with SO_MEMINFO, or
//     with SO_RXQ_OVFL on kernels whose SO_MEMINFO lacks it).
//   - A GSO run never breaks the kernel's rule (net/ipv4/udp.c
//     udp_send_skb): at most 64 segments, at most 64 KB of payload, every
//     segment the size of the first except the last, which may be shorter;
//     a size change, a new destination or a new source address ends a run;
//     a one-datagram run carries no UDP_SEGMENT.
//   - A GRO receive of n bytes with segment size s yields ceil(n/s)
//     datagrams, each a sub-slice of the receive buffer, in order, covering
//     it exactly.
//   - A raw send is predicted to end within 20 µs by an estimate that,
//     after every call, predicts at least that call's measured length for
//     a call of the same runs, and that GSO runs never lower below what a
//     whole GSO header costs. So on a steady path no raw call runs longer,
//     and when the path slows, or the traffic takes a shape not seen
//     lately (longer GSO runs), one raw call may before the estimate
//     catches up.
//   - Steady state allocates nothing per datagram or per call: headers,
//     iovecs, control buffers, address storage and the receive arena are
//     allocated once per Conn; the RawConn callbacks are method values
//     bound once; addresses are netip.AddrPort parsed by hand from the raw
//     sockaddr and the packet-info control messages.
//
// # Buffer ownership and concurrency
//
// WriteBatch reads the callers' buffers during the call only; it keeps no
// reference after it returns. ReadBatch ignores the Buffer a Message holds on
// entry and points it into the Conn's receive arena; that memory stays valid
// until the next ReadBatch or Drain on the same Conn, or Close, and the
// caller must copy what it keeps longer. One goroutine may read while
// another writes; concurrent readers (or writers) are serialized. Close
// returns only when no system call on the socket is in flight, so an event
// loop may close its fd right after; the calls it cut short return ErrClosed.
package batchio
