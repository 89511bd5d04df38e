package ring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
)

// Defaults of TransientConfig. They are policy, not protocol (no RFC sets
// them): 30 s is ample for a handshake plus a first exchange, after which an
// unpromoted peer is dropped; 2048 bounds the memory an address-spoofing
// flood can pin to a few MB.
const (
	DefaultTransientTTL    = 30 * time.Second
	DefaultTransientBudget = 2048
)

// Errors of Promote, matchable with errors.Is. Promote also returns
// ErrEstablishedFull (see established.go) when the established set is at Max.
var (
	// ErrNotTransient: the peer holds no reservation (never reserved, or
	// dropped).
	ErrNotTransient = errors.New("ring: peer is not transient")
	// ErrExpired: the peer's reservation ran out before the promotion.
	ErrExpired = errors.New("ring: transient reservation expired")
)

// Hooks are optional callbacks for metrics and checks. Each runs after the
// change it reports is complete, with no lock of the manager held, on the
// goroutine that made the change (Expire on the goroutine driving the
// wheel's Advance). Hooks of different changes may run concurrently, and
// hooks of one peer are not ordered with respect to a concurrent change of
// that peer on another goroutine. A nil hook is skipped.
type Hooks[K comparable] struct {
	Reserve func(peer K, loc Location)      // a new reservation was made
	Promote func(peer K, loc Location)      // a transient peer was promoted
	Drop    func(peer K, from State)        // Drop left from (Transient or Established)
	Expire  func(peer K, now monotime.Time) // a reservation's TTL ran out
}

// TransientConfig configures a TransientManager. Zero fields take the
// documented defaults; Wheel is required.
type TransientConfig[K comparable] struct {
	// Wheel runs the TTL timers: a reservation expires in the first
	// Wheel.Advance(now) with now >= its deadline. Required; normally the
	// node's one wheel, advanced from its event loop.
	Wheel *wheel.Wheel
	// TTL is how long a reservation lives unless promoted or dropped.
	// Zero means DefaultTransientTTL (30 s).
	TTL time.Duration
	// Budget is the most transient peers at any instant. Zero means
	// DefaultTransientBudget (2048).
	Budget int
	// Established is the set promoted peers join. Nil means a new set with
	// EstablishedConfig defaults (Min 25, Max 200).
	Established *Established[K]
	// Hooks are called on every change of transient state.
	Hooks Hooks[K]
}

// TransientStats is a snapshot of a manager's counters.
type TransientStats struct {
	Count, Budget int    // transient peers now, and the budget
	Peak          int    // highest Count seen
	Reserved      uint64 // successful new reservations
	Duplicate     uint64 // TryReserve on a peer already transient
	Rejected      uint64 // TryReserve refused: budget exhausted or peer established
	Promoted      uint64 // transient -> established
	PromoteFailed uint64 // Promote errors (not transient, expired, full)
	Dropped       uint64 // Drop of a transient or established peer
	Expired       uint64 // reservations whose TTL ran out
}

// TransientManager owns transient connections: peers admitted tentatively and
// not yet promoted, their budget, and their TTL timers. It is the only code
// that changes a Slot; all its methods are safe for concurrent use, and
// linearizable per peer (each holds the peer's Slot.mu) and in the budget
// (one atomic counter, changed only by a compare-and-swap that checks the
// bound, or by a release of a unit acquired before).
//
// The state of each peer lives in a Slot embedded in the owner's peer entry
// rather than in a map of the manager's: the owner already keeps one entry
// per peer (core's Table), so a second map would be a second source of truth
// and an allocation per reservation. The manager is generic over the peer
// key K only to hand the key to hooks and to the Established set.
//
// Invariants (DESIGN invariant 6): Count() never exceeds Budget(); at
// quiescence Count() equals the number of slots in StateTransient. The owner
// must Drop a peer before discarding its Slot, or a transient reservation
// would hold its unit until the TTL returns it.
type TransientManager[K comparable] struct {
	// immutable after NewTransientManager
	wheel  *wheel.Wheel
	ttl    time.Duration
	budget int64
	est    *Established[K]
	hooks  Hooks[K]

	count counter // transient peers now: the budget in use

	peak                                                 atomic.Int64
	reserved, duplicate, rejected, promoted, promoteFail atomic.Uint64
	dropped, expired                                     atomic.Uint64
}

// counter is an atomic.Int64 alone on its cache line: it is the one word
// every reservation and release contends on.
type counter struct {
	_ [64]byte
	atomic.Int64
	_ [56]byte
}

// NewTransientManager returns a manager configured by cfg. It returns an
// error if cfg.Wheel is nil or a value is negative.
func NewTransientManager[K comparable](cfg TransientConfig[K]) (*TransientManager[K], error) {
	if cfg.Wheel == nil {
		return nil, errors.New("ring: TransientConfig.Wheel is required")
	}
	if cfg.TTL < 0 || cfg.Budget < 0 {
		return nil, fmt.Errorf("ring: negative TTL %v or Budget %d", cfg.TTL, cfg.Budget)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTransientTTL
	}
	if cfg.Budget == 0 {
		cfg.Budget = DefaultTransientBudget
	}
	if cfg.Established == nil {
		est, err := NewEstablished[K](EstablishedConfig{})
		if err != nil {
			return nil, err
		}
		cfg.Established = est
	}
	return &TransientManager[K]{
		wheel:  cfg.Wheel,
		ttl:    cfg.TTL,
		budget: int64(cfg.Budget),
		est:    cfg.Established,
		hooks:  cfg.Hooks,
	}, nil
}

// InitSlot binds s to m and to peer, and its TTL timer to m's wheel. Call it
// once, when the owner creates the peer's entry and before the entry is
// shared; it allocates the timer's callback once (nothing per reservation).
func (m *TransientManager[K]) InitSlot(s *Slot[K], peer K) {
	if s.m != nil {
		panic("ring: Slot initialised twice")
	}
	s.m = m
	s.key = peer
	s.timer.Init(m.wheel, s.onExpire)
}

// Budget returns the most transient peers the manager admits at once.
func (m *TransientManager[K]) Budget() int { return int(m.budget) }

// Count returns the number of transient peers now (the budget in use).
func (m *TransientManager[K]) Count() int { return int(m.count.Load()) }

// TTL returns how long a reservation lives unless promoted or dropped.
func (m *TransientManager[K]) TTL() time.Duration { return m.ttl }

// Established returns the set that promoted peers join, for queries
// (Closest, Len, Deficit). Adding or removing a member directly bypasses the
// Slots: do it only for peers whose Slot this manager never promotes.
func (m *TransientManager[K]) Established() *Established[K] { return m.est }

// IsTransient reports whether the peer of s holds a reservation.
func (m *TransientManager[K]) IsTransient(s *Slot[K]) bool { return s.IsTransient() }

// Stats returns a snapshot of the counters (not one atomic instant).
func (m *TransientManager[K]) Stats() TransientStats {
	return TransientStats{
		Count:         m.Count(),
		Budget:        m.Budget(),
		Peak:          int(m.peak.Load()),
		Reserved:      m.reserved.Load(),
		Duplicate:     m.duplicate.Load(),
		Rejected:      m.rejected.Load(),
		Promoted:      m.promoted.Load(),
		PromoteFailed: m.promoteFail.Load(),
		Dropped:       m.dropped.Load(),
		Expired:       m.expired.Load(),
	}
}

// acquire takes one unit of budget if one is free: check and add in one
// compare-and-swap, so the bound holds under any interleaving.
func (m *TransientManager[K]) acquire() bool {
	for {
		c := m.count.Load()
		if c >= m.budget {
			return false
		}
		if m.count.CompareAndSwap(c, c+1) {
			for p := m.peak.Load(); c+1 > p && !m.peak.CompareAndSwap(p, c+1); p = m.peak.Load() {
			}
			return true
		}
	}
}

// release returns one unit acquired by acquire; a release without a unit is
// a bug in this file and panics rather than hiding a double release.
func (m *TransientManager[K]) release() {
	if m.count.Add(-1) < 0 {
		panic("ring: transient budget released twice")
	}
}

// bound panics if s was not initialised by m.
func (m *TransientManager[K]) bound(s *Slot[K]) {
	if s.m != m {
		panic("ring: Slot not initialised with this TransientManager (call InitSlot)")
	}
}
