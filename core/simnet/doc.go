// Package simnet is an in-process simulated UDP network: the driver that
// every end-to-end test of petrel runs its nodes on. Nodes open endpoints
// ("sockets") on a Network with Listen; each datagram written to an address
// crosses the directed link from the sender to the receiver, impaired by
// internal/netem (loss, bursts, delay, jitter, reordering, duplication,
// corruption, rate and a bounded queue), and is handed to the receiver's
// Handler when it is due. An *Endpoint has the method set of core.Driver and
// the Handler that of core.Handler, so a Node runs on it unchanged
// (DESIGN.md, "One engine, two drivers") without this package importing
// core.
//
// # Concern
//
// One concern: moving datagrams between endpoints in memory, as a network
// with the configured impairments would. There are no sockets and no
// busy loops: each endpoint has one delivery goroutine that sleeps on a
// time.Timer until its earliest datagram is due.
//
// # Partitions and NAT rebinding
//
// Partition and Heal cut and restore the path between two addresses.
// Endpoint.Rebind models a NAT rebinding: the endpoint's datagrams leave
// from a new public address and are routed to it there, while the endpoint
// itself (LocalAddr, Message.Local) sees no change, as a host behind a NAT
// does not.
//
// # Use with testing/synctest
//
// The package waits only through the time package, so it runs inside a
// testing/synctest bubble, where time is virtual and jumps forward whenever
// every goroutine of the bubble is blocked. A test that moves megabytes over
// a lossy 50 ms path then takes no wall-clock time, and delays are exact: a
// datagram sent on a link with Delay d arrives when time.Since(send) == d.
// Create the Network inside the bubble (its goroutines and timers belong to
// the bubble that starts them) and close it before the bubble ends:
//
//	synctest.Test(t, func(t *testing.T) {
//		nw, err := simnet.New(simnet.Config{Seed: 1, Default: netem.Config{Delay: 10 * time.Millisecond}})
//		if err != nil {
//			t.Fatal(err)
//		}
//		defer nw.Close()
//		a, _ := nw.Listen(netip.MustParseAddrPort("10.0.0.1:1"), handlerA)
//		b, _ := nw.Listen(netip.MustParseAddrPort("10.0.0.2:1"), handlerB)
//		a.WriteBatch([]batchio.Message{{Buffer: []byte("hi"), Addr: b.LocalAddr()}})
//		time.Sleep(10 * time.Millisecond) // virtual: handlerB has run
//	})
//
// The default Clock, BubbleClock, reads time.Now, which inside a bubble is
// the virtual time. Outside a bubble pass Config.Clock = monotime.Now.
//
// # Invariants
//
//   - Deterministic: every directed link draws from its own generator,
//     seeded from Config.Seed and the two addresses, so a single-goroutine
//     run with equal seeds sees equal fates.
//   - Conservation: every datagram written ends in one way, so at
//     quiescence Stats.Sent + Stats.Duplicated equals Stats.Delivered plus
//     the drops of every reason.
//   - Ordered, non-overlapping delivery: an endpoint's HandleBatch calls
//     never overlap, and datagrams due at equal times arrive in the order
//     they were sent.
//   - Close is total: once Endpoint.Close returns (from outside the
//     Handler), no HandleBatch call of that endpoint runs or will run and
//     its goroutine has exited.
//   - No allocation in steady state: datagram buffers and batches are
//     recycled through per-endpoint free lists.
package simnet
