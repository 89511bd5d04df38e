package congestion

import (
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// defaultBurstPackets is the burst a pacer lets out at once: RFC 9002
// section 7.7 says senders SHOULD limit bursts to the initial congestion
// window, 10 datagrams (section 7.2).
const defaultBurstPackets = 10

// nsPerSecond scales bytes to the pacer's token unit.
const nsPerSecond = uint64(time.Second)

// PacerConfig configures NewPacer. The zero value is the default.
type PacerConfig struct {
	// MaxDatagramSize in bytes. Zero: DefaultMaxDatagramSize (1200).
	MaxDatagramSize uint64
	// BurstPackets is the bucket size in datagrams: how much may leave back
	// to back after a pause. Zero: 10, the initial window (RFC 9002
	// section 7.7).
	BurstPackets uint64
	// TimerGranularity is the resolution of the timer that wakes the
	// sender. The bucket also holds at least one granularity's worth of
	// bytes at the current rate, so a timer that fires late by up to one
	// tick loses no throughput. Zero: Granularity (1 ms, RFC 9002
	// section 6.1.2).
	TimerGranularity time.Duration
}

// Pacer spreads a connection's packets at its controller's pacing rate
// (RFC 9002 section 7.7) with a token bucket: tokens accrue at the rate up
// to a burst bound, and a packet may leave when the bucket holds its size.
// NextSendTime says when; OnPacketSent spends the tokens. Every packet goes
// through it, retransmissions and control packets included.
//
// Tokens are counted in bytes*1e9 so that rate (bytes/s) times elapsed
// nanoseconds adds exactly, without rounding drift.
//
// Concurrency: not safe for concurrent use; owned by the connection's send
// path (the event loop, or whoever holds the connection's send lock). The
// RateSource it reads is safe for concurrent use. It never allocates.
//
// Guard map: src, burstPackets, granularity immutable after NewPacer; mss
// (SetMaxDatagramSize), tokens and last owned by the send path.
type Pacer struct {
	src          RateSource
	mss          uint64
	burstPackets uint64
	granularity  time.Duration

	tokens uint64        // bytes*1e9 at last; <= maxTokens(rate)
	last   monotime.Time // when tokens was last brought up to date; zero: never (bucket full)
}

// NewPacer returns a pacer reading its rate from src, with a full bucket.
func NewPacer(src RateSource, cfg PacerConfig) (*Pacer, error) {
	if src == nil {
		return nil, fmt.Errorf("%w: nil RateSource", ErrInvalidConfig)
	}
	if cfg.MaxDatagramSize == 0 {
		cfg.MaxDatagramSize = DefaultMaxDatagramSize
	}
	if cfg.BurstPackets == 0 {
		cfg.BurstPackets = defaultBurstPackets
	}
	if cfg.TimerGranularity == 0 {
		cfg.TimerGranularity = Granularity
	}
	switch {
	case cfg.MaxDatagramSize > 1<<16:
		return nil, fmt.Errorf("%w: MaxDatagramSize %d exceeds 65536", ErrInvalidConfig, cfg.MaxDatagramSize)
	case cfg.BurstPackets > 1<<16:
		return nil, fmt.Errorf("%w: BurstPackets %d exceeds 65536", ErrInvalidConfig, cfg.BurstPackets)
	case cfg.TimerGranularity < 0 || cfg.TimerGranularity > time.Second:
		return nil, fmt.Errorf("%w: TimerGranularity %v outside (0, 1s]", ErrInvalidConfig, cfg.TimerGranularity)
	}
	return &Pacer{
		src:          src,
		mss:          cfg.MaxDatagramSize,
		burstPackets: cfg.BurstPackets,
		granularity:  cfg.TimerGranularity,
	}, nil
}

// SetMaxDatagramSize changes the datagram size the burst is counted in
// (path MTU discovery), as the controller's SetMaxDatagramSize does for
// the windows, so the bucket still holds BurstPackets full datagrams. A
// size of 0 or above 65536 is ignored.
func (p *Pacer) SetMaxDatagramSize(size uint64) {
	if size == 0 || size > 1<<16 {
		return
	}
	p.mss = size
}

// MaxBurst returns the bucket size in bytes at rate (bytes/s):
// max(BurstPackets*MaxDatagramSize, rate*TimerGranularity).
func (p *Pacer) MaxBurst(rate uint64) uint64 {
	return max(p.burstPackets*p.mss, mulDiv(rate, uint64(p.granularity), nsPerSecond))
}

// maxTokens is MaxBurst in token units, saturating.
func (p *Pacer) maxTokens(rate uint64) uint64 { return satMul(p.MaxBurst(rate), nsPerSecond) }

// tokensAt returns the bucket at now for rate, without changing it; limit
// is maxTokens(rate), which the caller has at hand.
func (p *Pacer) tokensAt(now monotime.Time, rate, limit uint64) uint64 {
	if p.last.IsZero() {
		return limit
	}
	tok := p.tokens
	if now.After(p.last) {
		tok = satAdd(tok, satMul(rate, uint64(now.Sub(p.last))))
	}
	return min(tok, limit)
}

// Budget returns how many bytes may leave at now without waiting.
func (p *Pacer) Budget(now monotime.Time) uint64 {
	rate := p.src.PacingRate()
	return p.tokensAt(now, rate, p.maxTokens(rate)) / nsPerSecond
}

// NextSendTime returns when a packet of size bytes may leave: now if the
// bucket holds it, else the instant it will. A packet larger than the
// bucket may leave once the bucket is full. A zero rate means unpaced.
func (p *Pacer) NextSendTime(now monotime.Time, size uint64) monotime.Time {
	rate := p.src.PacingRate()
	if rate == 0 {
		return now
	}
	limit := p.maxTokens(rate)
	need := min(satMul(size, nsPerSecond), limit)
	have := p.tokensAt(now, rate, limit)
	if have >= need {
		return now
	}
	// ceil(deficit/rate) in ns; deficit+rate-1 would wrap for rates near 2^64.
	deficit := need - have
	wait := deficit / rate
	if deficit%rate != 0 {
		wait++
	}
	if wait > math.MaxInt64/2 {
		wait = math.MaxInt64 / 2
	}
	return now.Add(time.Duration(wait))
}

// OnPacketSent spends size bytes of tokens at now. A packet sent without
// enough tokens empties the bucket: no debt carries over (quic-go's pacer
// does the same), so a sender is never punished twice for one burst.
func (p *Pacer) OnPacketSent(now monotime.Time, size uint64) {
	rate := p.src.PacingRate()
	tok := p.tokensAt(now, rate, p.maxTokens(rate))
	spend := satMul(size, nsPerSecond)
	if spend >= tok {
		tok = 0
	} else {
		tok -= spend
	}
	p.tokens = tok
	if now.After(p.last) {
		p.last = now
	}
}

// satMul returns a*b, or math.MaxUint64 if it overflows.
func satMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// satAdd returns a+b, or math.MaxUint64 if it overflows.
func satAdd(a, b uint64) uint64 {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return math.MaxUint64
	}
	return s
}

// mulDiv returns a*b/c (c > 0), saturating at math.MaxUint64.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return math.MaxUint64
	}
	q, _ := bits.Div64(hi, lo, c)
	return q
}
