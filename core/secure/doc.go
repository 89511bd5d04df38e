// Package secure is petrel's secure channel: who a peer is, how two nodes
// agree on keys, and how each packet is protected. It is pure: no sockets,
// no goroutines, no clock reads — time comes in as arguments — so the
// session engine drives it and tests exercise every path.
//
// Identity (identity.go, keyfile.go): a node is its static X25519 key pair;
// the public key is its identity (core's PeerKey). Key files have a small
// documented text format, written 0600 and refused when others may read them.
//
// Handshake (initiator.go, responder.go, incoming.go, handshake_msg.go):
// Noise IK through github.com/flynn/noise — the initiator knows the
// responder's static key, so one round trip — in one of two suites
// (suite.go). The first message carries a TAI64N timestamp (timestamp.go)
// and each side's payload (core: its connection id and transport
// parameters), all encrypted and authenticated.
//   - What is authenticated: both static keys (Noise's es, ss and se), the
//     payloads, and the initiation's clear header (suite, version,
//     connection id), which is the Noise prologue.
//   - What stops replay: a responder accepts an initiation only if its
//     timestamp is newer than every one accepted before from that static key
//     (ReplayGuard), so a captured initiation is refused, and a restarted
//     peer's fresh one is accepted at once.
//   - What stops amplification and state exhaustion: mac1 (keyed by the
//     responder's public key) drops messages not meant for the node before
//     any Diffie-Hellman; under load (or always, by CookieMode) a responder
//     answers an initiation without a valid mac2 with a stateless cookie
//     (cookie.go: a MAC of the source address under a secret rotating every
//     two minutes) and keeps nothing; a reply to an address not validated
//     never exceeds three times the bytes received from it (amplification.go,
//     RFC 9000 section 8.1); and state is kept only after the Admission
//     (admission.go; core: ring's TransientManager) grants it, so its budget
//     bounds handshake state under a flood.
//
// Packet protection (aead.go, protect.go, keyupdate.go, replay.go,
// limits.go): AES-128-GCM where the CPU has AES instructions,
// ChaCha20-Poly1305 otherwise; nonce = packet number XOR a per-key IV
// (RFC 9001 section 5.3); the header is the associated data; seal and open
// in place without allocating. A sliding replay window reports duplicates
// (to be re-acknowledged, never an error). Keys are updated before the
// AEAD's limits (RFC 9001 section 6.6) and by time, with a key-phase bit;
// the previous receive keys live a bounded time for reordered packets, then
// are erased.
//
// Invariants:
//   - A responder holds state only for initiations that passed mac1, the
//     cookie policy, authentication, the replay check and admission; every
//     admission is released exactly once (refusal, Pending.Fail) or handed
//     to the connection exactly once (Pending.Confirm).
//   - Secrets this package holds (static keys, traffic secrets, packet keys,
//     IVs, ephemeral keys inside flynn/noise's handshake state) are zeroed
//     when dropped. The AES and ChaCha key schedules inside cipher.AEAD
//     values and flynn/noise's chaining key cannot be reached from here;
//     they become garbage with their owners.
//   - Bad input never panics: every decoder checks lengths first, and
//     fuzzers feed random and mutated messages to both sides.
//
// It imports nothing of petrel but internal/monotime.
package secure
