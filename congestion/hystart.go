package congestion

import (
	"math"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// HyStart++ (RFC 9406): leave slow start when the RTT of a round rises
// clearly above the previous round's, before the queue overflows. The
// detector below runs on the ACK path of slow start; Cubic applies the
// growth it prescribes.
//
//	slow start --(round min RTT >= last round's + thresh)--> CSS
//	CSS --(round min RTT < CSS baseline)--> slow start
//	CSS --(CSS_ROUNDS rounds)--> congestion avoidance (ssthresh = cwnd)
//	either --(loss)--> congestion avoidance (the controller's reduction)
//
// Rounds are counted as RFC 9406 section 4.2 does with sequence numbers,
// using send times instead: a round started by the ACK of a packet ends
// when an ACK acknowledges the last packet sent before that round began (or
// a later one).
const (
	// hsMinRTTThresh, hsMaxRTTThresh bound the RTT increase that ends slow
	// start; hsMinRTTDivisor scales it with the RTT (RFC 9406 section 4.3:
	// MIN_RTT_THRESH 4 ms, MAX_RTT_THRESH 16 ms, MIN_RTT_DIVISOR 8).
	hsMinRTTThresh  = 4 * time.Millisecond
	hsMaxRTTThresh  = 16 * time.Millisecond
	hsMinRTTDivisor = 8
	// hsNRTTSample is N_RTT_SAMPLE, the samples a round needs before its
	// minimum counts (RFC 9406 section 4.3).
	hsNRTTSample = 8
	// hsCSSGrowthDivisor is CSS_GROWTH_DIVISOR: CSS grows the window at a
	// quarter of slow start's rate (RFC 9406 section 4.3).
	hsCSSGrowthDivisor = 4
	// hsCSSRounds is CSS_ROUNDS, the rounds of CSS before congestion
	// avoidance (RFC 9406 section 4.3).
	hsCSSRounds = 5
	// RFC 9406's L (the cap on growth per ACK, 8 datagrams for unpaced
	// senders) is infinite for a paced sender (section 4.3); petrel paces
	// every packet, so no cap is applied.
)

// rttInfinity stands for "no sample yet" in the round minimums.
const rttInfinity = time.Duration(math.MaxInt64)

// hsState is the phase HyStart++ is in.
type hsState uint8

const (
	hsSlowStart hsState = iota // standard slow start, watching the RTT
	hsCSS                      // conservative slow start
	hsDone                     // slow start is over (exit or loss)
)

// hsEvent is what an ACK made HyStart++ decide.
type hsEvent uint8

const (
	hsNone     hsEvent = iota
	hsEnterCSS         // RTT rose: enter conservative slow start
	hsResumeSS         // RTT fell below the CSS baseline: back to slow start
	hsExitToCA         // CSS_ROUNDS done: congestion avoidance at this cwnd
)

// hystart is the HyStart++ detector of one connection (RFC 9406 section
// 4.2). Not safe for concurrent use; owned by its controller.
type hystart struct {
	state        hsState
	inRound      bool
	windowEnd    monotime.Time // send time of the last packet sent before the round began
	lastSent     monotime.Time // send time of the newest packet
	lastSamples  uint64        // RTT.Samples() at the previous ACK
	lastRoundMin time.Duration // lastRoundMinRTT
	curRoundMin  time.Duration // currentRoundMinRTT
	sampleCount  int           // rttSampleCount
	cssBaseline  time.Duration // cssBaselineMinRtt
	cssBoundary  int           // round boundaries seen in CSS (the first ends the partial entry round)
}

func newHystart() hystart {
	return hystart{lastRoundMin: rttInfinity, curRoundMin: rttInfinity, cssBaseline: rttInfinity}
}

// onPacketSent records the newest send time, the end of the next round.
func (h *hystart) onPacketSent(now monotime.Time) {
	if now.After(h.lastSent) {
		h.lastSent = now
	}
}

// onAck feeds one ACK in slow start or CSS and returns the transition it
// calls for (RFC 9406 section 4.2).
func (h *hystart) onAck(sent monotime.Time, rtt *RTT) hsEvent {
	if h.state == hsDone {
		return hsNone
	}
	if !h.inRound || !sent.Before(h.windowEnd) {
		// A round ended (or the first one starts): start the next.
		if h.inRound && h.state == hsCSS {
			// The round CSS began in counts towards CSS_ROUNDS (RFC 9406
			// section 4.2), so the CSS_ROUNDS-th boundary ends CSS.
			h.cssBoundary++
			if h.cssBoundary >= hsCSSRounds {
				h.state = hsDone
				return hsExitToCA
			}
		}
		h.inRound = true
		h.windowEnd = h.lastSent
		h.lastRoundMin = h.curRoundMin
		h.curRoundMin = rttInfinity
		h.sampleCount = 0
	}
	if n := rtt.Samples(); n != h.lastSamples {
		h.lastSamples = n
		h.curRoundMin = min(h.curRoundMin, rtt.LatestRTT())
		h.sampleCount++
	}
	if h.sampleCount < hsNRTTSample {
		return hsNone
	}
	switch h.state {
	case hsSlowStart:
		if h.curRoundMin == rttInfinity || h.lastRoundMin == rttInfinity {
			return hsNone
		}
		thresh := max(hsMinRTTThresh, min(h.lastRoundMin/hsMinRTTDivisor, hsMaxRTTThresh))
		if h.curRoundMin >= h.lastRoundMin+thresh {
			h.cssBaseline = h.curRoundMin
			h.state = hsCSS
			h.cssBoundary = 0
			return hsEnterCSS
		}
	case hsCSS:
		if h.curRoundMin < h.cssBaseline {
			h.cssBaseline = rttInfinity
			h.state = hsSlowStart
			return hsResumeSS
		}
	}
	return hsNone
}

// exit ends HyStart++ for good: a loss in slow start or CSS moves the
// sender to congestion avoidance (RFC 9406 section 4.2), and HyStart++ is
// used only for the initial slow start (RFC 9406 section 4.2).
func (h *hystart) exit() { h.state = hsDone }

// inCSS reports whether growth must be divided by CSS_GROWTH_DIVISOR.
func (h *hystart) inCSS() bool { return h.state == hsCSS }
