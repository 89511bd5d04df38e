// Package netem is the impairment model of one direction of a network link:
// it decides, per datagram, whether the datagram is lost, queued behind a
// bottleneck, delayed, reordered, duplicated or corrupted, and when each
// copy arrives at the far end. It is shared by core/simnet (the in-memory
// network the session engine is tested on) and by the UDP relay on loopback
// that the demo and the benchmarks put between two nodes (this kernel has no
// netem qdisc, so the relay plays its part).
//
// # Concern
//
// One concern: the fate of each datagram offered to a link. The package is
// pure: it starts no goroutine, reads no clock and opens no socket. Time is
// the monotime.Time the caller passes in, so the same code runs under a fake
// clock, under testing/synctest and against the real clock. A Link decides;
// a Queue holds what was decided until it is due; a Pipe joins the two for
// []byte payloads, with the copying and the bit flipping done for the
// caller.
//
// # Pipeline
//
// The model follows the order of the Linux netem qdisc's enqueue path
// (net/sched/sch_netem.c, netem_enqueue), adjusted where noted in Config:
//
//	offer(now, size)
//	  -> path loss (independent, or the Gilbert-Elliott chain)
//	  -> bottleneck: tail drop if the queue would exceed QueueBytes,
//	     else leave at max(now, busyUntil) + size/Rate
//	  -> duplication (downstream of the bottleneck: the copy costs no capacity)
//	  -> per copy: reorder (skip the propagation delay) or Delay +- Jitter,
//	     kept in order unless JitterReorders; corruption picks one bit
//
// # Invariants
//
//   - Deterministic: two Links built from equal Configs (Seed included) and
//     given the same sequence of calls return the same fates. All randomness
//     comes from one PCG generator seeded from Config.Seed, so a failing
//     simulation seed reproduces.
//   - Conservation: every datagram offered ends in exactly one way, dropped
//     for one reason or delivered (once or twice), so Stats.Sent equals
//     DroppedLoss + DroppedBurst + DroppedQueue + Delivered - Duplicated.
//   - Exact rate: while the bottleneck stays busy, the k-th byte admitted in
//     the busy period leaves it at start + ceil(k*1e9/Rate) ns; rounding
//     never accumulates.
//   - Bounded queue: the bytes waiting to be serialized never exceed
//     QueueBytes; a datagram is tail-dropped exactly when admitting it would
//     make them exceed it.
//   - Order: with JitterReorders off, the copies that are not picked for
//     reordering arrive in the order they were offered (equal times allowed),
//     and a Queue pops equal times in push order.
//   - Bounds: a copy not picked for reordering leaves the bottleneck at d and
//     arrives in [d+Delay-Jitter, d+Delay+Jitter]; a reordered copy arrives
//     at d.
//   - No allocation in steady state: Link.Decide appends to the caller's
//     slice, Queue reuses its backing array, Pipe reuses its buffers.
//
// # Concurrency
//
// Nothing here is safe for concurrent use. Each direction of a link is
// driven by one goroutine (simnet's scheduler, the relay's reader), or the
// caller holds a lock around every call.
package netem
