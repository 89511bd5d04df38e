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
type AckResult struct {
	// NewlyAcked and AckedBytes count the packets this ACK moved out of
	// flight and their bytes.
	NewlyAcked int
	AckedBytes uint64
	// PriorInFlight is the tracker's bytes in flight before this ACK.
	PriorInFlight uint64
	// LargestAcked is the largest packet number in the frame;
	// LargestNewlyAcked and LargestNewlySent are the largest newly acked
	// packet number and the send time of its latest copy (valid when
	// NewlyAcked > 0), e.g. for the controller's recovery-period check.
	LargestAcked      uint64
	LargestNewlyAcked uint64
	LargestNewlySent  monotime.Time
	// AckEliciting reports that a newly acked packet was ack-eliciting.
	// Every tracked packet is ack-eliciting, so it equals NewlyAcked > 0;
	// RFC 9002 section 5.1 takes an RTT sample only when it holds.
	AckEliciting bool
	// RTTValid says LatestRTT is a sample (RFC 9002 section 5.1): the
	// frame's largest packet number was newly acked and was never
	// retransmitted (Karn's rule: a refreshed packet's copy is ambiguous).
	RTTValid  bool
	LatestRTT time.Duration // now - send time of the largest acked packet
	AckDelay  time.Duration // the frame's ack delay, passed through for the estimator
}

// OnAck processes one ACK frame's ranges (in any order; the slice stays
// the caller's and is not retained), received at now with the peer's
// reported ackDelay. Every named packet still InFlight moves to Acked and
// its bytes are released. Packets already acked, dropped or abandoned are
// skipped (they release nothing). A malformed range, or one reaching the
// sending frontier (a packet number above every one sent), fails the whole
// frame with ErrAckUnsent before anything changes. A packet number below
// the frontier that was never sent (skipped by the sender) is not detected:
// nothing is tracked for it, so acking it changes nothing. It allocates
// nothing.
//
// Its cost is the number of chunks the ranges overlap that still hold
// packets in flight, times the chunk size, at most.
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
	var st ackScan
	if t.pns.live.Load() != 0 {
		for _, r := range ranges {
			t.ackRange(r, &res, &st)
		}
	}
	if res.NewlyAcked > 0 {
		storeMax(&t.ackedSentMax, int64(st.sentMax))
	}
	storeMaxU(&t.largestAcked, res.LargestAcked+1)
	if res.NewlyAcked > 0 {
		res.AckEliciting = true
		if res.LargestNewlyAcked == res.LargestAcked && !st.largestResent {
			res.RTTValid = true
			res.LatestRTT = now.Sub(res.LargestNewlySent)
		}
	}
	return res, nil
}

// ackScan is what OnAck gathers across an ACK frame's ranges besides the
// AckResult: whether the largest newly acked packet was retransmitted, and
// the latest send time of the packets acked (stored in ackedSentMax once
// per frame, not once per packet).
type ackScan struct {
	largestResent bool
	sentMax       monotime.Time
}

// ackRange acks the in-flight packets of r, chunk by chunk, skipping chunks
// that hold none.
func (t *Tracker) ackRange(r AckRange, res *AckResult, st *ackScan) {
	lo := r.Smallest
	if floor := t.pns.lo.Load() << chunkBits; lo < floor {
		lo = floor
	}
	for k := lo >> chunkBits; k <= r.Largest>>chunkBits; k++ {
		c := t.pns.chunkOf(k)
		if c == nil || !c.occupied() {
			continue
		}
		first, last := max(lo, k<<chunkBits), min(r.Largest, k<<chunkBits|chunkMask)
		for pn := first; pn <= last; pn++ {
			e := &c.entries[pn&chunkMask]
			for {
				s := e.state.Load()
				if !word(s).inFlightAs(pn) {
					break
				}
				sent, resent := e.sentFor(s)
				n, ok := t.resolve(c, e, pn, s, phaseAcked)
				if !ok {
					continue // refreshed or resolved under us: look again
				}
				res.NewlyAcked++
				res.AckedBytes += n
				st.sentMax = max(st.sentMax, sent)
				if res.NewlyAcked == 1 || pn > res.LargestNewlyAcked {
					res.LargestNewlyAcked = pn
					res.LargestNewlySent = sent
					st.largestResent = resent
				}
				break
			}
		}
	}
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
