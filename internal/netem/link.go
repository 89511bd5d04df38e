package netem

import (
	"fmt"
	"math/rand/v2"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// Fate is the outcome of one copy of a datagram: when it arrives at the far
// end and which bit, if any, arrives flipped.
type Fate struct {
	// At is when the copy arrives.
	At monotime.Time
	// Bit is the index of the bit to flip in the copy, or -1 for none: byte
	// Bit/8, mask 1<<(Bit%8) (FlipBit does it). The holder of the bytes
	// flips it; the Link never sees them.
	Bit int
}

// FlipBit flips bit i of b as Fate.Bit numbers it; i = -1 does nothing.
func FlipBit(b []byte, i int) {
	if i >= 0 {
		b[i>>3] ^= 1 << (i & 7)
	}
}

// Stats counts what a Link decided. Every datagram offered ends in exactly
// one of: a drop reason, or delivery (once, or twice if duplicated), so
// Sent = DroppedLoss + DroppedBurst + DroppedQueue + Delivered - Duplicated.
type Stats struct {
	Sent      uint64 // datagrams offered to Decide
	SentBytes uint64 // their bytes

	Delivered      uint64 // copies given an arrival time (fates returned)
	DeliveredBytes uint64 // their bytes, duplicates included

	DroppedLoss  uint64 // lost to independent loss (Config.Loss)
	DroppedBurst uint64 // lost to the Gilbert-Elliott chain (Config.Burst)
	DroppedQueue uint64 // tail-dropped at a full bottleneck queue

	Duplicated uint64 // datagrams that arrive twice
	Corrupted  uint64 // copies with a bit to flip
	Reordered  uint64 // copies that skipped the delay (Config.Reorder)
}

// Link is the impairment model of one direction of a link. Create it with
// New; the zero Link is not usable.
//
// A Link is not safe for concurrent use: each direction is driven by one
// goroutine, or the caller holds a lock around every call.
type Link struct {
	cfg   Config // validated; immutable after New
	rng   *rand.Rand
	chain chain      // bursty loss state, if cfg.Burst is set
	neck  bottleneck // rate and queue state, if cfg.Rate is set

	now    monotime.Time // the latest now seen: time never runs backwards
	lastAt monotime.Time // arrival of the last in-order copy
	stats  Stats
}

// New returns a Link impairing as cfg says, or an error wrapping ErrConfig
// naming the first invalid field.
func New(cfg Config) (*Link, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	l := &Link{
		cfg: cfg,
		// PCG (O'Neill 2014) seeded from Seed; the second word is a fixed
		// odd constant so Seed alone picks the stream.
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)),
	}
	if cfg.Burst.active() {
		l.chain = newChain(cfg.Burst)
	}
	if cfg.Rate > 0 {
		l.neck = bottleneck{rate: uint64(cfg.Rate), limit: cfg.queueLimit()}
	}
	return l, nil
}

// Config returns the Config the Link was built from.
func (l *Link) Config() Config { return l.cfg }

// QueueLimit returns the bottleneck's queue bound in bytes (Config.QueueBytes
// with its default applied), or 0 if the link has no Rate.
func (l *Link) QueueLimit() int64 { return l.neck.limit }

// Stats returns the counts so far.
func (l *Link) Stats() Stats { return l.stats }

// Backlog returns the bytes waiting to be serialized at the bottleneck at
// now (0 without a Rate). It changes nothing.
func (l *Link) Backlog(now monotime.Time) int64 {
	if l.cfg.Rate == 0 {
		return 0
	}
	return l.neck.backlog(max(now, l.now))
}

// Decide offers a datagram of size bytes to the link at now and appends its
// fates to dst: none if it is dropped (Stats says why), one, or two if it
// is duplicated, in arrival order. It allocates only if dst lacks room for
// two more.
//
// now must not be negative or before the now of an earlier call; an earlier
// one is taken as the latest seen, since time never runs backwards on a link.
// Decide panics if size is negative. Fate.Bit counts size*8 bits in an int,
// so on 32-bit platforms size must stay below 2^28; any UDP datagram does.
func (l *Link) Decide(dst []Fate, now monotime.Time, size int) []Fate {
	if size < 0 {
		panic(fmt.Sprintf("netem: Decide with negative size %d", size))
	}
	now = max(now, l.now)
	l.now = now
	l.stats.Sent++
	l.stats.SentBytes += uint64(size)

	// Path loss comes before the bottleneck, as in netem_enqueue: a lost
	// datagram takes no capacity.
	if bernoulli(l.rng, l.cfg.Loss) {
		l.stats.DroppedLoss++
		return dst
	}
	if l.cfg.Burst.P > 0 && l.chain.lost(l.rng) {
		l.stats.DroppedBurst++
		return dst
	}

	depart := now
	if l.cfg.Rate > 0 {
		var ok bool
		if depart, ok = l.neck.admit(now, size); !ok {
			l.stats.DroppedQueue++
			return dst
		}
	}

	copies := 1
	if bernoulli(l.rng, l.cfg.Duplicate) {
		copies = 2
		l.stats.Duplicated++
	}
	n := len(dst)
	for range copies {
		dst = append(dst, l.fate(depart, size))
	}
	if copies == 2 && dst[n+1].At < dst[n].At {
		dst[n], dst[n+1] = dst[n+1], dst[n]
	}
	return dst
}

// fate decides one copy that leaves the bottleneck at depart.
func (l *Link) fate(depart monotime.Time, size int) Fate {
	f := Fate{At: depart, Bit: -1}
	if bernoulli(l.rng, l.cfg.Reorder) {
		// Skips the delay: it overtakes what is in flight, and it does not
		// move lastAt, so the copies after it keep their own order.
		l.stats.Reordered++
	} else {
		d := int64(l.cfg.Delay)
		if j := int64(l.cfg.Jitter); j > 0 {
			d += l.rng.Int64N(2*j+1) - j
		}
		f.At = addSat(depart, uint64(d)) // d >= 0: Jitter <= Delay
		if !l.cfg.JitterReorders {
			f.At = max(f.At, l.lastAt)
			l.lastAt = f.At
		}
	}
	if size > 0 && bernoulli(l.rng, l.cfg.Corrupt) {
		f.Bit = l.rng.IntN(size * 8)
		l.stats.Corrupted++
	}
	l.stats.Delivered++
	l.stats.DeliveredBytes += uint64(size)
	return f
}
