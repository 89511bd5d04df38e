package core

import (
	"bytes"
	"encoding/hex"
)

// PeerKeySize is the size of a peer's static public key: an X25519 public
// key is 32 bytes (RFC 7748 section 6.1).
const PeerKeySize = 32

// PeerKey identifies a peer: its static public key. It is a value (an array),
// so it compares with == and hashes without allocating. The zero PeerKey is
// not a valid identity.
type PeerKey [PeerKeySize]byte

// Compare orders keys as big-endian unsigned integers (bytes.Compare): it
// returns -1, 0 or +1. Both ends of a connection compute the same order, which
// is what the double-connection rule relies on.
func (k PeerKey) Compare(o PeerKey) int { return bytes.Compare(k[:], o[:]) }

// IsZero reports whether k is the zero key.
func (k PeerKey) IsZero() bool { return k == PeerKey{} }

// String returns the first 8 bytes in hex, enough for logs.
func (k PeerKey) String() string { return hex.EncodeToString(k[:8]) }
