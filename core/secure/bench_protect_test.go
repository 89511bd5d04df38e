package secure

import (
	"crypto/cipher"
	"math"
	"sync/atomic"
	"testing"
)

// Benchmarks of petrel's packet protection against the bare AEAD in the
// same binary: "-bare" calls cipher.AEAD.Seal/Open directly on the same
// 1200-byte buffer with the same nonce construction and a nonce buffer
// allocated once, the cheapest a single sealer can do. The ratio is the
// cost of SealKey's generation choice and the pooled nonce (Seal), and of
// the key selection and bookkeeping (Open).

const (
	benchPacket = 1200 // a datagram of DESIGN.md's default size, tag included
	benchHdr    = 14   // flags, an 8-byte connection id, a 4-byte packet number, spare
)

// benchProtector returns a sender whose key updates are always allowed
// (as if the peer answered in every phase), so long runs update keys at
// the packet limit instead of stopping at the confidentiality limit.
func benchProtector(b *testing.B, alg AEAD) (c, s *Protector) {
	c, s = protectPair(b, alg, ProtectorConfig{})
	c.peerGen.Store(math.MaxUint64)
	return c, s
}

func BenchmarkSeal(b *testing.B) {
	for _, a := range testAEADs {
		b.Run(a.name, func(b *testing.B) {
			c, _ := benchProtector(b, a.alg)
			buf := make([]byte, benchPacket)
			b.SetBytes(benchPacket)
			b.ReportAllocs()
			var pn uint64
			for b.Loop() {
				k, err := c.SealKey(pn, 1)
				if err != nil {
					b.Fatal(err)
				}
				k.Seal(buf[:benchPacket-SealOverhead], benchHdr, pn)
				pn++
			}
		})
		b.Run(a.name+"-bare", func(b *testing.B) {
			c, _ := benchProtector(b, a.alg)
			k := c.send.Load()
			aead, iv := k.aead, k.iv
			buf := make([]byte, benchPacket)
			nonce := new([packetNonceLen]byte)
			b.SetBytes(benchPacket)
			b.ReportAllocs()
			var pn uint64
			for b.Loop() {
				pkt := buf[:benchPacket-SealOverhead]
				packetNonce(nonce, &iv, pn)
				aead.Seal(pkt[benchHdr:benchHdr], nonce[:], pkt[benchHdr:], pkt[:benchHdr])
				pn++
			}
		})
	}
}

// benchSealed returns one sealed 1200-byte packet of c with number 7.
func benchSealed(b *testing.B, c *Protector) ([]byte, bool) {
	k, err := c.SealKey(7, 1)
	if err != nil {
		b.Fatal(err)
	}
	return k.Seal(make([]byte, benchPacket-SealOverhead, benchPacket), benchHdr, 7), k.Phase()
}

func BenchmarkOpen(b *testing.B) {
	for _, a := range testAEADs {
		b.Run(a.name, func(b *testing.B) {
			c, s := benchProtector(b, a.alg)
			sealed, phase := benchSealed(b, c)
			buf := make([]byte, benchPacket)
			b.SetBytes(benchPacket)
			b.ReportAllocs()
			for b.Loop() {
				copy(buf, sealed) // Open decrypts in place
				if _, err := s.Open(buf, benchHdr, 7, phase, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(a.name+"-bare", func(b *testing.B) {
			c, s := benchProtector(b, a.alg)
			sealed, _ := benchSealed(b, c)
			var aead cipher.AEAD = s.cur.aead
			iv := s.cur.iv
			buf := make([]byte, benchPacket)
			nonce := new([packetNonceLen]byte)
			b.SetBytes(benchPacket)
			b.ReportAllocs()
			for b.Loop() {
				copy(buf, sealed)
				packetNonce(nonce, &iv, 7)
				if _, err := aead.Open(buf[benchHdr:benchHdr], nonce[:], buf[benchHdr:], buf[:benchHdr]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSealParallel seals one connection's packets on every P at once,
// as writer goroutines do: the shared cost is the generation's atomic word.
func BenchmarkSealParallel(b *testing.B) {
	for _, a := range testAEADs {
		b.Run(a.name, func(b *testing.B) {
			c, _ := benchProtector(b, a.alg)
			var next atomic.Uint64
			b.SetBytes(benchPacket)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, benchPacket)
				for pb.Next() {
					pn := next.Add(1)
					k, err := c.SealKey(pn, 1)
					if err != nil {
						b.Error(err)
						return
					}
					k.Seal(buf[:benchPacket-SealOverhead], benchHdr, pn)
				}
			})
		})
	}
}
