package congestion

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// Controller decides how many bytes one connection may have in flight
// (Window) and how fast it may send them (PacingRate), from the events the
// connection reports: packets sent, ACKs, losses and retransmission
// timeouts.
//
// Concurrency: Window and PacingRate are safe for concurrent use from any
// goroutine (a writer checks the window in FlightSize.Reserve, a pacer reads
// the rate): they load a value the controller publishes atomically at the
// end of every event. The On* methods are not safe for concurrent use: the
// connection's event loop owns the controller and calls them one at a time
// (a sender on another goroutine reports OnPacketSent through the same
// owner, or under the connection's lock). No method blocks, allocates or
// calls back into the caller.
//
// Times are the connection's monotime clock; sentTime arguments are the send
// times the tracker recorded for the packets concerned.
type Controller interface {
	// Window returns the congestion window in bytes, always within the
	// controller's [MinWindow, MaxWindow]. Whoever delivers an event that
	// grows it must call FlightSize.Notify afterwards so parked writers
	// re-check.
	Window

	// PacingRate returns the rate, in bytes per second (> 0), at which
	// packets should leave (RFC 9002 section 7.7); see Pacer.
	PacingRate() uint64

	// OnPacketSent reports a packet of the given size sent at now, with
	// priorInFlight bytes in flight before it (not counting it).
	OnPacketSent(now monotime.Time, bytes, priorInFlight uint64)

	// OnAck reports one ACK frame that newly acknowledged ackedBytes
	// (> 0; an ACK that acknowledges nothing new is not reported), with
	// priorInFlight bytes in flight before the ACK released any.
	// sentTime is the send time of the largest newly acknowledged packet;
	// rtt is the connection's estimator, already updated with this ACK's
	// sample if it produced one. The controller reads rtt and keeps no
	// reference to it.
	OnAck(now, sentTime monotime.Time, ackedBytes, priorInFlight uint64, rtt *RTT)

	// OnCongestionEvent reports lost packets (or an ECN-CE mark): sentTime
	// is the send time of the most recently sent packet among those lost,
	// lostBytes their size, priorInFlight the bytes in flight before the
	// loss was detected. A controller reduces its window at most once per
	// recovery period (RFC 9002 section 7.3.2): a loss of a packet sent at
	// or before the start of the current recovery period is ignored.
	OnCongestionEvent(now, sentTime monotime.Time, lostBytes, priorInFlight uint64)

	// OnRetransmissionTimeout reports that the loss detector has concluded
	// the path collapsed: persistent congestion (RFC 9002 section 7.6), the
	// QUIC counterpart of a TCP retransmission timeout (RFC 9438 section
	// 4.8). Call it once per such event, not per lost packet and not on a
	// mere probe timeout: a PTO sends probes but leaves the window alone
	// (RFC 9002 section 7.5; the backoff lives in RTT.OnTimeout). The
	// packets whose loss establishes persistent congestion may first be
	// reported to OnCongestionEvent, as RFC 9002 Appendix B.8 does: the
	// window collapses to MinWindow, and ssthresh is reduced once per loss
	// episode, not again by this call.
	OnRetransmissionTimeout(now monotime.Time)

	// SetMaxDatagramSize changes the datagram size (SMSS) the windows are
	// counted in, when path MTU discovery confirms a larger size or falls
	// back to a smaller one (RFC 9000 section 14.3, RFC 8899). Windows stay
	// in bytes; the bounds derived from the size follow it (MinWindow
	// 2*size and MaxWindow 10000*size unless configured, RFC 9002 section
	// 7.2), and so does a window still at its initial value or at the
	// minimum. A size of 0 or above 65536 is ignored.
	SetMaxDatagramSize(size uint64)
}

// RateSource is what a Pacer reads its rate from; every Controller is one.
type RateSource interface {
	// PacingRate returns bytes per second; safe for concurrent use.
	PacingRate() uint64
}

// DefaultMaxDatagramSize is the datagram size the windows are counted in
// when a Config leaves it zero: 1200 bytes, the smallest datagram every QUIC
// path must carry (RFC 9000 section 14) and petrel's default (no IP
// fragmentation).
const DefaultMaxDatagramSize = 1200

const (
	// minWindowPackets is kMinimumWindow in datagrams (RFC 9002 section 7.2).
	minWindowPackets = 2
	// defaultMaxWindowPackets bounds a window left unbounded by its Config:
	// 10000 datagrams (12 MB at 1200 bytes) covers 1 Gbit/s at 100 ms RTT;
	// quic-go uses the same bound (maxCongestionWindowPackets).
	defaultMaxWindowPackets = 10000
	// cwndLimitedSlack is the room, in datagrams, below which a sender still
	// counts as using its window (quic-go's maxBurstPackets, applying RFC
	// 9002 section 7.8 to a paced sender).
	cwndLimitedSlack = 3
)

// ErrInvalidConfig is returned (wrapped, with the reason) by the
// constructors for a Config they cannot honour.
var ErrInvalidConfig = errors.New("congestion: invalid config")

// windowLimits are the validated window bounds shared by every controller.
type windowLimits struct {
	mss, initial, min, max uint64
	// Which bounds were defaults derived from mss (they follow setMSS),
	// and the initial window in datagrams when it was given that way.
	autoMin, autoMax, autoInit bool
	initPackets                uint64
}

// newWindowLimits applies the zero-value defaults and validates: mss
// defaults to DefaultMaxDatagramSize; min to 2*mss (RFC 9002 section 7.2);
// initial to min(10*mss, max(14720, 2*mss)) (RFC 9002 section 7.2) brought
// within [min, max]; max to 10000*mss. Only an explicit initial outside
// [min, max] is an error.
func newWindowLimits(mss, initial, minW, maxW uint64) (windowLimits, error) {
	if mss == 0 {
		mss = DefaultMaxDatagramSize
	}
	if mss > 1<<16 {
		return windowLimits{}, fmt.Errorf("%w: MaxDatagramSize %d exceeds 65536", ErrInvalidConfig, mss)
	}
	if minW == 0 {
		minW = minWindowPackets * mss
	}
	if maxW == 0 {
		maxW = defaultMaxWindowPackets * mss
	}
	if initial == 0 && minW <= maxW {
		// The default must not make explicit, valid bounds fail.
		initial = min(max(min(10*mss, max(14720, 2*mss)), minW), maxW)
	}
	switch {
	case minW < mss:
		return windowLimits{}, fmt.Errorf("%w: MinWindow %d below one datagram (%d)", ErrInvalidConfig, minW, mss)
	case maxW < minW:
		return windowLimits{}, fmt.Errorf("%w: MaxWindow %d below MinWindow %d", ErrInvalidConfig, maxW, minW)
	case maxW > 1<<50:
		return windowLimits{}, fmt.Errorf("%w: MaxWindow %d above 2^50", ErrInvalidConfig, maxW)
	case initial < minW || initial > maxW:
		return windowLimits{}, fmt.Errorf("%w: InitialWindow %d outside [%d, %d]", ErrInvalidConfig, initial, minW, maxW)
	}
	return windowLimits{mss: mss, initial: initial, min: minW, max: maxW}, nil
}

// newWindowLimitsAuto is newWindowLimits that also remembers which bounds
// were defaults (zero) so that setMSS can rescale them, and takes the
// initial window in datagrams (initPackets, 0: not given that way).
func newWindowLimitsAuto(mss, initial, initPackets, minW, maxW uint64) (windowLimits, error) {
	if mss == 0 {
		mss = DefaultMaxDatagramSize
	}
	if initPackets > 0 && initial == 0 {
		initial = initPackets * mss
	}
	l, err := newWindowLimits(mss, initial, minW, maxW)
	if err != nil {
		return l, err
	}
	l.autoMin, l.autoMax = minW == 0, maxW == 0
	l.autoInit = initial == 0 || initPackets > 0
	l.initPackets = initPackets
	return l, nil
}

// setMSS counts the limits in datagrams of mss bytes from now on: the
// bounds that were defaults are derived again from it (RFC 9002 section
// 7.2: kMinimumWindow = 2*max_datagram_size, kInitialWindow =
// min(10*max_datagram_size, max(14720, 2*max_datagram_size)), or
// initPackets datagrams); explicit ones stay, the minimum raised to hold
// one datagram. It reports whether mss was valid and new.
func (l *windowLimits) setMSS(mss uint64) bool {
	if mss == 0 || mss > 1<<16 || mss == l.mss {
		return false
	}
	l.mss = mss
	if l.autoMin {
		l.min = minWindowPackets * mss
	}
	l.min = max(l.min, mss)
	if l.autoMax {
		l.max = defaultMaxWindowPackets * mss
	}
	l.max = max(l.max, l.min)
	if l.autoInit {
		if l.initPackets > 0 {
			l.initial = l.initPackets * mss
		} else {
			l.initial = min(10*mss, max(14720, 2*mss))
		}
	}
	l.initial = min(max(l.initial, l.min), l.max)
	return true
}

// rescale returns window w (bytes) under limits changed by setMSS from
// old: a window at the old initial value (nothing acknowledged grew it
// yet) or at the old minimum moves to the new one, any other is clamped.
func (l *windowLimits) rescale(old windowLimits, w float64) float64 {
	switch w {
	case float64(old.initial):
		return float64(l.initial)
	case float64(old.min):
		return float64(l.min)
	}
	return l.clamp(w)
}

// resize is setMSS for a window-based controller: the limits follow mss,
// the window cwnd is rescaled to them and a finite ssthresh clamped. It
// reports whether mss was valid and new (nothing changed otherwise).
func (l *windowLimits) resize(mss uint64, cwnd, ssthresh *float64) bool {
	old := *l
	if !l.setMSS(mss) {
		return false
	}
	*cwnd = l.rescale(old, *cwnd)
	if !math.IsInf(*ssthresh, 1) {
		*ssthresh = l.clamp(*ssthresh)
	}
	return true
}

// clamp bounds w to [min, max]; NaN becomes min.
func (l *windowLimits) clamp(w float64) float64 {
	if !(w >= float64(l.min)) { // also catches NaN
		return float64(l.min)
	}
	return math.Min(w, float64(l.max))
}

// cwndLimited reports whether the sender used its window, so that an ACK may
// grow it (RFC 9002 section 7.8: an underused window SHOULD NOT grow). A
// paced sender is counted as limited when less than cwndLimitedSlack
// datagrams of room were left, and in slow start when more than half the
// window was in flight (it would have filled a window doubled by this round).
func (l *windowLimits) cwndLimited(priorInFlight uint64, cwnd float64, slowStart bool) bool {
	inflight := float64(priorInFlight)
	if inflight >= cwnd {
		return true
	}
	if slowStart && inflight > cwnd/2 {
		return true
	}
	return cwnd-inflight <= float64(cwndLimitedSlack*l.mss)
}

// recovery is the recovery-period bookkeeping of RFC 9002 section 7.3.2
// (Appendix B.5, InCongestionRecovery): a period starts at a congestion
// event, and packets sent at or before its start belong to it, so their
// losses do not reduce the window again and their ACKs do not grow it.
//
// open tells whether the loss episode that began at start is still going
// on: set when a reduction starts a period, cleared by the first ACK of a
// packet sent after start (RFC 9002 Appendix B.5: recovery ends when such a
// packet is acknowledged). A retransmission timeout while it is open is the
// same episode, so it must not cut ssthresh a second time (RFC 9002
// Appendix B.8 collapses only the window on persistent congestion; RFC 5681
// section 3.1 reduces ssthresh once per segment lost).
type recovery struct {
	start monotime.Time // zero: never in recovery
	open  bool
}

// begin starts a recovery period at now, for a reduction made now.
func (r *recovery) begin(now monotime.Time) {
	r.start = now
	r.open = true
}

// acked notes the ACK of a packet sent at sent; it ends the loss episode if
// the packet was sent after the period began.
func (r *recovery) acked(sent monotime.Time) {
	if !r.contains(sent) {
		r.open = false
	}
}

// contains reports whether a packet sent at sent belongs to the current
// recovery period.
func (r *recovery) contains(sent monotime.Time) bool {
	return !r.start.IsZero() && !sent.After(r.start)
}

// published holds what a controller exports to other goroutines; each
// event ends by storing fresh values.
//
// Guard map: both fields atomic; written only by the controller's owner.
type published struct {
	window atomic.Uint64 // bytes
	rate   atomic.Uint64 // bytes per second
}

// Window returns the congestion window in bytes; safe for concurrent use.
func (p *published) Window() uint64 { return p.window.Load() }

// PacingRate returns the pacing rate in bytes/s; safe for concurrent use.
func (p *published) PacingRate() uint64 { return p.rate.Load() }

// pacingGain is N of RFC 9002 section 7.7 (rate = N * cwnd / smoothed_rtt):
// N = 1.25 keeps a paced sender from underusing its window.
const pacingGain = 1.25

// publish stores cwnd and the RFC 9002 section 7.7 rate derived from it.
func (p *published) publish(cwnd float64, srtt time.Duration) {
	w := uint64(cwnd)
	p.window.Store(w)
	p.rate.Store(rateFor(w, pacingGain, srtt))
}

// rateFor returns gain*bytes per rtt as bytes per second, at least 1.
// A non-positive rtt (an estimator that was never initialised) counts as
// InitialRTT.
func rateFor(bytes uint64, gain float64, rtt time.Duration) uint64 {
	if rtt <= 0 {
		rtt = InitialRTT
	}
	if rtt < time.Microsecond {
		rtt = time.Microsecond // loopback-scale floor; keeps the rate finite
	}
	r := gain * float64(bytes) * float64(time.Second) / float64(rtt)
	switch {
	case r >= math.MaxUint64:
		return math.MaxUint64
	case r < 1:
		return 1
	}
	return uint64(r)
}
