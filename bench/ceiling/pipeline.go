package ceiling

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

const (
	// packetSize is the plaintext of one packet: petrel's datagram size.
	packetSize = 1200
	// headerSize is the associated data of one packet, a short header's
	// length (flags, connection id, packet number).
	headerSize = 16
	// batchSize is the packets of one hand-off between the goroutines,
	// batchio's batch (batchio.DefaultBatchSize).
	batchSize = 64
	// batches is the number of batches in circulation: enough that the
	// sealer never waits for the opener's hand-back while the opener is
	// busy, few enough to stay in the caches (8 x 64 x 1.2 KB = 620 KB).
	batches = 8
)

// ciphers are the AEADs measured, by sub-benchmark name, each built from
// a key of its size (the key's value does not change the work).
var ciphers = []struct {
	name string
	new  func(key []byte) (cipher.AEAD, error)
	key  int
}{
	{"aes-128-gcm", func(k []byte) (cipher.AEAD, error) {
		b, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(b)
	}, 16},
	{"chacha20-poly1305", chacha20poly1305.New, chacha20poly1305.KeySize},
}

// batch is packets of one hand-off: n sealed packets (header, then
// ciphertext and tag) in bufs.
type batch struct {
	n    int
	bufs [batchSize][]byte
}

// pipe is a sealer and an opener with their batches, made once per
// benchmark.
type pipe struct {
	seal, open cipher.AEAD
	iv         [12]byte
	plain      []byte // the plaintext of every packet
	free, full chan *batch
	out        []byte // the opener's plaintext buffer
}

// newPipe returns a pipeline sealing with seal and opening with open (the
// same AEAD and key, or in a test a different one).
func newPipe(seal, open cipher.AEAD) *pipe {
	p := &pipe{
		seal:  seal,
		open:  open,
		plain: make([]byte, packetSize),
		free:  make(chan *batch, batches),
		full:  make(chan *batch, batches),
		out:   make([]byte, 0, packetSize),
	}
	for i := range p.plain {
		p.plain[i] = byte(i*7 + i>>8)
	}
	for range batches {
		b := &batch{}
		for i := range b.bufs {
			b.bufs[i] = make([]byte, headerSize, headerSize+packetSize+seal.Overhead())
		}
		p.free <- b
	}
	return p
}

// nonce writes packet number pn's nonce into n: pn, big-endian, XORed
// into the last 8 bytes of the IV (RFC 9001 section 5.3's construction).
func (p *pipe) nonce(n *[12]byte, pn uint64) {
	*n = p.iv
	for i := range 8 {
		n[4+i] ^= byte(pn >> (56 - 8*i))
	}
}

// run seals packets 0..n-1 on a goroutine of its own and opens them on the
// calling one, and returns the first packet that failed to open or came
// out of order. The sealer has ended when run returns.
func (p *pipe) run(n int) error {
	sealed := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(sealed)
		var nonce [12]byte
		for pn := 0; pn < n; {
			var b *batch
			select {
			case b = <-p.free:
			case <-stop:
				return
			}
			b.n = min(batchSize, n-pn)
			for i := range b.n {
				h := b.bufs[i][:headerSize]
				binary.BigEndian.PutUint64(h[headerSize-8:], uint64(pn))
				p.nonce(&nonce, uint64(pn))
				b.bufs[i] = p.seal.Seal(h, nonce[:], p.plain, h)
				pn++
			}
			p.full <- b // never blocks: batches bounds what is in circulation
		}
	}()
	var err error
	var nonce [12]byte
	for pn := 0; pn < n && err == nil; {
		b := <-p.full
		for i := range b.n {
			pkt := b.bufs[i]
			got := binary.BigEndian.Uint64(pkt[headerSize-8 : headerSize])
			if got != uint64(pn) {
				err = fmt.Errorf("packet %d arrived as %d", pn, got)
				break
			}
			p.nonce(&nonce, got)
			if p.out, err = p.open.Open(p.out[:0], nonce[:], pkt[headerSize:], pkt[:headerSize]); err != nil {
				err = fmt.Errorf("open packet %d: %w", pn, err)
				break
			}
			pn++
		}
		p.free <- b
	}
	close(stop)
	<-sealed
	// Put every batch back for the next run (the sealer may have left
	// some full when the opener stopped early).
	for len(p.full) > 0 {
		p.free <- <-p.full
	}
	return err
}
