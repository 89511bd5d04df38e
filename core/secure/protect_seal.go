package secure

import (
	"crypto/cipher"
	"slices"
	"sync/atomic"

	"github.com/petrel-transport/petrel/internal/monotime"
	"golang.org/x/sys/cpu"
)

// SealKey is one send generation: immutable keys, safe for concurrent use.
// Obtain it with Protector.SealKey for each packet; write its Phase into
// the header, then Seal.
type SealKey struct {
	// Immutable after the generation is published.
	aead  cipher.AEAD
	iv    [packetNonceLen]byte
	gen   uint64
	start uint64 // lowest packet number of this generation (the previous one's boundary)
	fast  uint64 // numbers below fast are within MaxPacketsPerKey: start + trigger
	limit uint64 // numbers at or above limit exceed the confidentiality limit: start + confLimit

	_ cpu.CacheLinePad // keep the words every sealer writes off the line of the keys

	// Atomic.
	// word is 1 + the highest packet number reserved in this generation
	// (0: none), with closedBit set once a successor (or Close) fixed the
	// boundary: numbers below it are this generation's, the rest are not.
	word     atomic.Uint64
	deadline atomic.Int64            // monotime.Time at which the interval trigger fires; 0: not started
	next     atomic.Pointer[SealKey] // the successor, set before word is closed by an update
	prev     atomic.Pointer[SealKey] // the predecessor, for numbers taken before the update; cleared one update later
}

// closedBit marks a generation's word as closed; packet numbers are below
// 2^62, so the bit never collides with a boundary.
const closedBit = 1 << 63

// Phase returns the key-phase bit to write into the header (KeyPhaseBit).
func (k *SealKey) Phase() bool { return k.gen&1 == 1 }

// Seal seals pkt in place and returns the sealed packet: pkt[:hdrLen] is the
// header (associated data), pkt[hdrLen:] the payload, which is encrypted
// and followed by the tag (SealOverhead bytes). The tag is written within
// cap(pkt) when there is room; otherwise the packet is copied to a larger
// buffer (one allocation). pn must be the packet number given to the
// SealKey call that returned k. It panics if hdrLen is outside
// [0, len(pkt)]. It allocates nothing when cap(pkt) >= len(pkt)+SealOverhead.
func (k *SealKey) Seal(pkt []byte, hdrLen int, pn uint64) []byte {
	if hdrLen < 0 || hdrLen > len(pkt) {
		panic("secure: Seal: header length outside the packet")
	}
	pkt = slices.Grow(pkt, SealOverhead)
	nonce := sealNonces.Get().(*[packetNonceLen]byte)
	packetNonce(nonce, &k.iv, pn)
	out := k.aead.Seal(pkt[hdrLen:hdrLen], nonce[:], pkt[hdrLen:], pkt[:hdrLen])
	sealNonces.Put(nonce)
	return pkt[:hdrLen+len(out)]
}

// close fixes k's boundary and returns it: 1 + the highest number sealed.
func (k *SealKey) close() uint64 {
	for {
		w := k.word.Load()
		if w&closedBit != 0 || k.word.CompareAndSwap(w, w|closedBit) {
			return w &^ closedBit
		}
	}
}

// SealKey returns the send generation that seals packet number pn, after
// starting a key update if the current generation reached
// MaxPacketsPerKey or KeyUpdateInterval and an update is allowed. Call it
// once per packet, with the packet's number, before writing the header.
//
// Packet numbers must be unique per connection and below 2^62; they need
// not arrive in order. A number taken before a key update goes to the
// generation it belongs to, so phases stay in packet-number order (see the
// file comment of protect.go). Errors: ErrConfidentialityLimit (do not send;
// retry after the peer answers), ErrStalePacketNumber (take a new number),
// ErrPacketNumberRange, ErrProtectorClosed. It allocates nothing except
// while deriving a new generation.
func (p *Protector) SealKey(pn uint64, now monotime.Time) (*SealKey, error) {
	k := p.send.Load()
	if k != nil && pn >= k.start && pn < k.fast && int64(now) < k.deadline.Load() {
		w := k.word.Load()
		if w&closedBit == 0 && (pn < w || k.word.CompareAndSwap(w, pn+1)) {
			return k, nil
		}
	}
	return p.sealKeySlow(k, pn, now)
}

// sealKeySlow is SealKey's path for everything but a reservation in an open
// generation within its triggers.
func (p *Protector) sealKeySlow(k *SealKey, pn uint64, now monotime.Time) (*SealKey, error) {
	if pn >= maxPacketNumber {
		return nil, ErrPacketNumberRange
	}
	for {
		if k == nil {
			return nil, ErrProtectorClosed
		}
		if pn < k.start {
			// Taken before k began: the predecessor's, if it is still held.
			// A closed generation needs no reservation: pn is below its
			// boundary, which is k.start.
			prev := k.prev.Load()
			if prev == nil || pn < prev.start {
				return nil, ErrStalePacketNumber
			}
			return prev, nil
		}
		w := k.word.Load()
		if w&closedBit != 0 {
			if pn < w&^closedBit {
				return k, nil
			}
			var err error
			if k, err = p.successor(k); err != nil {
				return nil, err
			}
			continue
		}
		d := k.deadline.Load()
		if d == 0 {
			// The handshake's generation starts its interval at first use.
			k.deadline.CompareAndSwap(0, int64(now.Add(p.interval)))
			d = k.deadline.Load()
		}
		if pn >= k.fast || int64(now) >= d {
			if p.peerGen.Load() > k.gen {
				if err := p.updateFrom(k, now); err != nil {
					return nil, err
				}
				continue // k is closed now; the loop finds pn's generation
			}
			if pn >= k.limit {
				return nil, ErrConfidentialityLimit
			}
		}
		if pn < w || k.word.CompareAndSwap(w, pn+1) {
			return k, nil
		}
	}
}

// successor returns the generation after the closed k, waiting for an
// update in progress to publish it. It fails once the Protector is closed.
func (p *Protector) successor(k *SealKey) (*SealKey, error) {
	if n := k.next.Load(); n != nil {
		return n, nil
	}
	// The update holds mu from closing k until publishing its successor.
	p.mu.Lock()
	n := k.next.Load()
	p.mu.Unlock()
	if n == nil {
		return nil, ErrProtectorClosed
	}
	return n, nil
}

// newSealKey derives a send generation from secret (the caller's current
// send secret) starting at packet number start.
func (p *Protector) newSealKey(secret *[32]byte, gen, start uint64, now monotime.Time) (*SealKey, error) {
	k := &SealKey{gen: gen, start: start}
	c, err := deriveKeys(p.alg, secret, &k.iv)
	if err != nil {
		return nil, err
	}
	k.aead = c
	k.fast = min(start+p.trigger, maxPacketNumber)
	k.limit = min(start+p.confLimit, maxPacketNumber)
	k.word.Store(start)
	if !now.IsZero() {
		k.deadline.Store(int64(now.Add(p.interval)))
	}
	return k, nil
}
