package secure

import (
	"fmt"

	"github.com/flynn/noise"
)

// Suite names the handshake's cryptographic primitives, and with them the
// AEAD that protects the connection's packets afterwards. The initiator
// picks it; it travels in the clear in the initiation and is bound into the
// handshake through the Noise prologue, so a downgrade by a middlebox fails
// the handshake.
type Suite uint8

const (
	// SuiteAESGCM is Noise_IK_25519_AESGCM_SHA256; packets use AES-128-GCM.
	SuiteAESGCM Suite = iota + 1
	// SuiteChaCha is Noise_IK_25519_ChaChaPoly_BLAKE2s; packets use
	// ChaCha20-Poly1305.
	SuiteChaCha
)

// DefaultSuite is SuiteAESGCM where the CPU has AES instructions and
// SuiteChaCha otherwise: the same choice DefaultAEAD makes for packets.
func DefaultSuite() Suite {
	if DefaultAEAD() == AES128GCM {
		return SuiteAESGCM
	}
	return SuiteChaCha
}

// String returns the Noise protocol name of s.
func (s Suite) String() string {
	switch s {
	case SuiteAESGCM:
		return "Noise_IK_25519_AESGCM_SHA256"
	case SuiteChaCha:
		return "Noise_IK_25519_ChaChaPoly_BLAKE2s"
	}
	return fmt.Sprintf("Suite(%d)", uint8(s))
}

// Valid reports whether s is a known suite.
func (s Suite) Valid() bool { return s == SuiteAESGCM || s == SuiteChaCha }

// AEAD returns the packet-protection algorithm of s.
func (s Suite) AEAD() AEAD {
	if s == SuiteChaCha {
		return ChaCha20Poly1305
	}
	return AES128GCM
}

// Noise cipher suites, built once (NewCipherSuite allocates).
var (
	noiseAESGCM = noise.NewCipherSuite(noise.DH25519, noise.CipherAESGCM, noise.HashSHA256)
	noiseChaCha = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)
)

func (s Suite) noise() noise.CipherSuite {
	if s == SuiteChaCha {
		return noiseChaCha
	}
	return noiseAESGCM
}
