package congestion

import (
	"fmt"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// fixedRateWindowRTTs sizes FixedRate's default window: two bandwidth-delay
// products (Rate * smoothed RTT), so a sender pacing at Rate is never held
// back by the window while ACKs are a round trip away, yet the flight stays
// bounded if ACKs stop.
const fixedRateWindowRTTs = 2

// FixedRateConfig configures NewFixedRate. Rate is required.
type FixedRateConfig struct {
	// Rate is the pacing rate in bytes per second: the known capacity of
	// the link. Required (no default).
	Rate uint64
	// Window is the congestion window in bytes outside a loss pause.
	// Zero: 2 * Rate * smoothed RTT, recomputed on every ACK, within
	// [MinWindow, MaxWindow].
	Window uint64
	// LossMargin is the room, in bytes, a loss pause leaves above the
	// flight at the loss, for retransmissions and probes.
	// Zero: 2*MaxDatagramSize.
	LossMargin uint64
	// MaxDatagramSize in bytes. Zero: DefaultMaxDatagramSize (1200).
	MaxDatagramSize uint64
	// MinWindow in bytes. Zero: 2*MaxDatagramSize (RFC 9002 section 7.2).
	MinWindow uint64
	// MaxWindow in bytes. Zero: 10000*MaxDatagramSize, or Window if larger.
	MaxWindow uint64
}

// FixedRate is a controller for links of known capacity: it paces at a
// fixed rate and does not probe. On a loss it pauses: the window becomes
// the flight at the loss plus a margin, so nothing new is sent beyond what
// the margin allows until the next ACK clears the pause. One pause per
// recovery period (RFC 9002 section 7.3.2): losses of packets sent at or
// before the pause began do not pause again.
//
// Concurrency: see Controller. Window and PacingRate are safe for
// concurrent use; the On* methods belong to the connection's event loop.
//
// Guard map: published is atomic; limits (SetMaxDatagramSize changes them)
// belong to the event loop; pace, fixedWindow and margin are
// immutable after NewFixedRate; everything else is owned by the event loop.
type FixedRate struct {
	published

	limits      windowLimits
	pace        uint64 // bytes/s
	fixedWindow uint64 // 0: derived from the RTT
	margin      uint64

	normal   float64 // window outside a pause, bytes
	paused   bool
	pauseWin float64 // window during the pause, bytes
	recovery recovery

	stats FixedRateStats
}

// FixedRateStats counts what a FixedRate did.
type FixedRateStats struct {
	Pauses        uint64 // loss pauses begun (timeouts included)
	IgnoredLosses uint64 // losses inside a recovery period
	Timeouts      uint64 // OnRetransmissionTimeout calls
}

var _ Controller = (*FixedRate)(nil)

// NewFixedRate returns a FixedRate controller.
func NewFixedRate(cfg FixedRateConfig) (*FixedRate, error) {
	if cfg.Rate == 0 {
		return nil, fmt.Errorf("%w: FixedRate needs a Rate", ErrInvalidConfig)
	}
	maxW := cfg.MaxWindow
	if maxW == 0 && cfg.Window > 0 {
		mss := cfg.MaxDatagramSize
		if mss == 0 {
			mss = DefaultMaxDatagramSize
		}
		maxW = max(cfg.Window, defaultMaxWindowPackets*mss)
	}
	l, err := newWindowLimitsAuto(cfg.MaxDatagramSize, 0, 0, cfg.MinWindow, maxW)
	if err != nil {
		return nil, err
	}
	if cfg.Window != 0 && (cfg.Window < l.min || cfg.Window > l.max) {
		return nil, fmt.Errorf("%w: FixedRate Window %d outside [%d, %d]", ErrInvalidConfig, cfg.Window, l.min, l.max)
	}
	if cfg.LossMargin == 0 {
		cfg.LossMargin = 2 * l.mss
	}
	c := &FixedRate{
		limits:      l,
		pace:        cfg.Rate,
		fixedWindow: cfg.Window,
		margin:      cfg.LossMargin,
	}
	c.normal = c.windowFor(InitialRTT)
	c.publishFixed()
	return c, nil
}

// windowFor returns the window outside a pause for smoothed RTT srtt.
func (c *FixedRate) windowFor(srtt time.Duration) float64 {
	if c.fixedWindow != 0 {
		return float64(c.fixedWindow)
	}
	return c.limits.clamp(fixedRateWindowRTTs * float64(c.pace) * srtt.Seconds())
}

// publishFixed stores the current window and the fixed rate.
func (c *FixedRate) publishFixed() {
	w := c.normal
	if c.paused {
		w = c.pauseWin
	}
	c.window.Store(uint64(w))
	c.rate.Store(c.pace)
}

// Paused reports whether a loss pause is in force.
func (c *FixedRate) Paused() bool { return c.paused }

// Stats returns the counters.
func (c *FixedRate) Stats() FixedRateStats { return c.stats }

// OnPacketSent implements Controller; FixedRate needs nothing from it.
func (c *FixedRate) OnPacketSent(monotime.Time, uint64, uint64) {}

// OnAck implements Controller: the next ACK of new data clears a pause;
// the window follows the RTT (unless fixed by the Config). An ACK processed
// at the instant the pause began is the frame that revealed the loss (RFC
// 9002 Appendix A.7 reports its losses, then its acknowledged packets, with
// one now), not the next one, so it leaves the pause in force.
func (c *FixedRate) OnAck(now, _ monotime.Time, ackedBytes, _ uint64, rtt *RTT) {
	if ackedBytes == 0 {
		return
	}
	if now.After(c.recovery.start) {
		c.paused = false
	}
	c.normal = c.windowFor(rtt.SmoothedRTT())
	c.publishFixed()
}

// OnCongestionEvent implements Controller: pause with the window at
// priorInFlight + LossMargin, once per recovery period.
func (c *FixedRate) OnCongestionEvent(now, sentTime monotime.Time, _, priorInFlight uint64) {
	if c.recovery.contains(sentTime) {
		c.stats.IgnoredLosses++
		return
	}
	c.stats.Pauses++
	c.recovery.begin(now)
	c.pause(float64(priorInFlight) + float64(c.margin))
}

// OnRetransmissionTimeout implements Controller: pause at MinWindow until
// an ACK shows the path alive, in a new recovery period.
func (c *FixedRate) OnRetransmissionTimeout(now monotime.Time) {
	c.stats.Timeouts++
	c.stats.Pauses++
	c.recovery.begin(now)
	c.pause(float64(c.limits.min))
}

func (c *FixedRate) pause(w float64) {
	c.paused = true
	c.pauseWin = c.limits.clamp(w)
	c.publishFixed()
}

// SetMaxDatagramSize implements Controller: the rate is fixed; the window
// bounds derived from the size follow it.
func (c *FixedRate) SetMaxDatagramSize(size uint64) {
	if !c.limits.setMSS(size) {
		return
	}
	if c.fixedWindow == 0 {
		c.normal = c.limits.clamp(c.normal)
	}
	c.pauseWin = c.limits.clamp(c.pauseWin)
	c.publishFixed()
}
