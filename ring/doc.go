// Package ring places peers on a ring and decides whom a node keeps: ring
// locations, the transient-connection manager with its exact budget, the
// established set indexed by location, and the routing estimator.
//
// Concerns, one per file:
//   - location.go: Location, a point on the ring in 0.64 fixed point, its
//     Distance, and locations from addresses and from randomness.
//   - established.go: the established peers by location, answering "the k
//     closest to x" without scanning every peer, with Min/Max targets.
//   - slot.go: Slot, one peer's transient state, embedded by value in the
//     owner's per-peer entry (core's Peer) with its TTL timer.
//   - transient.go, transient_ops.go: TransientManager, the one owner of
//     transient state (admitted peers not yet promoted): the budget, the
//     TryReserve/Promote/Drop transitions and expiry on the timer wheel.
//   - pav.go, estimator.go, estimator_window.go: the routing estimator, an
//     isotonic regression of an outcome against ring distance plus a per-peer
//     offset, over a bounded window of recent events kept sorted by distance.
//
// Invariants:
//  1. Locations are integers: equality, hashing and ordering agree, and
//     Distance(a, b) == Distance(b, a) <= HalfRing with the triangle
//     inequality.
//  2. The transient budget is exact (DESIGN invariant 6): the transient count
//     is one atomic that never exceeds Budget(), and at quiescence it equals
//     the number of slots in the transient state; every reservation is
//     released exactly once, by Promote, Drop or expiry, whichever wins.
//  3. Only TransientManager mutates transient state; a Slot's state changes
//     only under its own mutex, so reserve, promote, drop and expire are
//     linearizable per peer and idempotent.
//  4. No goroutine or runtime timer per transient: each Slot embeds one
//     wheel.Timer, re-armed in place.
//  5. The estimator is a value with an owner, a bound (a window of the most
//     recent events) and an explicit Reset; there is no package state.
//
// ring imports internal/wheel and internal/monotime only.
package ring
