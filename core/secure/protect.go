package secure

// Packet protection: one connection's AEAD keys, in both directions, and
// their updates.
//
// Key schedule. The handshake hands NewProtector one 32-byte traffic secret
// per direction. From a secret S of generation n (n = 0 at the handshake),
// with HKDF-Expand over SHA-256 (RFC 5869 section 2.3):
//
//	key      = HKDF-Expand(S, "petrel key", 16 for AES-128-GCM, 32 for ChaCha20-Poly1305)
//	iv       = HKDF-Expand(S, "petrel iv", 12)
//	S of n+1 = HKDF-Expand(S, "petrel ku", 32)
//
// as RFC 9001 does with its TLS labels "quic key", "quic iv" (section 5.1)
// and "quic ku" (section 6.1). The labels are plain info strings, not TLS
// HkdfLabel structures: petrel's secrets never meet TLS's.
//
// Packet layout. pkt[:hdrLen] is the header; it ends with the packet number
// and is the associated data. pkt[hdrLen:] is the payload, sealed in place:
// the sealed packet is header || ciphertext || 16-byte tag. The header's
// first byte carries the key phase at KeyPhaseBit, written by the caller
// from SealKey.Phase; generation n has phase n&1 (RFC 9001 section 6).
//
// Nonce. The packet number, left-padded to 12 bytes, XORed with the
// generation's IV (RFC 9001 section 5.3). A packet number is used once per
// connection and direction, so a nonce is never used twice under a key.
//
// Key update (RFC 9001 section 6). Sending: a generation is replaced when it
// sealed MaxPacketsPerKey packets or lived KeyUpdateInterval, but only after
// a packet of the peer in the current generation opened: the peer then
// holds the keys (this stands in for section 6.1's "acknowledgment of a
// packet sent with the current keys", which this package cannot see; a
// packet of the peer in the new phase implies the peer received ours).
// Receiving: the current generation, the next one (derived in advance, so a
// packet of the new phase costs no more time than any other, section 6.3),
// and the previous one for PreviousKeyLifetime after a switch (section 6.5).
// A packet of the other phase with a number below every number opened in
// the current generation is for the previous keys; any other packet of the
// other phase is tried with the next keys, and opening it switches the
// receiver and, if the send side is still on the old phase, the send side
// (section 6.2: an endpoint that sees a new phase MUST update its send
// keys). Failed opens never change state. Only one key is tried per packet.
//
// Packet numbers and phases stay in order with concurrent sealers: SealKey
// takes the packet number and chooses the generation with it, so that every
// packet of generation n has a lower number than every packet of n+1 (the
// receiver's rule above depends on it). Each generation records the highest
// number it sealed in one atomic word; closing a generation fixes that
// boundary in the same word, and numbers above it go to the next generation.
//
// Erasure. Secrets, raw keys and receive IVs are zeroed with clear() when no
// longer needed: a raw key right after its cipher is built, a secret once
// the next one is derived, a receive generation when it is dropped, all of
// them on Close. What cannot be erased from here: the key schedule inside
// each cipher.AEAD (the standard library and x/crypto expose no way to wipe
// it; it goes with the garbage collector), and the IV of a retired send
// generation, which a concurrent sealer may still be using; it is never
// written after it is made, and goes with the garbage collector too.

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// KeyPhaseBit is the mask of the key-phase bit in a header's first byte.
const KeyPhaseBit = 0x04

// HKDF labels of the key schedule (see the comment at the top of this file).
const (
	labelKey       = "petrel key"
	labelIV        = "petrel iv"
	labelKeyUpdate = "petrel ku"
)

// ProtectorConfig tunes a Protector. The zero value is the default.
type ProtectorConfig struct {
	// KeyUpdateInterval is how long a send generation is used before a key
	// update is started (counted from its first SealKey for the handshake's
	// keys, from the update for later ones). 0 means
	// DefaultKeyUpdateInterval (2 minutes).
	KeyUpdateInterval time.Duration
	// MaxPacketsPerKey is how many packets a send generation seals before a
	// key update is started. 0 means three quarters of the AEAD's
	// confidentiality limit (2^23 packets for AES-GCM, RFC 9001 section
	// 6.6); the rest is headroom while the update waits for the peer. It
	// may not exceed the limit, at which sealing stops until an update.
	MaxPacketsPerKey uint64
	// PreviousKeyLifetime is how long the previous receive keys are kept
	// after a key update, to open packets reordered across it. 0 means
	// DefaultPreviousKeyLifetime (3 s).
	PreviousKeyLifetime time.Duration
}

// Protector is one connection's packet protection. The send side (SealKey,
// SealKey.Seal, UpdateKeys, KeyUpdates) is safe for concurrent use. The
// receive side (Open) is not: the connection's receive path serializes it;
// it may run concurrently with the send side. Close may run concurrently
// with the send side, not with Open.
type Protector struct {
	// Immutable after NewProtector (integrityLimit is lowered by internal
	// tests before first use).
	alg            AEAD
	interval       time.Duration
	trigger        uint64 // MaxPacketsPerKey, resolved
	confLimit      uint64 // the AEAD's confidentiality limit
	prevLifetime   time.Duration
	integrityLimit uint64

	// Atomic.
	send       atomic.Pointer[SealKey] // current send generation; nil after Close
	peerGen    atomic.Uint64           // 1 + the newest receive generation a packet opened in; 0: none
	keyUpdates atomic.Uint64           // send generations replaced

	// mu guards sendSecret and the replacement of send generations (the
	// stores into send and SealKey.next). Held only while deriving keys;
	// never across a call out of this package.
	mu         sync.Mutex
	sendSecret [32]byte // secret of the current send generation

	// Owned by the receive path (Open), which the caller serializes.
	cur, next, prev openKeys
	prevExpiry      monotime.Time // when prev is dropped; valid while prev is set
	failed          uint64        // packets that failed authentication, all keys
	closed          bool
	nonce           [packetNonceLen]byte // Open's nonce buffer (see sealNonces)
}

// openKeys is one receive generation. The zero value is "absent".
type openKeys struct {
	aead   cipher.AEAD // nil: absent
	iv     [packetNonceLen]byte
	secret [32]byte // kept by the next generation only: the one after derives from it
	gen    uint64
	minPN  uint64 // lowest packet number opened; valid when opened
	opened bool
}

func (g *openKeys) phase() bool { return g.gen&1 == 1 }

// wipe zeroes the generation's IV and secret and marks it absent.
func (g *openKeys) wipe() {
	clear(g.iv[:])
	clear(g.secret[:])
	*g = openKeys{}
}

// NewProtector builds one connection's packet protection from the two
// directions' traffic secrets. It copies the secrets; the caller zeroes its
// own copies.
func NewProtector(a AEAD, sendSecret, recvSecret *[32]byte, cfg ProtectorConfig) (*Protector, error) {
	if !a.valid() {
		return nil, ErrUnsupportedAEAD
	}
	if sendSecret == nil || recvSecret == nil {
		return nil, &ProtectorConfigError{Field: "secret", Reason: "nil"}
	}
	p := &Protector{
		alg:            a,
		interval:       cfg.KeyUpdateInterval,
		trigger:        cfg.MaxPacketsPerKey,
		confLimit:      a.confidentialityLimit(),
		prevLifetime:   cfg.PreviousKeyLifetime,
		integrityLimit: a.integrityLimit(),
	}
	switch {
	case p.interval < 0:
		return nil, &ProtectorConfigError{Field: "KeyUpdateInterval", Reason: "negative"}
	case p.interval == 0:
		p.interval = DefaultKeyUpdateInterval
	}
	switch {
	case p.prevLifetime < 0:
		return nil, &ProtectorConfigError{Field: "PreviousKeyLifetime", Reason: "negative"}
	case p.prevLifetime == 0:
		p.prevLifetime = DefaultPreviousKeyLifetime
	}
	switch {
	case p.trigger > p.confLimit:
		return nil, &ProtectorConfigError{Field: "MaxPacketsPerKey", Reason: "above the AEAD's confidentiality limit (RFC 9001 section 6.6)"}
	case p.trigger == 0:
		p.trigger = a.defaultUpdateTrigger()
	}

	p.sendSecret = *sendSecret
	k, err := p.newSealKey(&p.sendSecret, 0, 0, 0)
	if err != nil {
		p.Close()
		return nil, err
	}
	p.send.Store(k)

	p.cur.secret = *recvSecret
	if err := p.cur.derive(a, 0); err != nil {
		p.Close()
		return nil, err
	}
	if err := p.deriveNextRecv(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// KeyUpdates returns how many times the send keys were replaced, by this
// side's initiative or following the peer.
func (p *Protector) KeyUpdates() uint64 { return p.keyUpdates.Load() }

// Close zeroes every secret and receive IV the Protector holds (see the
// file comment for what cannot be zeroed) and makes later calls fail with
// ErrProtectorClosed. A sealer that obtained its SealKey before Close may
// still seal that packet. Close is idempotent; it must not run concurrently
// with Open.
func (p *Protector) Close() {
	p.mu.Lock()
	if k := p.send.Swap(nil); k != nil {
		k.close()
	}
	clear(p.sendSecret[:])
	p.mu.Unlock()
	p.cur.wipe()
	p.next.wipe()
	p.prev.wipe()
	p.closed = true
}

// expand is HKDF-Expand-SHA256 into dst; the temporary it allocates is
// cleared before returning.
func expand(dst []byte, secret *[32]byte, label string) error {
	out, err := hkdf.Expand(sha256.New, secret[:], label, len(dst))
	if err != nil {
		return &KeyDerivationError{Label: label, Err: err}
	}
	copy(dst, out)
	clear(out)
	return nil
}

// deriveKeys builds the cipher and IV of the generation whose secret is
// secret. The raw key is zeroed before returning.
func deriveKeys(a AEAD, secret *[32]byte, iv *[packetNonceLen]byte) (cipher.AEAD, error) {
	var key [32]byte
	defer clear(key[:])
	k := key[:a.keyLen()]
	if err := expand(k, secret, labelKey); err != nil {
		return nil, err
	}
	if err := expand(iv[:], secret, labelIV); err != nil {
		return nil, err
	}
	c, err := a.newPacketCipher(k)
	if err != nil {
		return nil, &KeyDerivationError{Label: "cipher", Err: err}
	}
	return c, nil
}

// nextSecret replaces secret with the next generation's, in place.
func nextSecret(secret *[32]byte) error {
	var next [32]byte
	if err := expand(next[:], secret, labelKeyUpdate); err != nil {
		return err
	}
	*secret = next
	clear(next[:])
	return nil
}

// derive fills g's cipher and IV from g.secret for generation gen.
func (g *openKeys) derive(a AEAD, gen uint64) error {
	c, err := deriveKeys(a, &g.secret, &g.iv)
	if err != nil {
		return err
	}
	g.aead, g.gen = c, gen
	return nil
}

// deriveNextRecv derives p.next from p.cur's secret, then zeroes that
// secret: only the newest generation keeps one.
func (p *Protector) deriveNextRecv() error {
	n := openKeys{secret: p.cur.secret}
	if err := nextSecret(&n.secret); err != nil {
		clear(n.secret[:])
		return err
	}
	if err := n.derive(p.alg, p.cur.gen+1); err != nil {
		clear(n.secret[:])
		return err
	}
	clear(p.cur.secret[:])
	p.next.wipe()
	p.next = n
	clear(n.secret[:])
	clear(n.iv[:])
	return nil
}
