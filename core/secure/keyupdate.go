package secure

import "github.com/petrel-transport/petrel/internal/monotime"

// Key updates (RFC 9001 section 6): the send side replaces its generation
// on its own initiative (updateFrom, from SealKey or UpdateKeys) or to
// follow the peer (followPeer, from Open); the receive side rotates when a
// packet opens with the next keys (rotateRecv).

// UpdateKeys starts a key update of the send side now, as the packet or time
// trigger would. It returns ErrKeyUpdateNotAllowed until a packet of the
// peer opened in the current phase (RFC 9001 section 6.1), and
// ErrProtectorClosed after Close. It is meant for tests and for a
// connection that wants to rotate early.
func (p *Protector) UpdateKeys(now monotime.Time) error {
	k := p.send.Load()
	if k == nil {
		return ErrProtectorClosed
	}
	if p.peerGen.Load() <= k.gen {
		return ErrKeyUpdateNotAllowed
	}
	return p.updateFrom(k, now)
}

// updateFrom replaces the send generation k by its successor, unless
// another caller already did.
func (p *Protector) updateFrom(k *SealKey, now monotime.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.send.Load() != k {
		return nil
	}
	return p.updateSendLocked(k, now)
}

// updateSendLocked derives generation k.gen+1, closes k at its boundary and
// publishes the successor. p.mu must be held and k must be p.send.
//
// Order matters to the sealers: k is closed before the successor's start is
// known, and successor (which waits on p.mu) covers the moment between
// closing k and publishing k.next.
func (p *Protector) updateSendLocked(k *SealKey, now monotime.Time) error {
	secret := p.sendSecret
	defer clear(secret[:])
	if err := nextSecret(&secret); err != nil {
		return err
	}
	n, err := p.newSealKey(&secret, k.gen+1, 0, now)
	if err != nil {
		return err
	}
	boundary := k.close()
	n.start = boundary
	n.fast = min(boundary+p.trigger, maxPacketNumber)
	n.limit = min(boundary+p.confLimit, maxPacketNumber)
	n.word.Store(boundary)
	n.prev.Store(k)
	// Numbers below k.start now fail as stale instead of holding every
	// generation alive through the prev chain.
	k.prev.Store(nil)
	k.next.Store(n)
	p.send.Store(n)
	p.sendSecret = secret
	p.keyUpdates.Add(1)
	return nil
}

// followPeer brings the send side to generation gen after the receive side
// switched to it (RFC 9001 section 6.2: an endpoint that receives a packet
// in a new phase MUST update its send keys). Allowed or not by section 6.1:
// the peer has shown it holds these keys.
func (p *Protector) followPeer(gen uint64, now monotime.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		k := p.send.Load()
		if k == nil || k.gen >= gen {
			return nil
		}
		if err := p.updateSendLocked(k, now); err != nil {
			return err
		}
	}
}

// rotateRecv makes the next receive generation current after a packet
// opened with it: prev = cur (kept PreviousKeyLifetime), cur = next, next
// derived anew. On a derivation error nothing changes.
func (p *Protector) rotateRecv(now monotime.Time) error {
	n := openKeys{secret: p.next.secret}
	defer func() {
		clear(n.secret[:])
		clear(n.iv[:])
	}()
	if err := nextSecret(&n.secret); err != nil {
		return err
	}
	if err := n.derive(p.alg, p.next.gen+1); err != nil {
		return err
	}
	p.prev.wipe()
	p.prev = p.cur
	p.prevExpiry = now.Add(p.prevLifetime)
	p.cur = p.next
	clear(p.cur.secret[:])
	p.next = n
	return nil
}

// dropExpiredPrev erases the previous receive generation once its lifetime
// is over (RFC 9001 section 6.5).
func (p *Protector) dropExpiredPrev(now monotime.Time) {
	if p.prev.aead != nil && !now.Before(p.prevExpiry) {
		p.prev.wipe()
	}
}
