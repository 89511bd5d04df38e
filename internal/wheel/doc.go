// Package wheel is petrel's hierarchical timer wheel: every timer of a node
// (retransmit/PTO, delayed ACK, keepalive, idle and handshake timeouts,
// transient TTL, reconnect backoff) is a Timer embedded in its owner and
// linked into one Wheel, which the node's event loop drives with Advance.
//
// # Concern
//
// One concern: deciding which armed timers are due at a given monotime.Time
// and running their callbacks, with O(1) arming and disarming that allocates
// nothing. The wheel reads no clock and starts no goroutine; time is whatever
// the caller passes to Advance, so tests drive it with fake time.
//
// # Structure
//
// Time is cut into ticks of Config.Tick (default 1 ms) counted from the
// instant given to New. Each shard of the wheel has 6 levels of 64 slots
// (Varghese & Lauck's scheme 7; the layout of the Linux timer wheel,
// kernel/time/timer.c, and of tokio's time driver): level L holds timers
// whose expiry tick first differs from the shard's current tick in base-64
// digit L, so level 0 spans 64 ticks and level 5 spans 64^6 = 2^36 ticks
// (about 795 days at 1 ms). Timers further out wait in an overflow list that
// is re-sorted each time the top level wraps. A slot is a doubly-linked
// list threaded through the Timers themselves, and a 64-bit occupancy word
// per level lets Advance jump straight to the next non-empty slot. When
// time reaches a slot of level L > 0, its timers are cascaded: re-inserted
// by their exact expiry tick, which lands them on a lower level (or fires
// them). No timer is ever rounded to a coarser slot, so cascading costs
// precision nothing.
//
// # Invariants
//
//   - No early fire: with D the timer's deadline rounded up to the tick
//     grid (the first instant start+k*Tick >= deadline, so D-deadline <
//     Tick), a timer fires only in an Advance(now) with now >= D.
//   - At most one tick late: a timer armed before a call Advance(now) with
//     now >= D fires in that call unless it is stopped first. A node that
//     calls Advance every Tick therefore runs each callback less than one
//     tick (plus its own scheduling delay) after the deadline. A timer
//     armed while an Advance is running, including from a callback, is
//     never fired by that call if its deadline is already past; it fires in
//     the next call. So a callback that re-arms its own timer with a past
//     deadline cannot loop.
//   - Cancelled never fires: when Cancel or Reset reports that it stopped a
//     pending timer, the callback of that arming does not run, even when
//     Advance has already collected the timer and is about to call it
//     (another goroutine may cancel it in that window; the callback's start
//     and the cancel are decided by one compare-and-swap). Each arming
//     ends exactly once: fired, stopped, or still pending.
//   - O(1): Add, Reset and Cancel touch a constant number of list links and
//     allocate nothing. Advance costs one atomic load per shard with nothing
//     due, O(levels) per non-empty slot it passes, and O(1) per timer it
//     fires or cascades; each arming is cascaded at most once per level
//     (plus once per 2^36 ticks if beyond the top level, and once per slot
//     reached after a lock-free postpone), so timers that are not yet due
//     cost Advance nothing between their cascades.
//
// # Concurrency
//
// Add, Reset and Cancel are safe from any goroutine, also while Advance
// runs. The wheel is split into shards, each with its own mutex and levels;
// a Timer is bound to one shard by Init (at random), so goroutines working
// on different timers rarely meet on a lock (see BenchmarkContention for the
// measurement against a single global mutex). Advance must be called by one
// goroutine at a time (it panics on concurrent or reentrant use); it
// collects due timers under each shard's lock (released every few hundred
// timers during a big cascade), then runs the callbacks with no wheel lock
// held, so a callback may call Add, Reset and Cancel on any timer,
// including its own.
//
// The per-packet cases take no lock at all: Add of a pending timer ("arm
// unless armed") is one load, and a Reset that postpones a pending timer to
// a later deadline (an idle or loss timer pushed on by every packet) is one
// compare-and-swap on the timer's state word. The timer stays filed at its
// old slot, never later than the tick it wants, and Advance re-files it
// when it reaches that slot.
package wheel
