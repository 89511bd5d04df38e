// Package tracker keeps the books on one connection's sent packets: which
// packets are in flight, for which stream, since when, and who gives their
// bytes back to the connection's flight counter.
//
// One concern: the sent-packet tracker. It decides nothing about windows or
// RTT; it takes RTT values as input (RTT), releases bytes to a Flight (the
// connection's congestion.FlightSize) and reports what the RTT estimator and
// the congestion controller need (AckResult, LossResult).
//
// Every sent packet is an entry with one atomic state word holding its packet
// number, its generation (how often it was retransmitted) and its phase:
//
//	InFlight(gen) --Refresh--> InFlight(gen+1)
//	InFlight(gen) --> Acked | Dropped | Abandoned   (final)
//
// Invariants:
//
//  1. Exactly-once release: a packet's bytes are released to the Flight by
//     the goroutine whose compare-and-swap moves the entry out of InFlight,
//     inside that transition (Tracker.resolve, the only caller of
//     Flight.Release), and by no one else. Whatever interleaving of OnAck,
//     DueForResend+Refresh, Abandon and DropStream runs, each packet's bytes
//     leave the Flight once; at quiescence the Flight holds exactly the bytes
//     of the packets still InFlight.
//  2. No resurrection: Refresh is a compare-and-swap from InFlight with the
//     caller's generation; an acked, dropped or abandoned packet never
//     becomes InFlight again, and a stale generation never refreshes.
//  3. DropStream visits only the packets registered for that stream (a
//     per-stream list in a shard chosen by stream id), never the others.
//  4. Pooled storage is never confused with its previous life: an entry's
//     identity is the packet number inside its state word, and packet
//     numbers are never reused (RFC 9000 section 12.3), so a compare-and-swap
//     against a recycled entry fails.
//
// A retransmission is the same entry refreshed in place: the resend path gets
// (PN, Gen, Stream, Size) from DueForResend, resends the packet under the same
// packet number, and calls Refresh(PN, Gen, now), which moves the entry to
// generation Gen+1 and restamps its send time. An ACK of that packet number
// acknowledges whichever copy arrived; its RTT sample is marked invalid
// (Karn's rule), since the copy cannot be told apart.
//
// Operations on one packet are linearizable; operations over many packets
// (an ACK with ranges, DropStream) are linearizable per packet: each packet's
// transition is one compare-and-swap, not the whole operation.
package tracker
