package session

// Datagram Packetization Layer Path MTU Discovery (DPLPMTUD, RFC 8899, as
// RFC 9000 section 14.3 applies it to QUIC). The session starts at the base
// size, 1200 bytes (BASE_PLPMTU: every path carries it, RFC 9000 section
// 14), and searches upward to the ceiling, the smaller of the two sides'
// max_udp_payload_size (RFC 9000 section 18.2) and the codec's limit:
//
//   - a probe is a packet of the size tried, a PING padded to it (RFC 9000
//     section 14.4). It is sealed and tracked, so its ACK confirms the
//     size, but it holds no bytes in flight, is neither window-limited nor
//     paced, its loss is no congestion signal and it is never
//     retransmitted (RFC 8899 section 4.1, RFC 9000 section 14.4). One
//     probe is out at a time, the last packet of its batch, so a send that
//     fails for its size (EMSGSIZE with DF set) takes no other packet with
//     it;
//   - the search tries the ceiling first (most paths carry it: one round
//     trip), then bisects between the largest size confirmed and the
//     smallest refused, MAX_PROBES (3) lost probes refusing a size (RFC
//     8899 section 5.1.2), until the two are within searchDone bytes;
//   - a confirmed size becomes the size every packet is built for, and the
//     controller's and the pacer's datagram size (RFC 9002 section 7.2);
//   - after the search, PMTU_RAISE_TIMER (600 s, RFC 8899 section 5.1.1)
//     starts it again from the size in use, on the session's mtuTimer (one
//     wheel entry, re-armed in place);
//   - black hole (RFC 8899 section 4.3): a path that stops carrying the
//     size in use shows as packets larger than the base lost with no such
//     packet acknowledged since, across two probe timeouts in a row (the
//     first could be a tail loss). The session falls back to the base size
//     at once (its queued retransmissions are cut to fit, pack.go) and
//     searches again below the size that failed. A Send refused with
//     EMSGSIZE (the local interface's MTU) is the same signal, sooner.
//
// Guard map: every field is guarded by the session's mu.

import (
	"errors"
	"syscall"
	"time"

	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/tracker"
)

const (
	// baseDatagram is BASE_PLPMTU: the size every path carries (RFC 9000
	// section 14: 1200 bytes).
	baseDatagram = wire.DefaultMaxDatagramSize
	// maxMTUProbes is MAX_PROBES (RFC 8899 section 5.1.2): lost probes of
	// one size that refuse it.
	maxMTUProbes = 3
	// searchDone ends the search once the largest size confirmed and the
	// smallest refused are this close: a probe round trip per step no
	// longer pays for the bytes it could add (quic-go's maxMTUDiff).
	searchDone = 20
	// mtuRaiseTimer is PMTU_RAISE_TIMER (RFC 8899 section 5.1.1: 600 s):
	// how long after a search ends the next one starts.
	mtuRaiseTimer = 600 * time.Second
	// blackHolePTOs is how many probe timeouts in a row, with packets above
	// the base size lost and none acknowledged, declare a black hole: the
	// first alone may be a tail loss, whose false fallback would cost a
	// search; the second comes one backed-off PTO later.
	blackHolePTOs = 2
)

// pmtud is one session's search state.
type pmtud struct {
	enabled bool
	ceiling int // the largest size searched for
	cur     int // the size in use (PLPMTU): confirmed, or the base
	lo, hi  int // the search: lo confirmed, hi the smallest refused (ceiling+1: none)

	due      bool   // a probe should leave at the next pump
	inFlight bool   // a probe is out
	probePN  uint64 // its packet number
	size     int    // its size (or the next one's)
	lost     int    // probes of size lost

	// Black-hole detection: big packets (above the base) lost or probed
	// since the last ACK of one.
	bigLost int
	// Counters, for Stats.
	probesSent, probesLost, blackHoles uint64
}

// init sets the search up; it starts on the first ACK (the path works
// at the base size).
func (p *pmtud) init(ceiling int, enabled bool) {
	p.cur = baseDatagram
	p.ceiling = max(ceiling, baseDatagram)
	p.enabled = enabled && p.ceiling > baseDatagram
	p.lo, p.hi = p.cur, p.ceiling+1
}

// next picks the size of the next probe and reports whether the search
// goes on.
func (p *pmtud) next() bool {
	if p.hi-p.lo <= searchDone || p.lo >= p.ceiling {
		p.due = false
		return false
	}
	if p.hi == p.ceiling+1 {
		p.size = p.ceiling // the ceiling first: most paths carry it
	} else {
		p.size = p.lo + (p.hi-p.lo)/2
	}
	p.lost = 0
	p.due = true
	return true
}

// startPMTUDLocked starts a search from the size in use, below hi.
func (s *Session) startPMTUDLocked(hi int, now monotime.Time) {
	p := &s.pm
	if !p.enabled || p.inFlight {
		return
	}
	p.lo, p.hi = p.cur, min(hi, p.ceiling+1)
	if !p.next() {
		s.cfg.Wheel.Reset(&s.mtuTimer, now.Add(mtuRaiseTimer))
	}
}

// setDatagramLocked makes size the size every packet is built for, and the
// controller's and pacer's datagram size.
func (s *Session) setDatagramLocked(size int) {
	if size == s.maxDgram {
		return
	}
	s.maxDgram = size
	s.pm.cur = size
	s.cc.SetMaxDatagramSize(uint64(size))
	s.pacer.SetMaxDatagramSize(uint64(size))
	s.flight.Notify() // the window in bytes may have grown
	s.signalLocked()
}

// onMTUProbeAckedLocked: the probe's size is confirmed.
func (s *Session) onMTUProbeAckedLocked(pn uint64, size int, now monotime.Time) {
	p := &s.pm
	if !p.inFlight || pn != p.probePN {
		return // a probe the search moved past (EMSGSIZE, a fallback)
	}
	p.inFlight = false
	if size > p.lo {
		p.lo = size
		s.setDatagramLocked(size)
	}
	if !p.next() {
		s.cfg.Wheel.Reset(&s.mtuTimer, now.Add(mtuRaiseTimer))
	}
}

// onMTUProbeLostLocked: one more probe of its size lost.
func (s *Session) onMTUProbeLostLocked(pn uint64, size int, now monotime.Time) {
	p := &s.pm
	p.probesLost++
	if !p.inFlight || pn != p.probePN {
		return
	}
	p.inFlight = false
	s.refuseProbeLocked(size, false, now)
}

// refuseProbeLocked counts a probe of size lost; at MAX_PROBES (or at once
// when the send itself failed for the size) the size is refused and the
// search moves below it.
func (s *Session) refuseProbeLocked(size int, final bool, now monotime.Time) {
	p := &s.pm
	if size != p.size {
		return
	}
	p.lost++
	if final || p.lost >= maxMTUProbes {
		p.hi = min(p.hi, size)
		if !p.next() {
			s.cfg.Wheel.Reset(&s.mtuTimer, now.Add(mtuRaiseTimer))
		}
		return
	}
	p.due = true // the same size again
}

// onBigAckedLocked notes the ACK of a packet above the base size: the
// path carries the size in use.
func (s *Session) onBigAckedLocked() { s.pm.bigLost = 0 }

// blackHoleLocked falls back to the base size: the path stopped carrying
// the size in use (RFC 8899 section 4.3). The search starts again below
// that size.
func (s *Session) blackHoleLocked(now monotime.Time) {
	p := &s.pm
	if s.maxDgram <= baseDatagram {
		return
	}
	failed := s.maxDgram
	p.blackHoles++
	p.bigLost = 0
	p.inFlight = false // a probe out is moot; its ACK or loss is ignored
	s.setDatagramLocked(baseDatagram)
	// A raise timer still armed from the last search would restart this
	// one from the ceiling, forgetting the size that just failed.
	s.cfg.Wheel.Cancel(&s.mtuTimer)
	s.startPMTUDLocked(failed, now)
}

// onMTUTimer is PMTU_RAISE_TIMER: search again above the size in use.
func (s *Session) onMTUTimer(now monotime.Time) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.startPMTUDLocked(s.pm.ceiling+1, now)
	due := s.pm.due
	s.mu.Unlock()
	if due {
		s.pump(now)
	}
}

// onSendError learns from a Send that failed: EMSGSIZE (the socket has DF
// set, RFC 9000 section 14: no fragmentation) says a datagram of the batch
// is larger than the local path allows. A batch with a probe ends with it,
// and the probe is the largest, so the probe's size is refused at once;
// a batch without one says the size in use no longer fits.
func (s *Session) onSendError(err error, b *batch, now monotime.Time) {
	if !errors.Is(err, syscall.EMSGSIZE) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if b.mtuProbe > 0 {
		if s.pm.inFlight && s.pm.probePN == b.mtuProbePN {
			s.pm.inFlight = false
			s.refuseProbeLocked(b.mtuProbe, true, now)
		}
		return
	}
	s.blackHoleLocked(now)
}

// packMTUProbeLocked packs the due probe as the last packet of b: a PING
// padded to the probe's size. It holds no flight bytes (a zero-byte
// reservation: the tracker still tracks it, so its ACK or loss is seen).
func (s *Session) packMTUProbeLocked(b *batch, now monotime.Time) error {
	p := &s.pm
	pn := s.nextPN
	pnLen := wire.PacketNumberLen(pn, s.largestAcked, s.hasAcked)
	hdrLen := wire.ShortHeaderLen(pnLen)
	res := &b.res
	s.flight.AddFor(res, 0)
	if err := s.tr.OnSent(pn, tracker.Control, res, now); err != nil {
		return err
	}
	s.largestTracked, s.hasTracked = pn, true
	key, err := s.prot.SealKey(pn, now)
	if err != nil {
		return err
	}
	s.nextPN++
	s.log.put(pn, sentRecord{mtuProbe: true, n: uint32(p.size)})
	p.due, p.inFlight, p.probePN = false, true, pn
	p.probesSent++
	if !s.lossTimer.Pending() {
		s.cfg.Wheel.Add(&s.lossTimer, now.Add(s.rtt.PTO()))
	}
	q := &b.pkts[b.n]
	b.n++
	q.buf, q.pn, q.key = s.getBuf(), pn, key
	pkt := wire.AppendShortHeader((*q.buf)[:0], &wire.ShortHeader{KeyPhase: key.Phase(), DCID: s.cfg.RemoteCID, PN: pn, PNLen: pnLen})
	q.hdrLen = len(pkt)
	pkt = wire.AppendPing(pkt)
	pkt = wire.AppendPadding(pkt, p.size-secure.SealOverhead-hdrLen-1)
	*q.buf = finish(pkt, q.hdrLen, pnLen)
	b.mtuProbe, b.mtuProbePN = p.size, pn
	return nil
}
