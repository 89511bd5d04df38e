// Package wire is petrel's packet and frame codec: pure functions that lay
// out and parse short-header packets and the frames inside their decrypted
// payload. It holds no state between calls, starts no goroutine and touches
// no socket; core/secure seals and opens the payloads, core/session decides
// what to put in them.
//
// # Concern
//
// One concern: the bytes on the wire. The layouts follow QUIC (RFC 9000)
// wherever QUIC already solved the problem: variable-length integers
// (section 16), the first-byte conventions of the short header (section
// 17.3), truncated packet numbers (section 17.1, Appendix A) and the frame
// layouts of section 19, trimmed to the frames petrel needs. Each layout is
// documented next to its encoder.
//
// A datagram starts with a flags byte: bit 7 is the form (0 for a short
// header, the protected data packet; 1 for a handshake packet, whose layout
// belongs to core/secure), bit 6 is the fixed bit, always 1. The short
// header is
//
//	flags(1) | DCID(8) | Length(varint) | packet number(1-4) | sealed payload
//
// where Length counts the packet number and the sealed payload (including
// the AEAD tag), so several packets coalesced in one buffer split without
// the kernel's help. The bytes through the packet number are the AEAD's
// associated data.
//
// # Invariants
//
//   - Decoders never panic and never read outside their input, whatever the
//     bytes: every length read from the wire is checked against the bytes
//     that remain, in uint64 before any conversion to int, so a varint
//     length near 2^62 cannot overflow int on 32-bit platforms.
//   - Malformed input is reported as a *FormatError wrapping one of the
//     sentinels ErrTruncated, ErrUnknownFrame, ErrInvalid,
//     ErrDuplicateParam or ErrMissingParam, so callers can count drops by
//     reason with errors.Is.
//   - Decoding a valid packet allocates nothing: frames returned by
//     FrameParser reference the input buffer, which the caller must keep
//     unchanged while it uses them. ACK ranges are validated when the frame
//     is parsed and then iterated from the raw bytes.
//   - Encoders append to the caller's slice (the AppendX(dst, ...) []byte
//     style of strconv and encoding/binary) and allocate only when dst must
//     grow. They panic only when the caller breaks a documented
//     precondition (a value above MaxVarint, a packet-number length outside
//     1..4, a header Length beyond MaxPacketSize): those are bugs in the
//     caller, never something a peer can cause.
//   - Every frame a FrameParser returns re-encodes, with the AppendX
//     functions, to bytes that parse to the same frame (the fuzzers check
//     it). Decoders accept any valid varint encoding; encoders write the
//     shortest, except the short header's Length, always 2 bytes.
//
// Functions and types of the package are safe for concurrent use; a
// FrameParser value is not (each goroutine uses its own).
package wire
