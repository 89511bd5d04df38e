package wheel

import (
	"sync/atomic"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// Timer states, in the low bits of Timer.word; the high bits hold the
// expiry tick the timer wants. The word is written under the shard's mutex,
// except for two compare-and-swaps: Advance's firing->idle, which decides
// between running the callback and a concurrent Cancel or Reset, and
// Reset's postpone of a pending timer, which only raises the wanted tick.
const (
	// stateIdle: not armed. The timer is in no list.
	stateIdle uint64 = iota
	// statePending: armed and linked into exactly one list of its shard
	// (a wheel slot, an overflow, the overdue or the expired list), filed
	// at a tick no later than the one it wants.
	statePending
	// stateFiring: collected by Advance into its batch, unlinked from every
	// list; the callback runs iff Advance wins the firing->idle CAS.
	stateFiring

	stateBits = 2
	stateMask = 1<<stateBits - 1
	// maxTick bounds expiry ticks so that they fit beside the state.
	maxTick = 1<<(64-stateBits) - 1
)

func pack(state, want uint64) uint64 { return want<<stateBits | state }
func stateOf(word uint64) uint64     { return word & stateMask }
func wantOf(word uint64) uint64      { return word >> stateBits }

// listNone is Timer.list for a timer that is in no list.
const listNone = -1

// Timer is one timer: embed it in the struct that owns it (a Peer, a
// connection, a transient entry) and call Init once. Arming and disarming
// then allocate nothing. The zero Timer is not usable until Init.
//
// A Timer must not be copied after Init (it is linked by address).
//
// Guard map: shard and fn are immutable after Init. word is atomic (state
// and wanted expiry tick; see the state constants for who writes it). next,
// prev and list are guarded by shard.mu.
type Timer struct {
	next, prev *Timer // neighbours in the list named by list
	shard      *shard // the shard this timer lives in, set by Init
	fn         func(now monotime.Time)
	word       atomic.Uint64 // pack(state, wanted expiry tick)
	list       int32         // index into shard.heads, or listNone
}

// Init binds t to w and sets the callback that runs, with the now passed to
// Advance, each time t fires. fn runs on the goroutine that calls Advance,
// with no wheel lock held; it may call Add, Reset and Cancel on any timer of
// w, including t, but must not call Advance. To avoid a closure per arming,
// pass a method value or closure once here (for example p.onKeepalive).
//
// Init must be called before any other use of t, and not concurrently with
// other calls on t; it panics if w or fn is nil or t is pending. It may be
// called again to rebind an idle timer whose callback is not running.
func (t *Timer) Init(w *Wheel, fn func(now monotime.Time)) {
	if w == nil || fn == nil {
		panic("wheel: Timer.Init with nil Wheel or callback")
	}
	if stateOf(t.word.Load()) != stateIdle {
		panic("wheel: Timer.Init on a pending timer")
	}
	t.next, t.prev = nil, nil
	t.shard = w.pickShard()
	t.fn = fn
	t.word.Store(pack(stateIdle, 0))
	t.list = listNone
}

// Pending reports whether t is armed: added and neither fired nor stopped
// since. A timer whose callback Advance is about to run still reads pending
// until the callback starts. The answer may be stale by the time it is used
// if other goroutines arm or stop t concurrently.
func (t *Timer) Pending() bool {
	return stateOf(t.word.Load()) != stateIdle
}
