package wire

// ConnIDLen is the length of every connection id.
const ConnIDLen = 8

// ConnID is a connection id, chosen by the endpoint that receives packets
// carrying it, so it can find the session with one lookup. Its length is
// fixed: QUIC's short header carries no connection-id length either and
// relies on the receiver knowing the length of the ids it issued (RFC 9000
// section 17.3); fixing it for every endpoint keeps the short header free
// of a length byte and lets any packet be split from a coalesced buffer
// without knowing whose it is. Eight bytes of random id make a collision
// among a node's sessions negligible.
type ConnID [ConnIDLen]byte

// First-byte conventions shared with core/secure, which lays out the
// handshake packets (RFC 9000 sections 17.2 and 17.3 for the same bits).
const (
	// FormHandshake is bit 7 of the first byte: set on handshake packets,
	// clear on short-header packets.
	FormHandshake = 0x80
	// FixedBit is bit 6 of the first byte, always 1. As in QUIC, it lets a
	// port be shared with protocols whose first byte has it clear (STUN,
	// RFC 7983); a packet with it clear is refused.
	FixedBit = 0x40
	// KeyPhaseBit (bit 2) of a short header tells which key generation
	// sealed the payload (RFC 9001 section 6).
	KeyPhaseBit = 0x04

	reservedBits = 0x38 // bits 3-5 of a short header: must be 0
	pnLenBits    = 0x03 // bits 0-1: packet-number length minus 1
)

// TagLen is the length of the AEAD tag that ends every sealed payload
// (AES-128-GCM and ChaCha20-Poly1305 both use 16 bytes, RFC 5116 and RFC
// 8439). A short-header packet whose Length leaves no room for it cannot
// be authentic and is refused before any decryption.
const TagLen = 16

// MaxPacketSize is the largest short-header packet, header included:
// 2^14-1, the largest value of a 2-byte varint, so the Length field always
// fits the two bytes AppendShortHeader reserves for it. A datagram may hold
// several packets.
const MaxPacketSize = 1<<14 - 1

// lengthOff is the offset of the Length field in a short header.
const lengthOff = 1 + ConnIDLen

// IsHandshake reports whether b starts a handshake packet (form bit set).
// It looks at the first byte only.
func IsHandshake(b []byte) bool {
	return len(b) > 0 && b[0]&FormHandshake != 0
}
