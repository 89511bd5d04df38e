package secure_test

import (
	"golang.org/x/crypto/blake2s"

	"github.com/petrel-transport/petrel/core/secure"
)

// remac1 recomputes msg's mac1 for the receiver key pub, as an attacker who
// knows the (public) key can: it isolates the checks behind mac1.
func remac1(msg []byte, pub secure.PublicKey) {
	h, _ := blake2s.New256(nil)
	h.Write([]byte("mac1----"))
	h.Write(pub[:])
	key := h.Sum(nil)
	m, _ := blake2s.New128(key)
	at := len(msg) - 32
	m.Write(msg[:at])
	copy(msg[at:], m.Sum(nil))
}
