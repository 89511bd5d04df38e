package secure

import (
	"errors"
	"net"
	"strconv"
)

// Errors of packet protection. Open's errors other than ErrIntegrityLimit
// and ErrProtectorClosed mean "drop this datagram"; those two mean the
// connection must close.
var (
	// ErrOpen reports that a packet failed authentication: it was forged,
	// corrupted, or sealed with keys this side does not hold. On failure the
	// packet's payload bytes are overwritten (the AEADs clear their output).
	ErrOpen = errors.New("secure: packet authentication failed")

	// ErrKeyUnavailable reports a packet of the previous key phase whose
	// keys were already discarded (RFC 9001 section 6.5): it is dropped
	// without a decryption attempt and does not count against the
	// integrity limit.
	ErrKeyUnavailable = errors.New("secure: keys of this packet's phase were discarded")

	// ErrShortPacket reports a packet shorter than its header plus the tag.
	ErrShortPacket = errors.New("secure: packet shorter than header and tag")

	// ErrIntegrityLimit reports that more packets failed authentication
	// than the AEAD's integrity limit allows (RFC 9001 section 6.6): the
	// connection MUST close. Every later Open returns it too.
	ErrIntegrityLimit = errors.New("secure: AEAD integrity limit reached, the connection must close")

	// ErrConfidentialityLimit reports that the current send keys sealed as
	// many packets as the AEAD's confidentiality limit allows (RFC 9001
	// section 6.6) and no key update is allowed yet: the packet must not be
	// sent. It clears once the peer answers in the current phase.
	ErrConfidentialityLimit = errors.New("secure: send keys reached the AEAD confidentiality limit and cannot be updated yet")

	// ErrKeyUpdateNotAllowed reports a key update asked for before the peer
	// answered in the current key phase (RFC 9001 section 6.1).
	ErrKeyUpdateNotAllowed = errors.New("secure: key update not allowed before the peer answers in the current phase")

	// ErrStalePacketNumber reports a packet number below the previous send
	// generation: it was taken too long ago to be sealed consistently with
	// the key phases (packet numbers must increase with the phase, RFC 9001
	// section 6.5). Seal the packet under a new number; gaps are allowed.
	ErrStalePacketNumber = errors.New("secure: packet number older than the previous key generation")

	// ErrPacketNumberRange reports a packet number of 2^62 or more (RFC
	// 9000 section 12.3).
	ErrPacketNumberRange = errors.New("secure: packet number out of range")

	// ErrUnsupportedAEAD reports an AEAD value that names no algorithm.
	ErrUnsupportedAEAD = errors.New("secure: unsupported AEAD")

	// ErrProtectorClosed is returned by calls on a closed Protector. It
	// matches net.ErrClosed.
	ErrProtectorClosed error = protectorClosedError{}
)

type protectorClosedError struct{}

func (protectorClosedError) Error() string        { return "secure: use of closed Protector" }
func (protectorClosedError) Is(target error) bool { return target == net.ErrClosed }

// ProtectorConfigError reports an invalid ProtectorConfig field or argument
// of NewProtector.
type ProtectorConfigError struct {
	Field  string // the field or argument, e.g. "MaxPacketsPerKey"
	Reason string
}

func (e *ProtectorConfigError) Error() string {
	return "secure: invalid " + e.Field + ": " + e.Reason
}

// KeyDerivationError wraps a failure of HKDF or of a cipher constructor. It
// does not happen with the fixed lengths used here; it exists so that a
// broken build (e.g. a FIPS mode refusing a parameter) fails loudly.
type KeyDerivationError struct {
	Label string // the HKDF label or "cipher"
	Err   error
}

func (e *KeyDerivationError) Error() string {
	return "secure: key derivation (" + strconv.Quote(e.Label) + "): " + e.Err.Error()
}

func (e *KeyDerivationError) Unwrap() error { return e.Err }
