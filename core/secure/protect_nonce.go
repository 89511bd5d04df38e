package secure

import (
	"encoding/binary"
	"sync"
)

// packetNonce writes the nonce of packet number pn under iv into nonce:
// the 62-bit packet number left-padded to 12 bytes and XORed with the IV
// (RFC 9001 section 5.3).
func packetNonce(nonce, iv *[packetNonceLen]byte, pn uint64) {
	copy(nonce[:4], iv[:4])
	binary.BigEndian.PutUint64(nonce[4:], binary.BigEndian.Uint64(iv[4:])^pn)
}

// sealNonces holds nonce buffers for Seal.
//
// Why a pool: the nonce is passed to cipher.AEAD.Seal, an interface method,
// and the compiler assumes an interface method keeps its arguments, so a
// nonce array on the stack moves to the heap: one allocation per packet.
// Open is serialized and uses a buffer in the Protector; Seal runs on many
// goroutines at once with one key, so it takes a buffer from this per-P
// pool (about 10 ns, no atomic operation in the common case). Hiding the
// stack array from escape analysis with a uintptr round trip would be
// cheaper, but go vet rightly rejects it.
var sealNonces = sync.Pool{New: func() any { return new([packetNonceLen]byte) }}
