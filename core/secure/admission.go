package secure

import (
	"sync/atomic"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// Admission bounds a responder's handshake state. The responder calls Admit
// after an initiation authenticated and before it keeps anything for it,
// and refuses the initiation (with an authenticated RefuseBusy) when Admit
// says no. Every successful Admit is followed by exactly one Release — when
// the handshake is refused, fails or times out — unless Pending.Confirm
// hands the admission over to the new connection, whose owner then releases
// it (in core: the peer's transient reservation in ring's TransientManager,
// which lives on as the connection's transient status until promotion or
// its TTL). Implementations must be safe for concurrent use.
type Admission interface {
	Admit(peer PublicKey, now monotime.Time) bool
	Release(peer PublicKey)
}

// DefaultHandshakeBudget is the budget of a Responder configured without an
// Admission: ring's default transient budget, so a flood from spoofed
// static keys pins at most that many handshakes.
const DefaultHandshakeBudget = 2048

// Budget is an Admission that counts admissions against a fixed limit,
// whatever the peer. Safe for concurrent use.
type Budget struct {
	limit int64
	n     atomic.Int64
}

var _ Admission = (*Budget)(nil)

// NewBudget returns a budget of limit admissions (limit >= 1).
func NewBudget(limit int) *Budget { return &Budget{limit: int64(max(limit, 1))} }

// Admit takes one unit if one is free.
func (b *Budget) Admit(PublicKey, monotime.Time) bool {
	for {
		n := b.n.Load()
		if n >= b.limit {
			return false
		}
		if b.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release returns one unit; it panics on a release without an admission,
// which would let the budget be exceeded.
func (b *Budget) Release(PublicKey) {
	if b.n.Add(-1) < 0 {
		panic("secure: Budget.Release without Admit")
	}
}

// InUse returns the units taken.
func (b *Budget) InUse() int { return int(b.n.Load()) }
