package tracker

import (
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// Loss detection, RFC 9002 section 6. Every transmission has its own
// packet number, so the rules apply as written, to packet numbers.
//
// A packet in flight is lost once its packet number is below the largest
// acknowledged and either
//   - packet threshold (section 6.1.1): the largest acknowledged packet
//     number is at least kPacketThreshold above its own, or
//   - time threshold (section 6.1.2): it was sent at least
//     max(kTimeThreshold * max(smoothed_rtt, latest_rtt), kGranularity) ago.
//
// When nothing is pending on the loss timer and the probe timeout
// (section 6.2.1) has passed since the last ack-eliciting send, the oldest
// packets in flight are handed out as probes (section 6.2.4).
//
// A packet found lost, or handed out as a probe, leaves the flight at that
// moment: its entry moves from InFlight to Lost by compare-and-swap and its
// bytes are released by that compare-and-swap. Its data is sent again only
// through Retransmit, under a new packet number. A probe is thus taken out
// of flight as quic-go's QueueProbePacket does, where RFC 9002 section 6.2
// keeps probed packets in flight; the difference is confined to the bytes
// in flight (the probe's own bytes, added without a window check per
// section 7.5, take their place): a probed packet is not reported as lost
// (LossResult.Probes, not Lost), so it causes no congestion event.
const (
	// kPacketThreshold, RFC 9002 section 6.1.1.
	packetThreshold = 3
	// kTimeThreshold = 9/8, RFC 9002 section 6.1.2.
	timeThresholdNum, timeThresholdDen = 9, 8
	// kGranularity, RFC 9002 section 6.1.2.
	granularity = time.Millisecond
	// kInitialRtt, RFC 9002 section 6.2.2, used until the first sample.
	initialRTT = 333 * time.Millisecond
	// probesPerPTO: "send one or two ack-eliciting packets", section 6.2.4.
	probesPerPTO = 2
	// maxPTOShift caps the exponential PTO backoff (2^16 x PTO).
	maxPTOShift = 16
)

// RTT is the RTT estimator's state as loss detection needs it
// (RFC 9002 section 5). A zero Smoothed means "no sample yet": kInitialRtt
// and half of it as rttvar are used (section 6.2.2).
type RTT struct {
	Latest      time.Duration // latest_rtt
	Smoothed    time.Duration // smoothed_rtt
	RTTVar      time.Duration // rttvar
	MaxAckDelay time.Duration // the peer's max_ack_delay
	PTOCount    int           // pto_count: consecutive PTOs without an ACK
}

// lossDelay is max(kTimeThreshold * max(smoothed_rtt, latest_rtt), kGranularity).
func (r RTT) lossDelay() time.Duration {
	d := max(r.smoothed(), r.Latest) * timeThresholdNum / timeThresholdDen
	return max(d, granularity)
}

func (r RTT) smoothed() time.Duration {
	if r.Smoothed == 0 {
		return initialRTT
	}
	return r.Smoothed
}

// pto is the probe timeout with backoff, RFC 9002 section 6.2.1:
// (smoothed_rtt + max(4*rttvar, kGranularity) + max_ack_delay) * 2^pto_count.
func (r RTT) pto() time.Duration {
	rttvar := r.RTTVar
	if r.Smoothed == 0 {
		rttvar = initialRTT / 2
	}
	d := r.smoothed() + max(4*rttvar, granularity) + r.MaxAckDelay
	return d << min(max(r.PTOCount, 0), maxPTOShift)
}

// Resend is a packet DueForResend declared lost (or probed): it is Lost,
// its bytes have left the flight, and its data awaits the caller's
// decision: Retransmit(PN, newPN, reservation, now) to send it again under
// a new packet number, or Abandon(PN) not to. Until one of them (or an
// ACK, or a DropStream of its stream) resolves it, the packet keeps its
// slot in the tracker.
type Resend struct {
	PN     uint64
	Gen    Generation // retransmissions of this data before PN
	Stream StreamID
	Size   uint32
	Probe  bool // handed out by a probe timeout, not declared lost
}

// LossResult is what one DueForResend call found.
type LossResult struct {
	// Lost and LostBytes count packets declared lost and handed out, and
	// the bytes released for them; LargestLostSent is the latest send time
	// among them, for the controller's congestion event (RFC 9002 section
	// 7.3.2).
	Lost            int
	LostBytes       uint64
	LargestLostSent monotime.Time
	// PTO reports that the probe timeout expired: Probes packets were
	// handed out as probes, and ProbeBytes released for them. The caller
	// counts the timeout once (pto_count, RFC 9002 section 6.2.1), however
	// many packets it covers.
	PTO        bool
	Probes     int
	ProbeBytes uint64
	// Abandoned packets were found lost after MaxRetransmits; their bytes,
	// AbandonedBytes, were released, and they are not handed out.
	Abandoned      int
	AbandonedBytes uint64
	// Next is when to call DueForResend again (the loss timer or the
	// probe timeout); zero when nothing is in flight.
	Next monotime.Time
}

// DueForResend runs loss detection at now with the estimator's rtt, moves
// the packets it finds lost (or probes) from InFlight to Lost, releasing
// their bytes, and appends them to dst in ascending packet number order,
// returning it (dst's backing array is reused: with enough capacity
// nothing allocates). Each packet is handed out once, by the call whose
// compare-and-swap moved it. The caller then retransmits or abandons each:
// a Retransmit that races an ACK or a DropStream of the same packet fails,
// and the data is not sent. A lost packet whose data was already
// retransmitted MaxRetransmits times is abandoned instead, releasing its
// bytes.
func (t *Tracker) DueForResend(dst []Resend, now monotime.Time, rtt RTT) ([]Resend, LossResult) {
	var res LossResult
	if t.inflightPkts.Load() <= 0 || t.pns.live.Load() == 0 {
		return dst, res
	}
	lossDelay := rtt.lossDelay()
	var lossTime monotime.Time
	if la := t.largestAcked.Load(); la > 1 {
		largest := la - 1
		dst = t.scan(dst, largest-1, func(pn uint64, sent monotime.Time) bool {
			if largest-pn >= packetThreshold || now.Sub(sent) >= lossDelay {
				return true
			}
			if at := sent.Add(lossDelay); lossTime == 0 || at < lossTime {
				lossTime = at
			}
			return false
		}, false, 0, &res)
	}
	switch {
	case res.Lost > 0 || res.Abandoned > 0 || lossTime != 0:
		res.Next = lossTime
	default:
		deadline := monotime.Time(t.lastSent.Load()).Add(rtt.pto())
		if now < deadline {
			res.Next = deadline
			break
		}
		res.PTO = true
		t.ptos.Add(1)
		dst = t.scan(dst, MaxPacketNumber, func(uint64, monotime.Time) bool { return true }, true, probesPerPTO, &res)
		next := rtt
		next.PTOCount++
		res.Next = now.Add(next.pto())
	}
	if res.Next == 0 && t.inflightPkts.Load() > 0 {
		// Everything below the largest ack was resolved by this call:
		// arm the probe timeout for what is left.
		res.Next = monotime.Time(t.lastSent.Load()).Add(rtt.pto())
	}
	return dst, res
}

// scan visits the packets in flight up to packet number upTo in ascending
// order, skipping chunks with none, and hands out (or abandons) those for
// which due returns true, stopping after limit handouts if limit > 0.
func (t *Tracker) scan(dst []Resend, upTo uint64, due func(pn uint64, sent monotime.Time) bool, probe bool, limit int, res *LossResult) []Resend {
	handed := 0
	end := t.pns.sentEnd.Load()
	if end == 0 { // the first OnSent has published its entry but not advanced yet
		return dst
	}
	first := t.pns.lo.Load()
	last := min(upTo, end-1) >> chunkBits
	for k := first; k <= last; k++ {
		c := t.pns.pin(k)
		if c == nil {
			continue
		}
		var done bool
		dst, done = t.scanChunk(dst, c, k, upTo, due, probe, limit, &handed, res)
		t.pns.unref(c)
		if done {
			return dst
		}
	}
	return dst
}

// scanChunk is scan over chunk c (number k, pinned); done reports that
// the limit was reached.
func (t *Tracker) scanChunk(dst []Resend, c *chunk, k, upTo uint64, due func(pn uint64, sent monotime.Time) bool, probe bool, limit int, handed *int, res *LossResult) ([]Resend, bool) {
	base := k << chunkBits
	for i := range c.entries {
		pn := base + uint64(i)
		if pn > upTo {
			break
		}
		e := &c.entries[i]
		s := e.state.Load()
		if !word(s).inFlightAs(pn) {
			continue
		}
		sent, stream, size := monotime.Time(e.sent.Load()), e.stream(), e.size.Load()
		if e.state.Load() != s { // changed while we read it: its next life decides next time
			continue
		}
		gen := word(s).gen()
		if !due(pn, sent) {
			continue
		}
		if gen >= t.maxRetx {
			if n, ok := t.transition(c, e, pn, s, phaseAbandoned, 0); ok {
				res.Abandoned++
				res.AbandonedBytes += n
			}
			continue
		}
		var flags uint64
		if probe {
			flags = flagProbe
		}
		n, ok := t.transition(c, e, pn, s, phaseLost, flags)
		if !ok {
			continue // acked, dropped or declared lost under us
		}
		dst = append(dst, Resend{PN: pn, Gen: gen, Stream: stream, Size: size, Probe: probe})
		if probe {
			res.Probes++
			res.ProbeBytes += n
		} else {
			res.Lost++
			res.LostBytes += n
			res.LargestLostSent = max(res.LargestLostSent, sent)
		}
		if *handed++; limit > 0 && *handed >= limit {
			return dst, true
		}
	}
	return dst, false
}
