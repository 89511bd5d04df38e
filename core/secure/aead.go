package secure

import (
	"crypto/aes"
	"crypto/cipher"
	"runtime"
	"strconv"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/cpu"
)

// AEAD names a packet-protection algorithm.
type AEAD uint8

const (
	// AES128GCM is AES-128 in Galois/Counter Mode (RFC 5116 AEAD_AES_128_GCM):
	// a 16-byte key, a 12-byte nonce, a 16-byte tag.
	AES128GCM AEAD = iota + 1
	// ChaCha20Poly1305 is RFC 8439's AEAD: a 32-byte key, a 12-byte nonce, a
	// 16-byte tag.
	ChaCha20Poly1305
)

// SealOverhead is the number of bytes Seal appends to a packet: the AEAD's
// authentication tag (16 bytes for both algorithms; RFC 5116 section 5.1,
// RFC 8439 section 2.8).
const SealOverhead = 16

// packetNonceLen is the nonce length of both AEADs (RFC 9001 section 5.3:
// the IV is as long as the AEAD's nonce).
const packetNonceLen = 12

// aesGCMHardware reports whether AES-GCM runs on dedicated instructions:
// AES rounds plus a carry-less multiply for GHASH. The conditions are the
// ones under which the standard library uses its assembly implementation
// (as crypto/tls decides its cipher-suite preference); elsewhere AES-GCM is
// a table-driven fallback, slower than ChaCha20-Poly1305 and not constant
// time.
var aesGCMHardware = runtime.GOARCH == "amd64" && cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ ||
	runtime.GOARCH == "arm64" && cpu.ARM64.HasAES && cpu.ARM64.HasPMULL ||
	runtime.GOARCH == "s390x" && cpu.S390X.HasAES && cpu.S390X.HasAESCTR && cpu.S390X.HasGHASH ||
	runtime.GOARCH == "ppc64" || runtime.GOARCH == "ppc64le"

// DefaultAEAD returns AES-128-GCM where the CPU has AES and carry-less
// multiply instructions, ChaCha20-Poly1305 otherwise. With the instructions
// AES-GCM sealed 2.4x the bytes of ChaCha20-Poly1305 per core on the
// reference machine (DESIGN.md); without them ChaCha20-Poly1305 is both
// faster and free of table-lookup timing channels.
func DefaultAEAD() AEAD {
	if aesGCMHardware {
		return AES128GCM
	}
	return ChaCha20Poly1305
}

// String returns the algorithm's name as RFC 5116 and RFC 8439 spell it.
func (a AEAD) String() string {
	switch a {
	case AES128GCM:
		return "AES-128-GCM"
	case ChaCha20Poly1305:
		return "ChaCha20-Poly1305"
	}
	return "AEAD(" + strconv.Itoa(int(a)) + ")"
}

// valid reports whether a names a known algorithm.
func (a AEAD) valid() bool { return a == AES128GCM || a == ChaCha20Poly1305 }

// keyLen is the length of the raw key: 16 bytes for AES-128 (FIPS 197),
// 32 for ChaCha20 (RFC 8439 section 2.3).
func (a AEAD) keyLen() int {
	if a == AES128GCM {
		return 16
	}
	return chacha20poly1305.KeySize
}

// newPacketCipher builds the cipher for one key generation. The caller
// clears key afterwards; the cipher keeps its own copy (AES's expanded key
// schedule, ChaCha20's key), which lives until the garbage collector frees
// it: neither crypto/cipher nor x/crypto offers a way to erase it.
func (a AEAD) newPacketCipher(key []byte) (cipher.AEAD, error) {
	switch a {
	case AES128GCM:
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(block)
	case ChaCha20Poly1305:
		return chacha20poly1305.New(key)
	}
	return nil, ErrUnsupportedAEAD
}
