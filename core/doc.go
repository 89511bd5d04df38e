// Package core is petrel's public API and its node: Listen opens a Node on
// a UDP port; Node.Dial and Node.Accept give a Conn, an authenticated,
// encrypted, congestion-controlled connection to one peer carrying reliable
// ordered messages. Under it: the peer table, the connection registry, the
// node lifecycle, reconnect supervision, transient and established
// connections (ringlink.go), and the engine (engine.go, handshake.go) that
// routes datagrams from a driver (core/loop's sockets, core/simnet in
// tests) to sessions (core/session) by connection id.
//
// # The receive path
//
// A driver hands a batch of datagrams to the engine on a loop goroutine.
// Each datagram is split into its self-delimiting packets (a GRO buffer
// needs no segment size); a handshake packet goes to the handshake code, any
// other to the session its destination connection id names, looked up
// without a lock. Each session touched by the batch is flushed once after
// the batch (its ACKs and whatever the ACKs released leave together), and
// its peer is touched for liveness.
//
// # One entry per peer
//
// A Peer is the single record the node keeps for a remote peer, keyed by its
// static public key (PeerKey): address, ring location, lifecycle State,
// last-seen time, current Session, counters, and the estimates retained
// across sessions. Hot fields are typed atomics. The Table holds the records
// in a sharded open-addressing index with the keys inline (one cache miss
// per lookup), plus an address index for the receive path; Load,
// LoadByAddr and Peer.Touch take no lock and allocate nothing.
//
// # Invariants
//
//   - One live session per peer (DESIGN.md invariant 5). A peer's session
//     slot is one atomic pointer. Table.Swap applies the double-connection
//     rule and installs the winner in one step under the peer's registry
//     lock, calling build only for a winner; RemoveIfMatches empties the slot
//     only for the session the caller holds. Each session leaves the slot
//     exactly once, so its disconnect is announced exactly once, by whoever
//     took it out, outside any lock. A dead session (IsAlive false) never
//     blocks a new one.
//   - Both ends agree: of two crossing connections, both keep the one
//     initiated by the lower PeerKey (see registry.go for why).
//   - Shutdown is total (DESIGN.md invariant 7): Close cancels the root
//     context first; every timer callback and dial checks it; in-flight work
//     is tracked by a counter that refuses new work once Close began, and
//     drained with a bound (Config.DrainTimeout); then every session is
//     ended. After a Close that returned nil, no goroutine of the node runs,
//     no timer fires and no dial completes (see lifecycle.go). Once Close has
//     begun every Node call returns ErrClosed and no record is created; when
//     it returns every record is Closed, holds no session and has no timer
//     armed.
//   - Records persist, sessions are transient: a record outlives its
//     sessions; each session has its own processing context, created on
//     connect and cancelled on disconnect.
//   - Timers live on the node's one wheel (internal/wheel), one per purpose
//     per peer, embedded in the peer: reconnect backoff, and liveness
//     (keepalive, idle reaping, forgetting). A tick costs O(timers due),
//     never O(peers): Touch does not re-arm anything; the timer re-arms
//     itself lazily from last-seen when it fires.
//   - Callbacks (Config.On*) run outside every lock of the node. (Those run
//     by a timer run inside Node.Advance, which is serialised: they must not
//     call Advance.)
//
// # Lock order
//
//	link.mu (per peer, registry writers) -> Table peers shard -> Table byAddr shard
//	link.mu -> ring.Slot.mu -> Established.mu or a wheel shard (settleSlot)
//
// Readers take none of them.
package core
