package secure

import "github.com/flynn/noise"

// Keys is what a completed handshake yields: the peer's authenticated
// identity and the two directions' 32-byte traffic secrets from which
// packet protection derives its keys. Hand them to NewProtector with
// Keys.Protector, which zeroes them; a Keys that is dropped otherwise must be
// zeroed with Zero.
type Keys struct {
	Suite     Suite
	Peer      PublicKey // the peer's static key, proven by the handshake
	Initiator bool      // this side initiated
	Send      [32]byte  // secret of the packets this side seals
	Recv      [32]byte  // secret of the packets this side opens
	// ChannelBinding is the Noise handshake hash: a public value unique to
	// this handshake (Noise section 11.2), e.g. to sign.
	ChannelBinding [32]byte
}

// Protector builds the connection's packet protection from k and zeroes
// k's secrets.
func (k *Keys) Protector(cfg ProtectorConfig) (*Protector, error) {
	defer k.Zero()
	return NewProtector(k.Suite.AEAD(), &k.Send, &k.Recv, cfg)
}

// Zero erases the secrets.
func (k *Keys) Zero() {
	clear(k.Send[:])
	clear(k.Recv[:])
}

// splitKeys turns Noise's Split into Keys. cs1 protects initiator to
// responder, cs2 the other way (Noise section 5.2). Each Split key is
// uniformly random and used by nothing else, so it is the traffic secret
// itself; the CipherStates are then rekeyed (REKEY is one-way, Noise section
// 11.3), which overwrites the copies inside flynn/noise that this package
// cannot otherwise reach.
func splitKeys(k *Keys, initiator bool, cs1, cs2 *noise.CipherState, hs *noise.HandshakeState) {
	i2r, r2i := cs1.UnsafeKey(), cs2.UnsafeKey()
	cs1.Rekey()
	cs2.Rekey()
	k.Initiator = initiator
	if initiator {
		k.Send, k.Recv = i2r, r2i
	} else {
		k.Send, k.Recv = r2i, i2r
	}
	clear(i2r[:])
	clear(r2i[:])
	copy(k.ChannelBinding[:], hs.ChannelBinding())
}

// eraseEphemeral zeroes hs's ephemeral private key in place: LocalEphemeral
// returns the DHKey whose Private slice shares its array with hs's own.
func eraseEphemeral(hs *noise.HandshakeState) {
	if hs != nil {
		clear(hs.LocalEphemeral().Private)
	}
}
