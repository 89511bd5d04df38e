// Package congestion keeps the books on how many bytes a connection may have
// in flight and how fast it may send them.
//
// One concern: the congestion state of one connection —
//   - FlightSize (flightsize.go): the atomic count of bytes in flight, with
//     a one-step check-and-reserve and a parking Reserve for writers;
//   - RTT (rtt.go): the round-trip estimator of RFC 9002 section 5 and the
//     probe-timeout backoff of section 6.2.1;
//   - Controller (controller.go) and its implementations: Cubic (cubic.go,
//     RFC 9438) with HyStart++ (hystart.go, RFC 9406), the default; LEDBAT
//     (ledbat.go, LEDBAT++ of draft-irtf-iccrg-ledbat-plus-plus) for
//     background transfers; FixedRate (fixedrate.go) for links of known
//     capacity;
//   - Pacer (pacer.go): a token bucket that spreads packets at the
//     controller's pacing rate (RFC 9002 section 7.7).
//
// It imports nothing of petrel but internal/monotime.
//
// How a connection wires them: the event loop owns one RTT, one Controller
// and one Pacer per connection. On an ACK it updates the RTT
// (RTT.Update, RTT.ResetBackoff when new data was acknowledged), calls
// Controller.OnAck, releases the acknowledged bytes from FlightSize and calls
// FlightSize.Notify so writers parked on a grown window re-check. Losses go
// to Controller.OnCongestionEvent; a PTO expiry to RTT.OnTimeout once per
// expiry; persistent congestion to Controller.OnRetransmissionTimeout, after
// the losses that establish it (RFC 9002 Appendix B.8). Within one ACK frame
// either order of losses and acknowledgments is fine (RFC 9002 Appendix A.7
// reports the losses first). A
// writer reserves bytes with FlightSize.Reserve against the Controller
// (every Controller is a Window), and every packet — retransmissions and
// control packets too — leaves at Pacer.NextSendTime and is reported to
// Pacer.OnPacketSent and Controller.OnPacketSent (HyStart++ counts its
// rounds from the send times it sees there).
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
//   - The PTO backoff doubles once per timeout event (RTT.OnTimeout), never
//     once per lost packet, is capped at MaxPTO and is reset by an ACK of
//     new data.
//   - A controller's window stays within [MinWindow, MaxWindow] of its
//     Config, is never NaN, and shrinks at most once per recovery period: a
//     loss of a packet sent at or before the start of the current recovery
//     period is ignored (RFC 9002 section 7.3.2). ssthresh is reduced once
//     per loss episode: a retransmission timeout (persistent congestion)
//     inside an episode already reduced collapses the window only.
//   - Controller.Window and PacingRate are safe for concurrent use (values
//     published atomically); the On* methods, RTT and Pacer are owned by
//     the connection's event loop and are not.
//   - The per-packet methods (TryReserve, Release, RTT.Update, the
//     controllers' On* methods, the Pacer's) allocate nothing.
package congestion
