package tracker

import (
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// AckRange is a closed range of acknowledged packet numbers, as carried by
// an ACK frame (RFC 9000 section 19.3.1).
type AckRange struct {
	Smallest, Largest uint64
}

// AckResult is what one ACK frame did: what the RTT estimator
// (RFC 9002 section 5) and the congestion controller (section 7) need.
//
// Every packet number names one transmission, so a packet acknowledged
// after it was declared lost is an ordinary acknowledgment for the RTT
// estimator, and evidence of a spurious loss for the controller.
type AckResult struct {
	// NewlyAcked and AckedBytes count the packets this ACK moved out of
	// flight and their bytes (released by this ACK).
	NewlyAcked int
	AckedBytes uint64
	// Spurious and SpuriousBytes count packets this ACK acknowledged after
	// loss detection had declared them lost by the packet or time
	// threshold (RFC 9002 section 6.1), their data retransmitted or not:
	// the loss was spurious, and the controller may undo its response.
	// Their bytes left the flight when the loss was declared; this ACK
	// releases nothing for them. A packet whose data was retransmitted is
	// reported only while its chunk of packet numbers is still tracked.
	Spurious      int
	SpuriousBytes uint64
	// LateProbes counts packets acknowledged after a probe timeout had
	// taken them out of flight: not a congestion signal either way.
	LateProbes int
	// PriorInFlight is the tracker's bytes in flight before this ACK.
	PriorInFlight uint64
	// LargestAcked is the largest packet number in the frame;
	// LargestNewlyAcked and LargestNewlySent are the largest newly
	// acknowledged packet number (in flight or lost before) and its send
	// time (valid when AckEliciting), e.g. for the controller's
	// recovery-period check.
	LargestAcked      uint64
	LargestNewlyAcked uint64
	LargestNewlySent  monotime.Time
	// AckEliciting reports that a newly acknowledged packet was
	// ack-eliciting. Every tracked packet is ack-eliciting, so it holds when
	// the ACK newly acknowledged anything; RFC 9002 section 5.1 takes an RTT
	// sample only when it holds.
	AckEliciting bool
	// RTTValid says LatestRTT is a sample (RFC 9002 section 5.1): the
	// frame's largest packet number was newly acknowledged. No Karn's rule
	// is needed: each packet number was sent once.
	RTTValid  bool
	LatestRTT time.Duration // now - send time of the largest acked packet
	AckDelay  time.Duration // the frame's ack delay, passed through for the estimator
}

// OnAck processes one ACK frame's ranges (in any order; the slice stays
// the caller's and is not retained), received at now with the peer's
// reported ackDelay. Every named packet still InFlight moves to Acked and
// its bytes are released. Every named packet Lost moves to Acked too,
// releasing nothing (its bytes left at the loss): a Retransmit of it then
// fails, and the ACK reports it as Spurious (or LateProbes). Packets
// already acked, dropped or abandoned are skipped. A malformed range, or
// one reaching the sending frontier (a packet number above every one
// sent), fails the whole frame with ErrAckUnsent before anything changes.
// A packet number below the frontier that was never sent (skipped by the
// sender) is not detected: nothing is tracked for it, so acking it changes
// nothing. It allocates nothing.
//
// Its cost is the number of chunks the ranges overlap that still hold
// packets in flight or lost, times the chunk size, at most.
func (t *Tracker) OnAck(ranges []AckRange, ackDelay time.Duration, now monotime.Time) (AckResult, error) {
	res := AckResult{PriorInFlight: t.inflightBytes.Load(), AckDelay: ackDelay}
	sentEnd := t.pns.sentEnd.Load()
	for _, r := range ranges {
		if r.Smallest > r.Largest || r.Largest >= sentEnd {
			return AckResult{}, ErrAckUnsent
		}
		res.LargestAcked = max(res.LargestAcked, r.Largest)
	}
	if len(ranges) == 0 {
		return res, nil
	}
	if t.pns.live.Load() != 0 {
		for _, r := range ranges {
			t.ackRange(r, &res)
		}
	}
	storeMaxU(&t.largestAcked, res.LargestAcked+1)
	if res.AckEliciting && res.LargestNewlyAcked == res.LargestAcked {
		res.RTTValid = true
		res.LatestRTT = now.Sub(res.LargestNewlySent)
	}
	return res, nil
}

// ackRange acks the in-flight and lost packets of r, chunk by chunk,
// skipping chunks that hold none, and reports late ACKs of retransmitted
// packets.
func (t *Tracker) ackRange(r AckRange, res *AckResult) {
	lo := r.Smallest
	if floor := t.pns.lo.Load() << chunkBits; lo < floor {
		lo = floor
	}
	for k := lo >> chunkBits; k <= r.Largest>>chunkBits; k++ {
		c := t.pns.pin(k)
		if c == nil {
			continue
		}
		first, last := max(lo, k<<chunkBits), min(r.Largest, k<<chunkBits|chunkMask)
		for pn := first; pn <= last; pn++ {
			t.ackOne(c, &c.entries[pn&chunkMask], pn, res)
		}
		t.pns.unref(c)
	}
}

// ackOne acks packet pn in slot e of chunk c (pinned), if it names that
// packet.
func (t *Tracker) ackOne(c *chunk, e *entry, pn uint64, res *AckResult) {
	for {
		s := e.state.Load()
		w := word(s)
		if w.pn() != pn {
			return
		}
		sent, size := monotime.Time(e.sent.Load()), e.size.Load()
		switch w.phase() {
		case phaseInFlight:
			n, ok := t.transition(c, e, pn, s, phaseAcked, 0)
			if !ok {
				continue // declared lost or resolved under us: look again
			}
			res.NewlyAcked++
			res.AckedBytes += n
		case phaseLost:
			if _, ok := t.transition(c, e, pn, s, phaseAcked, 0); !ok {
				continue
			}
			t.lateAck(w, size, res)
		case phaseRetransmitted:
			// Final, and the chunk holds no reference for it: the word may
			// be left over from an earlier life of the chunk (a packet
			// number sent twice, or the chunk's previous tracker), which
			// the life stamped at claim tells apart. The compare-and-swap
			// only marks the late ACK, so that a repeated ACK frame reports
			// it once; it won only if the slot still held this packet, so
			// sent and size are its own.
			if s&flagLateAck != 0 || e.life.Load() != c.life.Load() || !e.state.CompareAndSwap(s, s|flagLateAck) {
				return
			}
			t.lateAck(w, size, res)
		default:
			return
		}
		res.AckEliciting = true
		if pn >= res.LargestNewlyAcked {
			res.LargestNewlyAcked = pn
			res.LargestNewlySent = sent
		}
		return
	}
}

// lateAck reports the ACK of a packet that had left the flight as lost.
func (t *Tracker) lateAck(w word, size uint32, res *AckResult) {
	if w.probe() {
		res.LateProbes++
		t.lateProbes.pkts.Add(1)
		return
	}
	res.Spurious++
	res.SpuriousBytes += uint64(size)
	t.spurious.add(uint64(size))
}

// storeMaxU raises a to v if v is larger.
func storeMaxU(a *atomic.Uint64, v uint64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}
