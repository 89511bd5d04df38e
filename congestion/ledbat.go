package congestion

import (
	"fmt"
	"math"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// LEDBAT++ (draft-irtf-iccrg-ledbat-plus-plus), a less-than-best-effort
// controller for background transfers: it keeps the queuing delay it adds
// under a target and yields to loss-based flows. Delay is measured on RTTs
// (draft, "Use of round-trip delay"): queuing delay = current delay - base delay, where
// current delay is the minimum of the last few RTT samples and base delay
// the minimum RTT over the last minutes (RFC 6817 section 2.5).
//
//	initial slow start --(queuing delay > 3/4 target, loss, ssthresh)--> CA
//	CA --(slowdown due)--> freeze at 2 datagrams for 2 RTTs --> ramp
//	ramp (slow start) --(cwnd back to the pre-slowdown window)--> CA
//
// The periodic slowdown (draft, "Periodic slowdown") lets the queue drain so every
// LEDBAT++ flow re-measures the true base delay; the next one is due 9
// slowdown durations later, costing at most 10% of the throughput.
const (
	// DefaultLEDBATTarget is TARGET, the queuing delay aimed at (draft,
	// "Lower target delay": 60 ms, below RFC 6817's 100 ms).
	DefaultLEDBATTarget = 60 * time.Millisecond
	// ledbatMaxGainDivisor caps the divisor of the dynamic gain,
	// GAIN = 1/min(16, ceil(2*TARGET/base_delay)) (draft, "Reduced congestion window gain").
	ledbatMaxGainDivisor = 16
	// ledbatSlowStartExit is the fraction of TARGET at which the modified
	// slow start ends (draft, "Modified slow start": 3/4).
	ledbatSlowStartExit = 0.75
	// ledbatDecreaseConstant is the constant C of the multiplicative
	// decrease W += GAIN - C*W*(delay/target - 1) (draft, "Multiplicative decrease": 1).
	ledbatDecreaseConstant = 1.0
	// ledbatFreezeRTTs is how long a slowdown holds the window at
	// ledbatFreezePackets; ledbatFirstSlowdownRTTs how long after the
	// initial slow start the first slowdown comes; ledbatSlowdownInterval
	// the multiple of a slowdown's duration before the next (draft,
	// "Periodic slowdown": 2 RTTs, 2 datagrams, 2 RTTs, 9x).
	ledbatFreezeRTTs        = 2
	ledbatFreezePackets     = 2
	ledbatFirstSlowdownRTTs = 2
	ledbatSlowdownInterval  = 9
	// ledbatCurrentFilter is the number of RTT samples whose minimum is the
	// current delay (RFC 6817 section 2.5, CURRENT_FILTER; 4 as in the
	// ns-3 LEDBAT++ model).
	ledbatCurrentFilter = 4
	// ledbatBaseHistory is the number of one-minute minimums kept for the
	// base delay (RFC 6817 section 2.5, BASE_HISTORY = 10).
	ledbatBaseHistory  = 10
	ledbatBaseInterval = time.Minute
)

// LEDBATConfig configures NewLEDBAT. The zero value is the default.
type LEDBATConfig struct {
	// Target is the queuing delay to stay under. Zero:
	// DefaultLEDBATTarget (60 ms). Must be at least 1 ms.
	Target time.Duration
	// MaxDatagramSize in bytes. Zero: DefaultMaxDatagramSize (1200).
	MaxDatagramSize uint64
	// InitialWindow in bytes. Zero: min(10*MaxDatagramSize,
	// max(14720, 2*MaxDatagramSize)) (RFC 9002 section 7.2), brought
	// within [MinWindow, MaxWindow].
	InitialWindow uint64
	// MinWindow in bytes. Zero: 2*MaxDatagramSize (RFC 6817 section
	// 2.5, MIN_CWND = 2).
	MinWindow uint64
	// MaxWindow in bytes. Zero: 10000*MaxDatagramSize.
	MaxWindow uint64
}

// ledbatPhase is where LEDBAT++ is in its cycle.
type ledbatPhase uint8

const (
	ledbatSlowStart ledbatPhase = iota // initial (modified) slow start
	ledbatCA                           // congestion avoidance
	ledbatFreeze                       // slowdown: window held at 2 datagrams
	ledbatRamp                         // slowdown: slow start back to the old window
)

// LEDBAT is the LEDBAT++ background congestion controller.
//
// Concurrency: see Controller. Window and PacingRate are safe for
// concurrent use; the On* methods belong to the connection's event loop.
//
// Guard map: published is atomic; limits and target immutable after
// NewLEDBAT; everything else is owned by the event loop.
type LEDBAT struct {
	published

	limits windowLimits
	target time.Duration

	cwnd     float64 // bytes
	ssthresh float64 // bytes; +Inf until the first exit from slow start
	phase    ledbatPhase
	recovery recovery
	srtt     time.Duration

	// Delay filters (fixed arrays: no allocation).
	current     [ledbatCurrentFilter]time.Duration // ring of the latest samples
	currentN    int                                // samples in current (<= len)
	currentI    int                                // next slot
	base        [ledbatBaseHistory]time.Duration   // per-minute minimums, ring
	baseN       int
	baseI       int           // slot of the current minute
	baseRolled  monotime.Time // start of the current minute
	lastSamples uint64

	nextSlowdown  monotime.Time // zero: none scheduled
	slowdownStart monotime.Time
	freezeEnd     monotime.Time

	stats LEDBATStats
}

// LEDBATStats counts what a LEDBAT did.
type LEDBATStats struct {
	CongestionEvents uint64 // window reductions on loss
	IgnoredLosses    uint64 // losses inside a recovery period
	Timeouts         uint64 // OnRetransmissionTimeout calls
	Slowdowns        uint64 // slowdowns started
	DelayDecreases   uint64 // ACKs that shrank the window for delay above target
}

var _ Controller = (*LEDBAT)(nil)

// NewLEDBAT returns a LEDBAT++ controller in its initial slow start.
func NewLEDBAT(cfg LEDBATConfig) (*LEDBAT, error) {
	if cfg.Target == 0 {
		cfg.Target = DefaultLEDBATTarget
	}
	if cfg.Target < time.Millisecond || cfg.Target > time.Minute {
		return nil, fmt.Errorf("%w: LEDBAT Target %v outside [1ms, 1m]", ErrInvalidConfig, cfg.Target)
	}
	l, err := newWindowLimitsAuto(cfg.MaxDatagramSize, cfg.InitialWindow, 0, cfg.MinWindow, cfg.MaxWindow)
	if err != nil {
		return nil, err
	}
	c := &LEDBAT{
		limits:   l,
		target:   cfg.Target,
		cwnd:     float64(l.initial),
		ssthresh: math.Inf(1),
		srtt:     InitialRTT,
	}
	c.publish(c.cwnd, c.srtt)
	return c, nil
}

// Stats returns the counters.
func (c *LEDBAT) Stats() LEDBATStats { return c.stats }

// Target returns the configured target queuing delay.
func (c *LEDBAT) Target() time.Duration { return c.target }

// BaseDelay returns the base delay (0 before the first sample).
func (c *LEDBAT) BaseDelay() time.Duration { return minOf(c.base[:c.baseN]) }

// QueuingDelay returns current delay - base delay (0 before any sample).
func (c *LEDBAT) QueuingDelay() time.Duration {
	if c.currentN == 0 {
		return 0
	}
	return max(minOf(c.current[:c.currentN])-c.BaseDelay(), 0)
}

// Gain returns the dynamic gain 1/min(16, ceil(2*TARGET/base_delay))
// (draft, "Reduced congestion window gain"): flows on short paths grow more slowly, so flows with
// different base delays share fairly. Before any sample it is 1/16.
func (c *LEDBAT) Gain() float64 {
	base := c.BaseDelay()
	if base <= 0 {
		return 1.0 / ledbatMaxGainDivisor
	}
	d := math.Ceil(2 * float64(c.target) / float64(base))
	return 1 / math.Min(ledbatMaxGainDivisor, math.Max(d, 1))
}

// NextSlowdown returns when the next slowdown is due (zero: none yet).
func (c *LEDBAT) NextSlowdown() monotime.Time { return c.nextSlowdown }

// InSlowdown reports whether a slowdown (freeze or ramp) is under way.
func (c *LEDBAT) InSlowdown() bool { return c.phase == ledbatFreeze || c.phase == ledbatRamp }

// OnPacketSent implements Controller; LEDBAT++ needs nothing from it.
func (c *LEDBAT) OnPacketSent(monotime.Time, uint64, uint64) {}

// OnAck implements Controller.
func (c *LEDBAT) OnAck(now, sentTime monotime.Time, ackedBytes, priorInFlight uint64, rtt *RTT) {
	if ackedBytes == 0 {
		return
	}
	c.srtt = rtt.SmoothedRTT()
	if n := rtt.Samples(); n != c.lastSamples {
		c.lastSamples = n
		c.addSample(now, rtt.LatestRTT())
	}
	c.onAck(now, sentTime, ackedBytes, priorInFlight)
	c.publish(c.cwnd, c.srtt)
}

// onAck is OnAck after the delay filters took the sample, without the
// publication of the result.
func (c *LEDBAT) onAck(now, sentTime monotime.Time, ackedBytes, priorInFlight uint64) {
	if c.recovery.contains(sentTime) {
		return // no growth in a recovery period (RFC 9002 section 7.3.2)
	}
	c.recovery.acked(sentTime)
	acked := float64(ackedBytes)
	mss := float64(c.limits.mss)
	qd := c.QueuingDelay()
	gain := c.Gain()

	if c.phase == ledbatCA && !c.nextSlowdown.IsZero() && !now.Before(c.nextSlowdown) {
		// Periodic slowdown (draft, "Periodic slowdown"): remember the window in
		// ssthresh, hold 2 datagrams for 2 RTTs.
		c.stats.Slowdowns++
		c.phase = ledbatFreeze
		c.ssthresh = c.cwnd
		c.slowdownStart = now
		c.freezeEnd = now.Add(ledbatFreezeRTTs * c.srtt)
		c.nextSlowdown = 0
	}
	switch c.phase {
	case ledbatFreeze:
		if now.Before(c.freezeEnd) {
			c.cwnd = c.limits.clamp(ledbatFreezePackets * mss)
			return
		}
		c.phase = ledbatRamp
		fallthrough
	case ledbatRamp:
		if !c.limits.cwndLimited(priorInFlight, c.cwnd, true) {
			return
		}
		c.cwnd = c.limits.clamp(math.Min(c.cwnd+gain*acked, c.ssthresh))
		if c.cwnd >= c.ssthresh || qd > time.Duration(ledbatSlowStartExit*float64(c.target)) {
			// Back to the old window (or the queue is building): the
			// next slowdown comes after 9 slowdown durations.
			c.phase = ledbatCA
			c.ssthresh = c.cwnd
			c.nextSlowdown = now.Add(ledbatSlowdownInterval * now.Sub(c.slowdownStart))
		}
		return
	case ledbatSlowStart:
		if qd > time.Duration(ledbatSlowStartExit*float64(c.target)) || c.cwnd >= c.ssthresh {
			c.exitSlowStart(now)
			break // this ACK is handled by congestion avoidance
		}
		if !c.limits.cwndLimited(priorInFlight, c.cwnd, true) {
			return
		}
		// Modified slow start (draft, "Modified slow start"): GAIN per
		// acked byte instead of 1.
		c.cwnd = c.limits.clamp(c.cwnd + gain*acked)
		if c.cwnd >= c.ssthresh {
			c.exitSlowStart(now)
		}
		return
	}
	// Congestion avoidance (draft, "Multiplicative decrease").
	if qd <= c.target {
		if !c.limits.cwndLimited(priorInFlight, c.cwnd, false) {
			return // RFC 9002 section 7.8: an unused window does not grow
		}
		// W += GAIN per RTT (draft, "Reduced congestion window gain"):
		// GAIN*MSS*acked/cwnd bytes per ACK.
		c.cwnd = c.limits.clamp(c.cwnd + gain*mss*acked/c.cwnd)
		return
	}
	// Above target: W += max(GAIN - C*W*(delay/target - 1), -W/2) per
	// RTT, spread over the ACKs of that RTT (the -W/2 cap becomes -acked/2).
	c.stats.DelayDecreases++
	over := float64(qd)/float64(c.target) - 1
	delta := (gain*mss - ledbatDecreaseConstant*c.cwnd*over) * acked / c.cwnd
	c.cwnd = c.limits.clamp(c.cwnd + math.Max(delta, -acked/2))
}

// exitSlowStart moves from the initial slow start to congestion avoidance
// and schedules the first slowdown 2 RTTs later (draft, "Periodic slowdown").
func (c *LEDBAT) exitSlowStart(now monotime.Time) {
	c.phase = ledbatCA
	c.ssthresh = c.cwnd
	c.nextSlowdown = now.Add(ledbatFirstSlowdownRTTs * c.srtt)
}

// addSample feeds one RTT sample to the current-delay filter and the
// base-delay history (RFC 6817 section 2.5: one minimum per minute,
// BASE_HISTORY minutes).
func (c *LEDBAT) addSample(now monotime.Time, sample time.Duration) {
	if sample <= 0 {
		return
	}
	c.current[c.currentI] = sample
	c.currentI = (c.currentI + 1) % ledbatCurrentFilter
	c.currentN = min(c.currentN+1, ledbatCurrentFilter)

	switch {
	case c.baseN == 0:
		c.baseN, c.baseI, c.baseRolled = 1, 0, now
		c.base[0] = sample
	case now.Sub(c.baseRolled) >= ledbatBaseInterval:
		c.baseI = (c.baseI + 1) % ledbatBaseHistory
		c.baseN = min(c.baseN+1, ledbatBaseHistory)
		c.base[c.baseI] = sample
		c.baseRolled = now
	default:
		c.base[c.baseI] = min(c.base[c.baseI], sample)
	}
}

// OnCongestionEvent implements Controller: on loss LEDBAT++ halves its
// window like TCP (RFC 6817 section 2.4.2), at most once per recovery
// period, and leaves slow start (or a slowdown's ramp) for good.
func (c *LEDBAT) OnCongestionEvent(now, sentTime monotime.Time, _, _ uint64) {
	if c.recovery.contains(sentTime) {
		c.stats.IgnoredLosses++
		return
	}
	c.stats.CongestionEvents++
	c.recovery.begin(now)
	wasSlowStart := c.phase == ledbatSlowStart
	if c.phase == ledbatFreeze || c.phase == ledbatRamp {
		// Halve the window the slowdown is returning to, not the frozen one.
		c.cwnd = math.Max(c.cwnd, c.ssthresh)
		c.nextSlowdown = now.Add(ledbatSlowdownInterval * now.Sub(c.slowdownStart))
	}
	c.cwnd = c.limits.clamp(c.cwnd / 2)
	c.ssthresh = c.cwnd
	c.phase = ledbatCA
	if wasSlowStart {
		c.nextSlowdown = now.Add(ledbatFirstSlowdownRTTs * c.srtt)
	}
	c.publish(c.cwnd, c.srtt)
}

// OnRetransmissionTimeout implements Controller: the window collapses to
// MinWindow and the controller slow-starts again (RFC 6817 section 2.4.2
// follows TCP's RFC 5681 on timeouts), with a new recovery period so that
// late losses of the collapsed flight do not reduce it again. ssthresh is
// halved only if no loss episode is open: a timeout that follows the loss
// or timeout which began the current episode, with no packet sent since
// acknowledged, keeps the ssthresh already reduced for it (see recovery).
func (c *LEDBAT) OnRetransmissionTimeout(now monotime.Time) {
	c.stats.Timeouts++
	if !c.recovery.open {
		c.ssthresh = c.limits.clamp(c.cwnd / 2)
	}
	c.cwnd = float64(c.limits.min)
	c.phase = ledbatSlowStart
	c.nextSlowdown = 0
	c.recovery.begin(now)
	c.publish(c.cwnd, c.srtt)
}

// minOf returns the smallest value of s, 0 if empty.
func minOf(s []time.Duration) time.Duration {
	if len(s) == 0 {
		return 0
	}
	m := s[0]
	for _, v := range s[1:] {
		m = min(m, v)
	}
	return m
}

// SetMaxDatagramSize implements Controller: the window stays in bytes, the
// bounds derived from the size follow it.
func (c *LEDBAT) SetMaxDatagramSize(size uint64) {
	if !c.limits.resize(size, &c.cwnd, &c.ssthresh) {
		return
	}
	c.publish(c.cwnd, c.srtt)
}
