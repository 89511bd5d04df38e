// Package session is one petrel connection after its handshake: the send and
// receive paths, acknowledgements, loss recovery, congestion control and
// pacing, flow control, the reliable ordered message stream, and byte
// streams (Stream: streams.go, stream.go, rxbuf.go).
//
// # One engine, two drivers
//
// A Session is driven by three inputs only: datagrams (HandleDatagram), the
// time (the Config's Clock and the timers it arms on the node's wheel) and
// the user's calls (SendMessage, ReceiveMessage, OpenStream, AcceptStream,
// the Stream's methods, Close). It emits datagrams
// through a Sender. Nothing here reads a socket or the wall clock, so the
// same code runs over core/loop's sockets and over core/simnet's simulated
// network on fake time (DESIGN.md, "One engine, two drivers").
//
// # Send path
//
// A writer copies its message into the stream's send buffer (pooled 16 KiB
// chunks). If the bytes never sent fit in Config.SendBacklog it returns, and
// the session's sender goroutine (one at most, started on demand, ended
// when nothing more is handed to it) sends them with everything else
// written meanwhile: flat combining, so a burst of messages shares packets
// and system calls. Otherwise the writer sends on its own goroutine: under
// the session's lock it
// packs packets (retransmissions first, then new data), reserves each
// packet's bytes in the FlightSize against the controller's window, asks the
// pacer, takes the packet's SealKey and registers the packet in the tracker;
// then, without the lock, it seals the batch (so sealing spreads over the
// cores of the writers and of the sessions' sender goroutines) and hands it
// to the Sender, which sends runs of
// equal-size datagrams with one GSO call. A writer that finds the window,
// the peer's flow-control credit or the pacer closed parks on the session's
// progress notification (no polling) and is woken by ACKs, MAX_DATA and the
// pacing timer. The ACK path and the timers send retransmissions
// themselves when no writer is there to do it.
//
// # Receive path
//
// HandleDatagram parses the header, reconstructs the packet number, rejects
// replays before the AEAD (secure.ReplayWindow), opens the packet in place,
// records the packet number for the next ACK and applies the frames: ACK
// frames to the tracker, RTT estimator and controller, STREAM frames to the
// message stream's parser or a byte stream's reassembly ring (rxbuf.go:
// the reader copies below an atomic frontier without the session's lock),
// MAX_DATA / MAX_STREAM_DATA / MAX_STREAMS to the credits, STREAM_ABORT to
// the stream's end, CLOSE to the session's end. Drops are counted by reason.
//
// # Streams
//
// Concurrent streams share the connection round-robin, one packet per turn
// (the message stream among them). Every early end of a stream (the
// window-wait and inactivity timeouts, ReadFrom's reader failing, the peer's
// STREAM_ABORT, Abort, the session's end) runs abortStreamLocked, which drops
// the stream from the tracker (its bytes in flight leave the FlightSize at
// once, exactly), forgets its retransmissions, frees both its buffers and
// tells the peer (DESIGN.md invariant 4).
//
// # Retransmission
//
// Every transmission has a new packet number. A packet the tracker declares
// lost leaves the flight at once; its stream range waits in the
// retransmission queue and is sent again only through tracker.Retransmit, the
// compare-and-swap from the lost packet number to the new one, which fails
// once the data was acknowledged or the stream dropped (DESIGN.md
// invariant 2). A lost packet that carried only control frames is abandoned
// and its frames regenerated (an ACK is always rebuilt from the current
// state; MAX_DATA is re-sent at its current value).
//
// # Path MTU discovery
//
// Packets start at 1200 bytes and grow to what the path carries, up to the
// smaller of the two sides' max_udp_payload_size (pmtud.go: DPLPMTUD, RFC
// 8899): padded PING probes outside the window and the flight confirm a
// size, a bisecting search finds the largest, the controller's and the
// pacer's datagram size follow it, and a path that stops carrying it (a
// black hole: big packets lost across two probe timeouts) sends the
// session back to 1200 bytes, its lost ranges re-sent in pieces that fit
// (pack.go, splitRetxLocked: the first piece's Retransmit claims the lost
// packet for all of them).
//
// # Invariants
//
//   - Exactly-once release (DESIGN.md invariant 1): every ack-eliciting
//     packet's bytes enter the FlightSize through a congestion.Reservation
//     that the tracker takes over; no code here releases bytes by hand.
//     ACK-only packets are neither tracked nor counted in flight (RFC 9002
//     section 7: they are not congestion controlled).
//   - Delivered means delivered (invariant 9): a message is handed to
//     ReceiveMessage once, whole, in the order sent; the stream's bytes are
//     reassembled by offset, so duplicates and retransmissions are never
//     delivered twice. A reader sees io.EOF only after every byte before a
//     FIN the writer sent; a stream that ends early (an abort, the
//     session's end) gives both sides a *StreamAbortError. Nothing is
//     reported sent that was not acknowledged: a nil Write, CloseWrite or
//     Close says the bytes are queued, never that they arrived, and
//     CloseWrite and Close return the early end of a sending direction
//     that was not acknowledged whole (TestShutdownWithStreamsInFlight in
//     core).
//   - Nothing per connection when idle: send chunks, reassembly segments,
//     the sent-packet log and packet buffers come from pools and go back
//     once acknowledged or consumed.
//
// # Concurrency
//
// Every method is safe for concurrent use. HandleDatagram calls for one
// session must not overlap (a driver reads one peer's datagrams on one loop).
package session
