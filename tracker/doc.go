// Package tracker keeps the books on one connection's sent packets: which
// packets are in flight, for which stream, since when, and who gives their
// bytes back to the connection's flight counter.
//
// One concern: the sent-packet tracker. It decides nothing about windows or
// RTT; it takes RTT values as input (RTT), takes over the writers' flight
// reservations (congestion.Reservation) and releases their bytes to the
// connection's congestion.FlightSize, and reports what the RTT estimator
// and the congestion controller need (AckResult, LossResult).
//
// Every transmission has its own packet number (as in QUIC, RFC 9000
// section 12.3): RTT samples are never ambiguous and an ACK names exactly
// one transmission. Every sent packet is an entry with one atomic state
// word holding its packet number, its generation (how often its data was
// retransmitted before it) and its phase:
//
//	OnSent ──> InFlight ──DueForResend (loss or probe)──> Lost
//	           InFlight ──> Acked | Dropped | Abandoned             (final)
//	           Lost ──Retransmit(lost, new)──> Retransmitted        (final)
//	                 └─ and registers `new` InFlight, generation + 1
//	           Lost ──> Acked (late ACK: spurious loss) | Dropped | Abandoned
//
// A packet leaves the flight when it leaves InFlight: its bytes are
// released then, whether it was acked, declared lost, probed, dropped or
// abandoned. A Lost packet holds no bytes; its data waits for the caller's
// decision, Retransmit or Abandon, and DropStream and late ACKs resolve it
// too.
//
// Invariants:
//
//  1. Exactly-once release: a packet's bytes are released to the
//     FlightSize by the goroutine whose compare-and-swap moves the entry
//     out of InFlight, inside that transition (Tracker.transition, the only
//     caller of FlightSize.Release), and by no one else. Whatever
//     interleaving of OnAck, DueForResend, Retransmit, Abandon and
//     DropStream runs, each packet's bytes leave the FlightSize once; at
//     quiescence it holds exactly the bytes of the packets still InFlight.
//     The bytes come in through a congestion.Reservation that OnSent and
//     Retransmit take over (or give back, on error): no caller adds or
//     releases a tracked packet's bytes by hand.
//  2. No resurrection: nothing goes back to InFlight. A lost packet's data
//     is sent again only by Retransmit, a compare-and-swap from Lost that
//     fails once the packet was acknowledged, dropped, abandoned or already
//     retransmitted; for a stream packet it runs under the stream's lock
//     with the new packet's registration, so a DropStream either resolves
//     the lost packet first or finds the new one. Dropped or acknowledged
//     data is never retransmitted.
//  3. DropStream visits only the packets registered for that stream (a
//     per-stream list in a shard chosen by stream id), never the others.
//  4. Pooled storage is never confused with its previous life: an entry's
//     identity is the packet number inside its state word, and packet
//     numbers are never reused (RFC 9000 section 12.3), so a compare-and-swap
//     against a recycled entry fails; a final word left over from an
//     earlier life of its chunk is told apart by the life stamped in the
//     entry.
//
// Operations on one packet are linearizable; operations over many packets
// (an ACK with ranges, DueForResend, DropStream) are linearizable per
// packet: each packet's transition is one compare-and-swap, not the whole
// operation. Retransmit is one compare-and-swap on the lost packet.
package tracker
