package netem

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrConfig is returned (wrapped) by New and NewPipe for an invalid Config.
var ErrConfig = errors.New("netem: invalid config")

// MinQueueBytes is the floor of the default bottleneck queue (Config.QueueBytes
// zero with Rate set). The bandwidth-delay product is the model; this floor
// keeps a link with little or no Delay from dropping every short burst: 64 KiB
// holds 54 datagrams of petrel's 1200-byte default.
const MinQueueBytes = 64 << 10

// MaxDelay bounds Config.Delay. A one-way delay beyond an hour is a unit
// mistake, and keeping delays small keeps every time sum far from int64
// overflow.
const MaxDelay = time.Hour

// Config is the impairment of one direction of a link. The zero Config is
// valid and impairs nothing: every datagram arrives once, intact, at the
// instant it was offered. Each field's zero value means "no impairment".
//
// Probabilities are per datagram and must be in [0, 1].
type Config struct {
	// Loss is the probability that a datagram is lost on the path,
	// independently of every other datagram (a Bernoulli process; netem's
	// "loss random"). Zero means no independent loss. At most one of Loss
	// and Burst may be set.
	Loss float64

	// Burst is bursty loss by a Gilbert-Elliott chain; the zero value means
	// no bursty loss. At most one of Loss and Burst may be set.
	Burst GilbertElliott

	// Delay is the one-way propagation delay added after the bottleneck.
	// Zero means none. Must be in [0, MaxDelay].
	Delay time.Duration

	// Jitter spreads the delay of each copy uniformly over
	// [Delay-Jitter, Delay+Jitter], in whole nanoseconds, which is netem's
	// distribution when no table is given (tabledist in sch_netem.c). Zero
	// means a constant delay. Must be in [0, Delay]: a delay cannot be
	// negative, and clamping at zero would pile probability on one point.
	Jitter time.Duration

	// JitterReorders lets jitter reorder datagrams, as netem does. False
	// (the default) keeps order: a copy is held back to the arrival time of
	// the copy before it if its own draw would overtake it. The default is
	// order because on a real path the variation of one-way delay is queueing
	// in FIFO routers, which cannot reorder; reordering comes from parallel
	// paths and link bundling, which Reorder models explicitly. A simulation
	// that wants jitter to reorder says so. Holding back skews the delay
	// distribution upward, but never past Delay+Jitter.
	JitterReorders bool

	// Reorder is the probability that a copy skips the propagation delay
	// and arrives as soon as it leaves the bottleneck, overtaking the copies
	// still in flight: netem's "reorder", which sends some packets without
	// delay. Zero means no reordering. Needs Delay > 0, since with no delay
	// there is nothing to overtake.
	Reorder float64

	// Duplicate is the probability that a datagram that survived loss and
	// the bottleneck arrives twice. The second copy is made downstream of
	// the bottleneck, so it costs no capacity or queue space, and it gets
	// its own delay, reorder and corruption draws. (netem re-enqueues the
	// copy at the root qdisc and lets loss remove one of the two; here loss
	// comes first and removes the datagram.) Zero means no duplication.
	Duplicate float64

	// Corrupt is the probability that one bit of a copy is flipped; the
	// bit is chosen uniformly over the copy's size*8 bits (netem flips one
	// random bit of one random byte). An empty datagram is never corrupted.
	// Zero means no corruption.
	Corrupt float64

	// Rate is the bottleneck's capacity in bytes per second (of datagram
	// payload: add per-datagram overhead to size if it should count). Each
	// datagram is serialized in turn, as on a real link: it leaves at
	// max(now, busyUntil) + size/Rate. Zero means unlimited: no bottleneck,
	// no queue. Must not be negative.
	Rate int64

	// QueueBytes bounds the bytes waiting to be serialized at the
	// bottleneck; a datagram that would make them exceed it is dropped
	// (tail drop, as a bfifo). A datagram larger than QueueBytes is always
	// dropped. Zero with Rate set means the bandwidth-delay product for a
	// round trip of 2*Delay (the rule of thumb of Villamizar and Song, 1994,
	// assuming the reverse direction has the same delay), and at least
	// MinQueueBytes. Must be zero when Rate is zero; must not be negative.
	QueueBytes int

	// Seed seeds the one generator every random decision is drawn from.
	// Zero is a seed like any other, so an unseeded Config is still
	// deterministic.
	Seed uint64
}

// GilbertElliott is a two-state Markov chain of path loss (Gilbert 1960,
// Elliott 1963; netem's "loss gemodel p r 1-h 1-k"). The chain starts in
// the good state. For each datagram offered, the datagram is lost with the
// loss probability of the current state, then the chain moves: good to bad
// with probability P, bad to good with probability R.
//
// Stationary state: pi_bad = P/(P+R), pi_good = R/(P+R), so the long-run
// loss rate is pi_good*LossGood + pi_bad*LossBad. Time in the bad state is
// geometric with mean 1/R datagrams; in the Gilbert model (LossGood 0,
// LossBad 1) every bad-state datagram is lost and no other, so the mean
// loss burst is exactly 1/R and the loss rate P/(P+R). (See Hasslinger and
// Hohlfeld, "The Gilbert-Elliott Model for Packet Loss in Real Time Services
// on the Internet", MMB 2008.)
//
// The zero value means no bursty loss.
type GilbertElliott struct {
	// P is the probability of moving from the good to the bad state after
	// a datagram. Must be in (0, 1] when any other field is set: with P
	// zero the chain never leaves the good state (use Config.Loss).
	P float64
	// R is the probability of moving from the bad to the good state after
	// a datagram; the mean stay in the bad state is 1/R datagrams. Must be
	// in (0, 1] when P is set: with R zero the bad state is absorbing.
	R float64
	// LossGood is the loss probability in the good state (netem's 1-k).
	// Zero means no loss in the good state.
	LossGood float64
	// LossBad is the loss probability in the bad state (netem's 1-h). Zero
	// means 1, netem's default: every datagram in the bad state is lost.
	LossBad float64
}

// active reports whether g is set.
func (g GilbertElliott) active() bool { return g != GilbertElliott{} }

// lossBad returns LossBad with its zero default applied.
func (g GilbertElliott) lossBad() float64 {
	if g.LossBad == 0 {
		return 1
	}
	return g.LossBad
}

// StationaryLoss returns the long-run loss rate of the chain (see the type's
// comment), with LossBad's default applied; 0 for the zero value.
func (g GilbertElliott) StationaryLoss() float64 {
	if !g.active() || g.P == 0 {
		return 0
	}
	bad := g.P / (g.P + g.R)
	return (1-bad)*g.LossGood + bad*g.lossBad()
}

// validate returns an error wrapping ErrConfig naming the first bad field.
func (c *Config) validate() error {
	probs := []struct {
		name string
		p    float64
	}{
		{"Loss", c.Loss},
		{"Burst.P", c.Burst.P},
		{"Burst.R", c.Burst.R},
		{"Burst.LossGood", c.Burst.LossGood},
		{"Burst.LossBad", c.Burst.LossBad},
		{"Reorder", c.Reorder},
		{"Duplicate", c.Duplicate},
		{"Corrupt", c.Corrupt},
	}
	for _, p := range probs {
		// The negated form also rejects NaN.
		if !(p.p >= 0 && p.p <= 1) {
			return fmt.Errorf("%w: %s = %v is not a probability in [0, 1]", ErrConfig, p.name, p.p)
		}
	}
	if c.Burst.active() {
		if c.Loss != 0 {
			return fmt.Errorf("%w: Loss and Burst are both set; choose independent or bursty loss", ErrConfig)
		}
		if c.Burst.P == 0 {
			return fmt.Errorf("%w: Burst.P is zero, so the chain never leaves the good state; use Loss for independent loss", ErrConfig)
		}
		if c.Burst.R == 0 {
			return fmt.Errorf("%w: Burst.R is zero, so the bad state is absorbing", ErrConfig)
		}
	}
	if c.Delay < 0 || c.Delay > MaxDelay {
		return fmt.Errorf("%w: Delay %v not in [0, %v]", ErrConfig, c.Delay, MaxDelay)
	}
	if c.Jitter < 0 || c.Jitter > c.Delay {
		return fmt.Errorf("%w: Jitter %v not in [0, Delay=%v]: a one-way delay cannot be negative", ErrConfig, c.Jitter, c.Delay)
	}
	if c.Reorder > 0 && c.Delay == 0 {
		return fmt.Errorf("%w: Reorder needs Delay > 0: a reordered datagram skips the delay to overtake those in flight", ErrConfig)
	}
	if c.Rate < 0 {
		return fmt.Errorf("%w: negative Rate %d", ErrConfig, c.Rate)
	}
	if c.QueueBytes < 0 {
		return fmt.Errorf("%w: negative QueueBytes %d", ErrConfig, c.QueueBytes)
	}
	if c.QueueBytes > 0 && c.Rate == 0 {
		return fmt.Errorf("%w: QueueBytes %d without Rate: an unlimited link never queues", ErrConfig, c.QueueBytes)
	}
	return nil
}

// queueLimit returns the bottleneck queue bound in bytes, QueueBytes with
// its default applied (see Config.QueueBytes). Only meaningful with Rate set.
func (c *Config) queueLimit() int64 {
	if c.QueueBytes > 0 {
		return int64(c.QueueBytes)
	}
	bdp := mulDivFloor(uint64(c.Rate), uint64(2*c.Delay), uint64(time.Second))
	return int64(min(max(bdp, MinQueueBytes), math.MaxInt64))
}
