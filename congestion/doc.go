// Package congestion keeps the books on how many bytes a connection may have
// in flight and how fast it may send them.
//
// One concern: the congestion state of one connection — the atomic
// FlightSize counter, the RTT estimator (RFC 9002 section 5), the congestion
// controllers (CUBIC with HyStart++, LEDBAT++, FixedRate) and the pacer.
// It imports nothing of petrel but internal/monotime.
//
// Invariants:
//   - FlightSize.TryReserve checks the window and adds the bytes in one
//     compare-and-swap: two writers can never both pass a check for the same
//     room.
//   - FlightSize.Release never wraps below zero and never saturates silently:
//     an underflow is counted, exposed in Stats, and panics in test binaries
//     and under the petreldebug build tag.
//   - A writer waiting for room parks on a notification fired by Release or
//     Notify; nothing polls and nothing sleeps.
package congestion
