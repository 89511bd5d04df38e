package secure

import "github.com/petrel-transport/petrel/internal/monotime"

// Open authenticates and decrypts pkt in place and returns the payload,
// which aliases pkt[hdrLen:]. pkt[:hdrLen] is the header (associated data),
// pn the packet number decoded from it and phase its key-phase bit. now
// drives the expiry of the previous keys.
//
// When authentication fails the payload bytes of pkt are overwritten.
// Errors: ErrIntegrityLimit and ErrProtectorClosed mean the connection must
// close; any other (ErrOpen, ErrKeyUnavailable, ErrShortPacket,
// ErrPacketNumberRange) means drop the datagram. A packet that opens may
// still be a replay: check the ReplayWindow after Open.
//
// Not safe for concurrent use: the receive path calls it serially. It
// allocates nothing except when a packet of the new phase switches keys.
func (p *Protector) Open(pkt []byte, hdrLen int, pn uint64, phase bool, now monotime.Time) ([]byte, error) {
	if p.closed {
		return nil, ErrProtectorClosed
	}
	if p.failed > p.integrityLimit {
		return nil, ErrIntegrityLimit
	}
	if hdrLen < 0 || hdrLen > len(pkt) || len(pkt)-hdrLen < SealOverhead {
		return nil, ErrShortPacket
	}
	if pn >= maxPacketNumber {
		return nil, ErrPacketNumberRange
	}
	p.dropExpiredPrev(now)

	g := &p.cur
	if phase != p.cur.phase() {
		// RFC 9001 section 6.5: a number below every number of the current
		// phase is from before the switch; any other is a new update.
		if p.cur.opened && pn < p.cur.minPN {
			g = &p.prev
			if g.aead == nil {
				return nil, ErrKeyUnavailable
			}
		} else {
			g = &p.next
		}
	}

	packetNonce(&p.nonce, &g.iv, pn)
	payload, err := g.aead.Open(pkt[hdrLen:hdrLen], p.nonce[:], pkt[hdrLen:], pkt[:hdrLen])
	if err != nil {
		p.failed++
		if p.failed > p.integrityLimit {
			return nil, ErrIntegrityLimit
		}
		return nil, ErrOpen
	}

	if g == &p.next {
		if err := p.rotateRecv(now); err != nil {
			return nil, err
		}
		g = &p.cur
		if err := p.followPeer(g.gen, now); err != nil {
			return nil, err
		}
	}
	if g == &p.cur {
		if !g.opened {
			g.opened, g.minPN = true, pn
			// The peer sends in this generation: it holds our keys of the
			// same generation, so the send side may update past it.
			p.peerGen.Store(g.gen + 1)
		} else if pn < g.minPN {
			g.minPN = pn
		}
	}
	return payload, nil
}
