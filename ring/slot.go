package ring

import (
	"sync"
	"sync/atomic"

	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
)

// State is where a peer stands with its TransientManager.
type State uint32

const (
	// StateNone: neither transient nor established (new, or dropped).
	StateNone State = iota
	// StateTransient: admitted, holding one unit of the transient budget and
	// an armed TTL timer.
	StateTransient
	// StateEstablished: promoted into the Established set; holds no budget.
	StateEstablished
	// StateExpired: its TTL ran out before a promotion; holds no budget. A
	// Promote reports ErrExpired until Drop or a new TryReserve.
	StateExpired
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case StateNone:
		return "none"
	case StateTransient:
		return "transient"
	case StateEstablished:
		return "established"
	case StateExpired:
		return "expired"
	}
	return "invalid"
}

// Slot is one peer's transient state. It is designed to be embedded by value
// in the owner's single per-peer entry (core's Peer), so the transient state
// lives where the rest of the peer lives, with no second map and no
// allocation per reservation; the TTL timer is embedded too. Bind it to its
// manager and peer once with TransientManager.InitSlot; after that only the
// manager's methods change it (its fields are unexported), and it must not
// be copied.
//
// Guard map: m, key and the timer's binding are immutable after InitSlot.
// state is atomic for lock-free reads, and written only with mu held. mu
// guards loc, deadline and the arming of timer. Lock order: Slot.mu, then
// Established.mu or a wheel shard's mutex (both leaves, O(1) or O(n) memory
// moves, never calling out).
type Slot[K comparable] struct {
	m     *TransientManager[K]
	key   K
	state atomic.Uint32 // a State

	mu       sync.Mutex
	loc      Location
	deadline monotime.Time // expiry instant while StateTransient
	timer    wheel.Timer
}

// Key returns the peer key bound by InitSlot.
func (s *Slot[K]) Key() K { return s.key }

// State returns the slot's state (a lock-free snapshot).
func (s *Slot[K]) State() State { return State(s.state.Load()) }

// IsTransient reports whether the peer currently holds a transient
// reservation (a lock-free snapshot).
func (s *Slot[K]) IsTransient() bool { return s.State() == StateTransient }

// Location returns the location given to the last successful TryReserve or
// Promote.
func (s *Slot[K]) Location() Location {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loc
}

// setLocked publishes a new state; s.mu must be held.
func (s *Slot[K]) setLocked(st State) { s.state.Store(uint32(st)) }
