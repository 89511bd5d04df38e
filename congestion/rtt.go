package congestion

import (
	"math"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// Constants of RFC 9002 (QUIC loss detection and congestion control).
const (
	// InitialRTT is the RTT assumed before the first sample
	// (RFC 9002 section 6.2.2, kInitialRtt).
	InitialRTT = 333 * time.Millisecond

	// Granularity is the system timer granularity, the floor of the
	// variance term of the PTO (RFC 9002 section 6.1.2, kGranularity).
	Granularity = time.Millisecond

	// DefaultMaxAckDelay is the peer's max_ack_delay when it announces none
	// (RFC 9000 section 18.2, max_ack_delay default 25 ms).
	DefaultMaxAckDelay = 25 * time.Millisecond

	// MaxPTO bounds the backed-off probe timeout. RFC 9002 section 6.2.1
	// does not bound the exponential backoff; an unbounded one overflows
	// time.Duration after ~40 doublings, and a connection that has not heard
	// from its peer for a minute is better served by its idle timeout
	// (quic-go caps its PTO at the same 60 s).
	MaxPTO = 60 * time.Second

	// persistentCongestionThreshold is kPersistentCongestionThreshold
	// (RFC 9002 section 7.6.1).
	persistentCongestionThreshold = 3
)

// RTT is the round-trip-time estimator of one connection, per RFC 9002
// section 5, and the owner of its probe-timeout backoff (section 6.2.1).
//
// Concurrency: not safe for concurrent use. The connection's event loop owns
// it: it feeds samples from ACK processing and reads it to arm timers and to
// drive the controller. Copy it (it holds no pointers) to hand a snapshot to
// another goroutine. The zero value is not ready: use NewRTT.
//
// Invariants: once HasSample, 0 < MinRTT <= LatestRTT's minimum over all
// samples, and SmoothedRTT, RTTVar >= 0; the PTO backoff exponent grows by
// exactly one per OnTimeout call and returns to zero on ResetBackoff.
type RTT struct {
	latest      time.Duration
	min         time.Duration
	smoothed    time.Duration
	rttvar      time.Duration
	maxAckDelay time.Duration
	samples     uint64
	ptoCount    uint32
}

// NewRTT returns an estimator with no sample yet: SmoothedRTT is InitialRTT
// and RTTVar half of it (RFC 9002 section 6.2.2). maxAckDelay is the peer's
// max_ack_delay; zero means DefaultMaxAckDelay, a negative value is treated
// as zero (a peer that never delays ACKs).
func NewRTT(maxAckDelay time.Duration) RTT {
	switch {
	case maxAckDelay == 0:
		maxAckDelay = DefaultMaxAckDelay
	case maxAckDelay < 0:
		maxAckDelay = 0
	}
	return RTT{
		smoothed:    InitialRTT,
		rttvar:      InitialRTT / 2,
		maxAckDelay: maxAckDelay,
	}
}

// Update takes one RTT sample (RFC 9002 section 5.1): latest is the time
// from sending the largest newly acknowledged packet to receiving its ACK,
// ackDelay the delay the peer reported in that ACK. The caller takes a
// sample only when the largest acknowledged packet is newly acknowledged and
// at least one newly acknowledged packet was ack-eliciting, and passes
// ackDelay 0 where RFC 9002 section 5.3 says to ignore it (before the
// handshake is confirmed). A non-positive latest is ignored (returns false).
//
// Per section 5.3, ackDelay is capped at max_ack_delay and subtracted from
// latest only if that does not take the sample below min_rtt.
func (r *RTT) Update(latest, ackDelay time.Duration) bool {
	if latest <= 0 {
		return false
	}
	r.latest = latest
	r.samples++
	if r.samples == 1 {
		// First sample (RFC 9002 section 5.3).
		r.min = latest
		r.smoothed = latest
		r.rttvar = latest / 2
		return true
	}
	// min_rtt ignores ack delay (RFC 9002 section 5.2).
	r.min = min(r.min, latest)
	ackDelay = min(max(ackDelay, 0), r.maxAckDelay)
	adjusted := latest
	if latest >= r.min+ackDelay {
		adjusted = latest - ackDelay
	}
	// RFC 9002 Appendix A.7: rttvar is updated with the previous
	// smoothed_rtt, then smoothed_rtt moves 1/8 of the way to the sample.
	diff := r.smoothed - adjusted
	if diff < 0 {
		diff = -diff
	}
	r.rttvar = (3*r.rttvar + diff) / 4
	r.smoothed = (7*r.smoothed + adjusted) / 8
	return true
}

// UpdateAt is Update with the sample computed from the ACK's arrival time
// and the largest acknowledged packet's send time.
func (r *RTT) UpdateAt(now, sent monotime.Time, ackDelay time.Duration) bool {
	return r.Update(now.Sub(sent), ackDelay)
}

// HasSample reports whether at least one sample was taken.
func (r *RTT) HasSample() bool { return r.samples > 0 }

// Samples returns how many samples were taken; a controller compares it with
// the count it saw last to tell whether an ACK brought a new sample.
func (r *RTT) Samples() uint64 { return r.samples }

// LatestRTT is the most recent sample (latest_rtt), 0 before the first.
func (r *RTT) LatestRTT() time.Duration { return r.latest }

// MinRTT is the minimum sample seen (min_rtt), 0 before the first.
func (r *RTT) MinRTT() time.Duration { return r.min }

// SmoothedRTT is smoothed_rtt (InitialRTT before the first sample).
func (r *RTT) SmoothedRTT() time.Duration { return r.smoothed }

// RTTVar is rttvar (InitialRTT/2 before the first sample).
func (r *RTT) RTTVar() time.Duration { return r.rttvar }

// MaxAckDelay is the peer's max_ack_delay used in the PTO.
func (r *RTT) MaxAckDelay() time.Duration { return r.maxAckDelay }

// SetMaxAckDelay changes the peer's max_ack_delay (learned in the
// handshake); a negative value is treated as zero.
func (r *RTT) SetMaxAckDelay(d time.Duration) { r.maxAckDelay = max(d, 0) }

// basePTO is smoothed_rtt + max(4*rttvar, kGranularity) + max_ack_delay
// (RFC 9002 section 6.2.1), without backoff.
func (r *RTT) basePTO() time.Duration {
	return r.smoothed + max(4*r.rttvar, Granularity) + r.maxAckDelay
}

// PTO returns the probe timeout including the backoff:
// (smoothed_rtt + max(4*rttvar, kGranularity) + max_ack_delay) * 2^pto_count
// (RFC 9002 section 6.2.1), capped at MaxPTO.
func (r *RTT) PTO() time.Duration {
	d := r.basePTO()
	for i := uint32(0); i < r.ptoCount && d < MaxPTO; i++ {
		d *= 2
	}
	return min(d, MaxPTO)
}

// OnTimeout records one probe-timeout EVENT: the backoff exponent grows by
// one, doubling the next PTO (RFC 9002 section 6.2.1). Call it once per
// expiry of the connection's PTO timer, never once per packet that expiry
// declares lost: ten lost packets in one timeout double the PTO once.
func (r *RTT) OnTimeout() {
	if r.ptoCount < math.MaxUint32 {
		r.ptoCount++
	}
}

// ResetBackoff clears the backoff. Call it when an ACK acknowledges data
// not acknowledged before (RFC 9002 section 6.2.1: the PTO backoff is reset
// when an acknowledgment is received); a duplicate ACK must not reset it.
func (r *RTT) ResetBackoff() { r.ptoCount = 0 }

// PTOCount returns the backoff exponent (pto_count).
func (r *RTT) PTOCount() uint32 { return r.ptoCount }

// LossDelay is the time threshold of loss detection,
// max(kTimeThreshold * max(smoothed_rtt, latest_rtt), kGranularity) with
// kTimeThreshold = 9/8 (RFC 9002 section 6.1.2).
func (r *RTT) LossDelay() time.Duration {
	return max(max(r.smoothed, r.latest)*9/8, Granularity)
}

// PersistentCongestionDuration is
// (smoothed_rtt + max(4*rttvar, kGranularity) + max_ack_delay) *
// kPersistentCongestionThreshold (RFC 9002 section 7.6.1).
func (r *RTT) PersistentCongestionDuration() time.Duration {
	return r.basePTO() * persistentCongestionThreshold
}

// OnPersistentCongestion resets min_rtt to the newest sample (RFC 9002
// section 5.2: min_rtt SHOULD be set to the newest RTT sample after
// persistent congestion is established), so a path whose RTT rose is not
// judged by a stale minimum. Smoothed RTT and variance are kept.
func (r *RTT) OnPersistentCongestion() {
	if r.samples > 0 {
		r.min = r.latest
	}
}
