package secure

import "time"

// Usage limits of the AEADs, from RFC 9001 section 6.6 (derived in its
// appendix B for packets of at most 2^11 16-byte blocks, which covers every
// datagram petrel sends).
const (
	// aesGCMConfidentialityLimit: at most 2^23 packets are sealed with one
	// AES-GCM key (RFC 9001 section 6.6).
	aesGCMConfidentialityLimit = 1 << 23
	// aesGCMIntegrityLimit: at most 2^52 forgery attempts across all keys
	// (RFC 9001 section 6.6).
	aesGCMIntegrityLimit = 1 << 52
	// chachaConfidentialityLimit: RFC 9001 section 6.6 finds ChaCha20-
	// Poly1305's confidentiality limit above the number of possible packets
	// (2^62) and lets it be disregarded; 2^62 is used so that every AEAD has
	// a finite limit and one code path.
	chachaConfidentialityLimit = 1 << 62
	// chachaIntegrityLimit: at most 2^36 forgery attempts (RFC 9001
	// section 6.6).
	chachaIntegrityLimit = 1 << 36
)

// maxPacketNumber bounds packet numbers: they are 62-bit integers (RFC 9000
// section 12.3), which is also what lets them fit the nonce's low 8 bytes.
const maxPacketNumber = 1 << 62

// Defaults of ProtectorConfig.
const (
	// DefaultKeyUpdateInterval bounds how long one key generation seals:
	// the time trigger of RFC 9001 section 6.1 ("endpoints MAY initiate a
	// key update at any time"), so a long-lived connection rotates keys even
	// when it is too slow to reach the packet limit.
	DefaultKeyUpdateInterval = 2 * time.Minute
	// DefaultPreviousKeyLifetime is how long the previous receive keys stay
	// after a key update to open reordered packets. RFC 9001 section 6.5
	// suggests three times the PTO; 3 s covers a PTO of a second, far above
	// the RTTs a transport of this kind meets.
	DefaultPreviousKeyLifetime = 3 * time.Second
)

// confidentialityLimit returns the most packets one key of a may seal.
func (a AEAD) confidentialityLimit() uint64 {
	if a == AES128GCM {
		return aesGCMConfidentialityLimit
	}
	return chachaConfidentialityLimit
}

// integrityLimit returns the most packets that may fail authentication in
// one connection, across all keys, before it must close.
func (a AEAD) integrityLimit() uint64 {
	if a == AES128GCM {
		return aesGCMIntegrityLimit
	}
	return chachaIntegrityLimit
}

// defaultUpdateTrigger is the packet count at which a generation starts a
// key update when ProtectorConfig.MaxPacketsPerKey is zero: three quarters
// of the confidentiality limit. RFC 9001 section 6.6 requires the update
// before the limit; the last quarter (2^21 packets for AES-GCM) is the
// headroom for the round trip during which an update is not yet allowed
// (section 6.1: the peer must first answer in the current phase).
func (a AEAD) defaultUpdateTrigger() uint64 {
	return a.confidentialityLimit() / 4 * 3
}
