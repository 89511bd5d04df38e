package congestion

import (
	"math"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// CUBIC (RFC 9438), counted in bytes. After a congestion event the window
// follows W_cubic(t) = C*(t-K)^3 + W_max (section 4.2): concave up to the
// window of the last loss, a plateau, then convex probing beyond it, with a
// Reno-friendly floor W_est (section 4.3). Slow start uses HyStart++
// (RFC 9406, hystart.go).
const (
	// cubicBeta is β_cubic, the multiplicative decrease factor (RFC 9438
	// section 4.6).
	cubicBeta = 0.7
	// cubicC is C, the aggressiveness constant in datagrams/s^3 (RFC 9438
	// sections 4.1.1 and 5.1).
	cubicC = 0.4
	// cubicAlpha is α_cubic = 3(1-β)/(1+β), the Reno-friendly additive
	// increase per RTT in datagrams (RFC 9438 section 4.3).
	cubicAlpha = 3 * (1 - cubicBeta) / (1 + cubicBeta)
)

// CubicConfig configures NewCubic. The zero value is the default: CUBIC with
// HyStart++ and fast convergence on 1200-byte datagrams.
type CubicConfig struct {
	// MaxDatagramSize is the datagram size (SMSS) in bytes.
	// Zero: DefaultMaxDatagramSize (1200).
	MaxDatagramSize uint64
	// InitialWindow in bytes. Zero: min(10*MaxDatagramSize,
	// max(14720, 2*MaxDatagramSize)) (RFC 9002 section 7.2), brought
	// within [MinWindow, MaxWindow].
	InitialWindow uint64
	// InitialWindowPackets, when InitialWindow is zero, sets the initial
	// window to this many datagrams, and keeps it so when the datagram
	// size changes (SetMaxDatagramSize). Zero: the RFC 9002 formula above.
	InitialWindowPackets uint64
	// MinWindow in bytes, the floor after any reduction.
	// Zero: 2*MaxDatagramSize (RFC 9002 section 7.2).
	MinWindow uint64
	// MaxWindow in bytes. Zero: 10000*MaxDatagramSize.
	MaxWindow uint64
	// DisableHyStart turns HyStart++ off: slow start then ends only at a
	// loss. Zero (false): HyStart++ on (RFC 9406).
	DisableHyStart bool
	// DisableFastConvergence turns off the fast convergence of RFC 9438
	// section 4.7. Zero (false): on.
	DisableFastConvergence bool
}

// Cubic is the CUBIC congestion controller (RFC 9438) with HyStart++ slow
// start (RFC 9406), petrel's default Controller.
//
// Concurrency: see Controller. Window and PacingRate are safe for
// concurrent use; the On* methods belong to the connection's event loop.
//
// Guard map: published is atomic; the Disable* switches are immutable after
// NewCubic; everything else (limits included: SetMaxDatagramSize) is owned
// by the event loop.
type Cubic struct {
	published

	limits          windowLimits
	fastConvergence bool

	cwnd       float64 // bytes, within [limits.min, limits.max]
	ssthresh   float64 // bytes; +Inf until the first congestion event
	recovery   recovery
	wMax       float64       // bytes; 0: unset (no loss yet, or reset by a timeout)
	cwndPrior  float64       // cwnd before the last reduction (RFC 9438 section 4.6)
	k          float64       // seconds (RFC 9438 section 4.2, Figure 2)
	epochStart monotime.Time // start of this congestion avoidance stage; zero: not started
	wEst       float64       // Reno-friendly estimate, bytes (RFC 9438 section 4.3)
	accounted  monotime.Time // time up to which the epoch's elapsed time was judged (app-limited shifts)
	srtt       time.Duration // smoothed RTT at the last ACK, for the pacing rate
	hs         hystart
	hsEnabled  bool

	stats CubicStats
}

// CubicStats counts what a Cubic did, for tests and diagnostics.
type CubicStats struct {
	CongestionEvents  uint64 // window reductions
	IgnoredLosses     uint64 // losses inside a recovery period (no reduction)
	Timeouts          uint64 // OnRetransmissionTimeout calls
	HyStartCSSEntries uint64 // times HyStart++ entered CSS
	HyStartExits      uint64 // times HyStart++ ended slow start without loss
}

var _ Controller = (*Cubic)(nil)

// NewCubic returns a CUBIC controller in slow start at the initial window.
func NewCubic(cfg CubicConfig) (*Cubic, error) {
	l, err := newWindowLimitsAuto(cfg.MaxDatagramSize, cfg.InitialWindow, cfg.InitialWindowPackets, cfg.MinWindow, cfg.MaxWindow)
	if err != nil {
		return nil, err
	}
	c := &Cubic{
		limits:          l,
		fastConvergence: !cfg.DisableFastConvergence,
		cwnd:            float64(l.initial),
		ssthresh:        math.Inf(1),
		srtt:            InitialRTT,
		hs:              newHystart(),
		hsEnabled:       !cfg.DisableHyStart,
	}
	c.publish(c.cwnd, c.srtt)
	return c, nil
}

// InSlowStart reports whether the window is below ssthresh (RFC 9002
// Appendix B.5), CSS included.
func (c *Cubic) InSlowStart() bool { return c.cwnd < c.ssthresh }

// InCSS reports whether HyStart++ has the sender in conservative slow start.
func (c *Cubic) InCSS() bool { return c.hsEnabled && c.InSlowStart() && c.hs.inCSS() }

// SlowStartThreshold returns ssthresh in bytes (math.MaxUint64 while unset).
func (c *Cubic) SlowStartThreshold() uint64 {
	if math.IsInf(c.ssthresh, 1) {
		return math.MaxUint64
	}
	return uint64(c.ssthresh)
}

// Stats returns the counters.
func (c *Cubic) Stats() CubicStats { return c.stats }

// OnPacketSent implements Controller. A send that ends an idle period moves
// the CUBIC epoch forward by the idle time (RFC 9438 section 5.8: t must not
// count time the window was not used; Linux tcp_cubic does the same on
// CA_EVENT_TX_START).
func (c *Cubic) OnPacketSent(now monotime.Time, _, priorInFlight uint64) {
	c.hs.onPacketSent(now)
	if priorInFlight == 0 && !c.epochStart.IsZero() && now.After(c.accounted) {
		c.epochStart = c.epochStart.Add(now.Sub(c.accounted))
		c.accounted = now
	}
}

// OnAck implements Controller: slow start (with HyStart++) below ssthresh,
// the CUBIC curve above it; no growth inside a recovery period (RFC 9002
// section 7.3.2) or when the window was not used (RFC 9002 section 7.8).
func (c *Cubic) OnAck(now, sentTime monotime.Time, ackedBytes, priorInFlight uint64, rtt *RTT) {
	if ackedBytes == 0 {
		return
	}
	c.srtt = rtt.SmoothedRTT()
	c.onAck(now, sentTime, ackedBytes, priorInFlight, rtt)
	c.publish(c.cwnd, c.srtt)
}

// onAck is OnAck without the publication of the result.
func (c *Cubic) onAck(now, sentTime monotime.Time, ackedBytes, priorInFlight uint64, rtt *RTT) {
	if c.recovery.contains(sentTime) {
		c.accounted = now
		return
	}
	c.recovery.acked(sentTime)
	slowStart := c.InSlowStart()
	if slowStart && c.hsEnabled {
		switch c.hs.onAck(sentTime, rtt) {
		case hsEnterCSS:
			c.stats.HyStartCSSEntries++
		case hsExitToCA:
			// RFC 9406 section 4.2: enter congestion avoidance by setting
			// ssthresh to cwnd; RFC 9438 section 4.10 starts the epoch
			// there with W_max = cwnd and K = 0.
			c.stats.HyStartExits++
			c.ssthresh = c.cwnd
			c.wMax = 0
			c.cwndPrior = c.cwnd
			c.epochStart = 0
			slowStart = false
		}
	}
	if !c.limits.cwndLimited(priorInFlight, c.cwnd, slowStart) {
		// Application-limited: no growth, and the epoch clock stops
		// (RFC 9438 section 5.8).
		if !c.epochStart.IsZero() && now.After(c.accounted) {
			c.epochStart = c.epochStart.Add(now.Sub(c.accounted))
		}
		c.accounted = now
		return
	}
	c.accounted = now
	if slowStart {
		inc := float64(ackedBytes)
		if c.hsEnabled && c.hs.inCSS() {
			inc /= hsCSSGrowthDivisor // RFC 9406 section 4.2
		}
		// Slow start stops at ssthresh (RFC 5681 section 3.1); the curve
		// takes over from the next ACK.
		c.cwnd = c.limits.clamp(math.Min(c.cwnd+inc, c.ssthresh))
		return
	}
	c.congestionAvoidance(now, float64(ackedBytes), c.srtt)
}

// congestionAvoidance grows cwnd for ackedBytes per RFC 9438 sections
// 4.2-4.5.
func (c *Cubic) congestionAvoidance(now monotime.Time, acked float64, srtt time.Duration) {
	if c.epochStart.IsZero() {
		c.startEpoch(now)
	}
	mss := float64(c.limits.mss)
	t := now.Sub(c.epochStart).Seconds()

	// Reno-friendly estimate (section 4.3): α_cubic per RTT until W_est
	// reaches the window of the last reduction, then Reno's 1.
	alpha := cubicAlpha
	if c.wEst >= c.cwndPrior {
		alpha = 1
	}
	c.wEst = math.Min(c.wEst+alpha*mss*acked/c.cwnd, float64(c.limits.max))

	if c.wCubic(t) < c.wEst {
		c.cwnd = c.limits.clamp(c.wEst) // Reno-friendly region
		return
	}
	// Concave and convex regions (sections 4.4, 4.5): aim at W_cubic one
	// RTT ahead, bounded to [cwnd, 1.5*cwnd].
	target := c.wCubic(t + srtt.Seconds())
	target = math.Max(c.cwnd, math.Min(target, 1.5*c.cwnd))
	c.cwnd = c.limits.clamp(c.cwnd + (target-c.cwnd)*acked/c.cwnd)
}

// startEpoch begins a congestion avoidance stage (RFC 9438 section 4.2).
// With no W_max (no loss yet, after HyStart++, or after a timeout) W_max is
// the current window and K = 0 (sections 4.8, 4.10).
func (c *Cubic) startEpoch(now monotime.Time) {
	c.epochStart = now
	c.accounted = now
	if c.wMax <= c.cwnd {
		c.wMax = c.cwnd
		c.k = 0
	} else {
		c.k = cubicK(c.wMax, c.cwnd, float64(c.limits.mss))
	}
	c.wEst = c.cwnd
	if c.cwndPrior == 0 {
		c.cwndPrior = c.cwnd
	}
}

// cubicK is K = cubic_root((W_max - cwnd_epoch)/C) in seconds, windows in
// bytes converted to datagrams (RFC 9438 section 4.2, Figure 2).
func cubicK(wMax, cwndEpoch, mss float64) float64 {
	return math.Cbrt((wMax - cwndEpoch) / mss / cubicC)
}

// wCubic is W_cubic(t) = C*(t-K)^3 + W_max in bytes (RFC 9438 section 4.2,
// Figure 1), t in seconds since the epoch.
func (c *Cubic) wCubic(t float64) float64 {
	d := t - c.k
	return cubicC*d*d*d*float64(c.limits.mss) + c.wMax
}

// OnCongestionEvent implements Controller: once per recovery period, W_max
// with fast convergence (RFC 9438 section 4.7), then ssthresh = cwnd =
// β_cubic*cwnd (section 4.6) and a new recovery period.
func (c *Cubic) OnCongestionEvent(now, sentTime monotime.Time, _, _ uint64) {
	if c.recovery.contains(sentTime) {
		c.stats.IgnoredLosses++
		return
	}
	c.stats.CongestionEvents++
	c.recovery.begin(now)
	c.hs.exit()
	if c.fastConvergence && c.cwnd < c.wMax {
		c.wMax = c.cwnd * (1 + cubicBeta) / 2
	} else {
		c.wMax = c.cwnd
	}
	c.cwndPrior = c.cwnd
	// RFC 9438 section 4.6 allows cwnd in place of flight_size; QUIC
	// reduces the window itself (RFC 9002 section 7.3.2).
	c.ssthresh = c.limits.clamp(c.cwnd * cubicBeta)
	c.cwnd = c.ssthresh
	c.epochStart = 0
	c.publish(c.cwnd, c.srtt)
}

// OnRetransmissionTimeout implements Controller (RFC 9438 section 4.8):
// ssthresh = β_cubic*cwnd, cwnd = MinWindow (RFC 9002 section 7.6.2), and
// the next congestion avoidance stage starts with W_max = its window, K = 0.
// If the loss episode that a congestion event or an earlier timeout began
// is still open (no packet sent since it began has been acknowledged), this
// timeout belongs to it and ssthresh, already reduced for it, is kept: one
// reduction per episode (RFC 9002 Appendix B.8 reports the lost packets and
// then collapses only the window on persistent congestion).
// Packets sent before the timeout belong to a new recovery period, so their
// losses, reported later, do not cut ssthresh again (RFC 9002 Appendix B.8
// clears the recovery start instead; that would let each late loss of the
// collapsed flight shrink ssthresh to the minimum).
func (c *Cubic) OnRetransmissionTimeout(now monotime.Time) {
	c.stats.Timeouts++
	c.hs.exit()
	if !c.recovery.open {
		c.ssthresh = c.limits.clamp(c.cwnd * cubicBeta)
	}
	c.cwnd = float64(c.limits.min)
	c.cwndPrior = c.cwnd
	c.wMax = 0
	c.epochStart = 0
	c.recovery.begin(now)
	c.publish(c.cwnd, c.srtt)
}

// SetMaxDatagramSize implements Controller. CUBIC's constants are in
// datagrams (C in datagrams/s^3, α per RTT in datagrams, RFC 9438 section
// 4), so the curve's growth in bytes follows the size; W_max, the
// Reno-friendly estimate and the window itself stay in bytes (quic-go's
// cubicSender.SetMaxDatagramSize likewise keeps the window, raising only a
// window at the minimum). A window still at its initial value (nothing
// acknowledged yet) becomes the new initial window.
func (c *Cubic) SetMaxDatagramSize(size uint64) {
	if !c.limits.resize(size, &c.cwnd, &c.ssthresh) {
		return
	}
	if !c.epochStart.IsZero() && c.wMax > c.cwnd {
		// K is in seconds for a distance counted in datagrams.
		c.k = cubicK(c.wMax, c.cwnd, float64(c.limits.mss))
	}
	c.publish(c.cwnd, c.srtt)
}
