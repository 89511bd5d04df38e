package wheel

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// DefaultTick is the tick used when Config.Tick is zero: fine enough for
// delayed ACKs (max_ack_delay defaults to 25 ms, RFC 9000 Section 18.2) and
// loss timers (kGranularity is 1 ms, RFC 9002 Section 6.1.2), coarse enough
// that an idle tick costs next to nothing.
const DefaultTick = time.Millisecond

// maxShards bounds Config.Shards; more shards only add Advance overhead.
const maxShards = 256

// ErrConfig is returned (wrapped) by New for an invalid Config.
var ErrConfig = errors.New("wheel: invalid config")

// Config configures a Wheel. The zero Config is valid.
type Config struct {
	// Tick is the resolution: deadlines are rounded up to a multiple of
	// Tick after the start instant given to New, and a timer fires at most
	// one Tick after its deadline when Advance is called every Tick.
	// Zero means DefaultTick (1 ms). Must not be negative.
	Tick time.Duration
	// Shards is the number of independently locked sub-wheels timers are
	// spread over, rounded up to a power of two. Zero means 4*GOMAXPROCS
	// (at most 64). One shard makes the wheel a single-mutex wheel. Must be
	// in [0, 256].
	Shards int
}

// Wheel is a hierarchical timer wheel. Create it with New; the zero Wheel is
// not usable. Add, Reset and Cancel are safe for concurrent use, also while
// Advance runs; Advance must be called by one goroutine at a time.
//
// Guard map: start, tick, shards and mask are immutable after New;
// advancing and clock are atomic (clock is written only by Advance); batch is owned by the goroutine inside Advance.
type Wheel struct {
	start  monotime.Time
	tick   int64
	shards []shard
	mask   uint32

	advancing atomic.Bool   // set while Advance runs
	clock     atomic.Uint64 // the largest tick Advance has moved to

	// sleepUntil is the tick a driver sleeping between Advances (see
	// NextDeadline) plans to wake at; 0 until NextDeadline is first called
	// (a wheel advanced by its owner never kicks). An arming earlier than
	// it sends on kick, so the driver wakes for it. Advance leaves it be:
	// armings while the driver is awake are rarely earlier than its last
	// plan, and an Advance by someone else than the driver must not make
	// the driver miss a wake-up.
	sleepUntil atomic.Uint64
	kick       chan struct{} // capacity 1: one pending wake-up is enough

	batch batch
}

// New returns a Wheel whose tick 0 starts at now (pass monotime.Now(), or a
// fake time in tests; it must not be negative). It returns an error
// wrapping ErrConfig if cfg or now is invalid.
func New(now monotime.Time, cfg Config) (*Wheel, error) {
	if now < 0 {
		return nil, fmt.Errorf("%w: negative start %d", ErrConfig, now)
	}
	tick := cfg.Tick
	if tick == 0 {
		tick = DefaultTick
	}
	if tick < 0 {
		return nil, fmt.Errorf("%w: negative Tick %v", ErrConfig, cfg.Tick)
	}
	n := cfg.Shards
	if n < 0 || n > maxShards {
		return nil, fmt.Errorf("%w: Shards %d not in [0, %d]", ErrConfig, n, maxShards)
	}
	if n == 0 {
		n = min(4*runtime.GOMAXPROCS(0), 64)
	}
	n = 1 << bits.Len(uint(n-1)) // round up to a power of two
	w := &Wheel{
		start:  now,
		tick:   int64(tick),
		shards: make([]shard, n),
		mask:   uint32(n - 1),
		kick:   make(chan struct{}, 1),
	}
	for i := range w.shards {
		w.shards[i].w = w
		w.shards[i].draining = listNone
		w.shards[i].wake.Store(math.MaxUint64)
	}
	return w, nil
}

// NextDeadline is for a driver that sleeps between Advances instead of
// calling Advance every Tick (an idle node then wakes only when a timer is
// due, not Tick times a second). Called after Advance, by the goroutine
// that calls Advance, it returns the instant the driver should call Advance
// next: a lower bound of the first due timer's deadline (the start of its
// slot; an upper level's slot is due for cascading then), or ok false when
// no timer is pending. From then until the next Advance, arming a timer
// that is due earlier than that instant sends a value on Wakeups, so the
// driver can sleep on both without missing it.
func (w *Wheel) NextDeadline() (deadline monotime.Time, ok bool) {
	// Announce the sleep before reading the shards: an arming that lowers a
	// shard's wake hint after we read it is then earlier than MaxUint64 and
	// kicks; one before is in the minimum.
	w.sleepUntil.Store(math.MaxUint64)
	next := uint64(math.MaxUint64)
	for i := range w.shards {
		next = min(next, w.shards[i].wake.Load())
	}
	// A CAS, not a store: an arming since the first store kicked already,
	// and the minimum read above may have missed it; staying at MaxUint64
	// keeps every later arming kicking too, which is safe (a spurious wake
	// costs one empty Advance).
	w.sleepUntil.CompareAndSwap(math.MaxUint64, max(next, 1))
	if next == math.MaxUint64 {
		return 0, false
	}
	if next > uint64(math.MaxInt64-int64(w.start))/uint64(w.tick) {
		return math.MaxInt64, true // beyond the clock's range: never, in practice
	}
	return w.start + monotime.Time(next*uint64(w.tick)), true
}

// Wakeups returns the channel NextDeadline's driver sleeps on besides its
// timer: it receives a value when a timer is armed earlier than the
// deadline NextDeadline last returned (or at all, when it returned none).
func (w *Wheel) Wakeups() <-chan struct{} { return w.kick }

// Tick returns the wheel's resolution.
func (w *Wheel) Tick() time.Duration { return time.Duration(w.tick) }

// pickShard chooses the shard for a timer at random: the runtime's
// per-thread generator spreads timers evenly with no shared counter for
// concurrent Inits to fight over.
func (w *Wheel) pickShard() *shard {
	return &w.shards[rand.Uint32()&w.mask]
}

// shardOf returns t's shard, panicking if t was not bound to w by Init.
func (w *Wheel) shardOf(t *Timer) *shard {
	s := t.shard
	if s == nil || s.w != w {
		panic("wheel: Timer not initialised with this Wheel (call Timer.Init)")
	}
	return s
}

// expiry returns the tick at which a timer with deadline d is due: the first
// tick whose start is >= d (tick 0 for any d <= start), at most maxTick.
func (w *Wheel) expiry(d monotime.Time) uint64 {
	if d <= w.start {
		return 0
	}
	delta := int64(d - w.start)
	q := delta / w.tick
	if delta%w.tick != 0 {
		q++
	}
	return min(uint64(q), maxTick)
}

// Add arms t to fire at deadline if t is not pending, and reports whether
// it did. A pending timer is left untouched (Add returns false, without
// taking a lock): this is "arm unless armed", as a delayed-ACK timer wants;
// use Reset to move a pending deadline. A deadline at or before the last
// Advance's now makes t fire in the next Advance. Add is O(1) and allocates
// nothing.
func (w *Wheel) Add(t *Timer, deadline monotime.Time) bool {
	s := w.shardOf(t)
	if stateOf(t.word.Load()) != stateIdle {
		return false // pending: a racing Cancel is ordered after us
	}
	when := w.expiry(deadline)
	s.mu.Lock()
	if stateOf(t.word.Load()) != stateIdle {
		s.mu.Unlock()
		return false
	}
	s.armLocked(t, when)
	s.mu.Unlock()
	return true
}

// Reset arms t to fire at deadline whether or not it is pending, and
// reports whether it stopped a pending arming (as time.Timer.Reset does):
// if true, the callback of the previous arming will not run. If false and
// t was fired by an Advance that is running concurrently, that callback may
// still be running or about to run; the new arming is independent of it.
// Reset re-arms a timer that has fired, and a callback may Reset its own
// timer (a periodic timer). Reset is O(1) and allocates nothing.
//
// Postponing a pending timer to a deadline after the wheel's clock (the
// per-packet case: an idle or loss timer pushed later on every packet) is
// one compare-and-swap, with no lock: the timer stays filed where it was
// and Advance re-files it when it gets there.
func (w *Wheel) Reset(t *Timer, deadline monotime.Time) bool {
	s := w.shardOf(t)
	when := w.expiry(deadline)
	if old := t.word.Load(); stateOf(old) == statePending && when >= wantOf(old) &&
		when > w.clock.Load() && t.word.CompareAndSwap(old, pack(statePending, when)) {
		return true
	}
	s.mu.Lock()
	stopped := s.stopLocked(t)
	s.armLocked(t, when)
	s.mu.Unlock()
	return stopped
}

// Cancel disarms t and reports whether it stopped a pending arming. If it
// returns true, the callback of that arming will not run, even if Advance
// had already collected t. It returns false if t was not pending: never
// armed, already cancelled, or fired (its callback has started, and may
// still be running on the Advance goroutine: Cancel does not wait for it).
// Cancel is O(1) and allocates nothing.
func (w *Wheel) Cancel(t *Timer) bool {
	s := w.shardOf(t)
	if stateOf(t.word.Load()) == stateIdle {
		return false // not armed: a racing Add is ordered after us
	}
	s.mu.Lock()
	stopped := s.stopLocked(t)
	s.mu.Unlock()
	return stopped
}

// Len returns the number of pending timers, not counting those whose
// callbacks a running Advance is about to call. It is a snapshot that other
// goroutines may already have changed.
func (w *Wheel) Len() int {
	n := 0
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		n += s.count
		s.mu.Unlock()
	}
	return n
}
