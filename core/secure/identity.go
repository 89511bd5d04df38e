package secure

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// KeySize is the size of an X25519 private or public key (RFC 7748 section 6.1).
const KeySize = 32

// PublicKey is a node's static X25519 public key: its identity, the key
// peers dial it by (core's PeerKey has the same bytes).
type PublicKey [KeySize]byte

// String returns the key in hex, as key files and the CLI print it.
func (k PublicKey) String() string { return hex.EncodeToString(k[:]) }

// IsZero reports whether k is all zeros (never a valid identity).
func (k PublicKey) IsZero() bool { return k == PublicKey{} }

// ParsePublicKey parses 64 hex digits.
func ParsePublicKey(s string) (PublicKey, error) {
	var k PublicKey
	if err := decodeHexKey(k[:], s); err != nil {
		return PublicKey{}, fmt.Errorf("secure: public key: %w", err)
	}
	return k, nil
}

// KeyPair is a node's static identity. The zero KeyPair is not valid; make
// one with GenerateKeyPair, NewKeyPair or LoadKeyPair. Zero erases the
// private half when the node is done with it.
type KeyPair struct {
	Private [KeySize]byte
	Public  PublicKey
}

// ErrInvalidKey reports a private key that X25519 refuses or a public key that
// does not match its private key.
var ErrInvalidKey = errors.New("secure: invalid key")

// GenerateKeyPair makes a new identity from r (crypto/rand.Reader when nil).
func GenerateKeyPair(r io.Reader) (KeyPair, error) {
	if r == nil {
		r = rand.Reader
	}
	var priv [KeySize]byte
	if _, err := io.ReadFull(r, priv[:]); err != nil {
		return KeyPair{}, fmt.Errorf("secure: generating a key: %w", err)
	}
	kp, err := NewKeyPair(priv)
	clear(priv[:])
	return kp, err
}

// NewKeyPair derives the public key of priv. X25519 clamps the scalar
// (RFC 7748 section 5), so every 32-byte string is a private key; the
// all-zero one is refused as a sign of an unset key.
func NewKeyPair(priv [KeySize]byte) (KeyPair, error) {
	if priv == [KeySize]byte{} {
		return KeyPair{}, fmt.Errorf("%w: all-zero private key", ErrInvalidKey)
	}
	k, err := ecdh.X25519().NewPrivateKey(priv[:])
	if err != nil {
		return KeyPair{}, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	kp := KeyPair{Private: priv}
	copy(kp.Public[:], k.PublicKey().Bytes())
	return kp, nil
}

// Valid reports whether kp's public key is the one its private key derives.
func (kp *KeyPair) Valid() bool {
	want, err := NewKeyPair(kp.Private)
	defer want.Zero()
	return err == nil && subtle.ConstantTimeCompare(want.Public[:], kp.Public[:]) == 1
}

// Zero erases the private key.
func (kp *KeyPair) Zero() { clear(kp.Private[:]) }

func decodeHexKey(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("want %d hex digits, have %d", 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return err
	}
	return nil
}
