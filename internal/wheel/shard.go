package wheel

import (
	"math"
	"sync"
	"sync/atomic"
)

// shard is one independent hierarchical wheel with its own lock. Every
// method ending in Locked requires mu.
//
// Guard map: w is immutable after New; wake is atomic (written under mu).
// mu guards everything else, and the list links and list field of every
// Timer bound to this shard.
type shard struct {
	w *Wheel

	mu sync.Mutex
	// now is the last tick this shard has processed: every timer with
	// expiry tick <= now has been moved to the expired or overdue list (or
	// fired). It lags the wheel's clock while Advance skips the shard for
	// having nothing due, and catches up the next time it is collected.
	now uint64
	// count is the number of timers in the lists (state pending).
	count int
	// occupied has bit s of word L set iff slot s of level L is non-empty.
	occupied [numLevels]uint64
	// heads are the first timers of the wheel slots (level*64+slot) and of
	// the two overflow lists, the overdue and the expired list.
	heads [numLists]*Timer
	// draining is the list collectLocked is emptying, or listNone. While
	// it is set, that list is due at now and Advance has only paused
	// (released mu) to bound how long it holds the lock.
	draining int32
	// wake is a lower bound of the first tick at which collectLocked has
	// work (0 when the overdue list is not empty, MaxUint64 when the shard
	// is empty). It is written under mu and read without it by Advance,
	// which skips the shard, lock and all, while target < wake. An arming
	// that happens before Advance starts has lowered it before unlocking.
	wake atomic.Uint64
	// visited counts timers moved by collectLocked (cascaded, overflowed
	// or expired); tests use it to check Advance's complexity.
	visited uint64

	_ [64]byte // keep the next shard's mu off this shard's last cache line
}

// pushLocked links t at the head of list idx.
func (s *shard) pushLocked(t *Timer, idx int32) {
	head := s.heads[idx]
	t.prev = nil
	t.next = head
	if head != nil {
		head.prev = t
	}
	s.heads[idx] = t
	t.list = idx
	if idx < wheelSlots {
		s.occupied[idx/slotsPerLevel] |= 1 << (idx % slotsPerLevel)
	}
}

// unlinkLocked removes t from its list in O(1).
func (s *shard) unlinkLocked(t *Timer) {
	idx := t.list
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		s.heads[idx] = t.next
		if t.next == nil && idx < wheelSlots {
			s.occupied[idx/slotsPerLevel] &^= 1 << (idx % slotsPerLevel)
		}
	}
	if t.next != nil {
		t.next.prev = t.prev
	}
	t.next, t.prev = nil, nil
	t.list = listNone
}

// insertLocked links an armed timer wanting tick when where Advance will
// find it: the overdue list if that tick has already been processed (by
// this shard, or by the wheel: the shard's now may lag the wheel's clock),
// else where placeLocked files it.
func (s *shard) insertLocked(t *Timer, when uint64) {
	if when <= s.now || when <= s.w.clock.Load() {
		s.pushOverdueLocked(t)
		return
	}
	s.placeLocked(t, when)
}

// placeLocked links t, wanting tick when > s.now, into the slot of the
// level where when first differs from now, or into overflow. Since they
// agree on every digit above that level, the slot's digit is strictly ahead
// of now's digit on the level: occupied slots never lie behind the current
// position, so no slot is ever a full rotation away.
func (s *shard) placeLocked(t *Timer, when uint64) {
	level := levelFor(s.now, when)
	if level == numLevels {
		s.pushLocked(t, overflowList(s.now))
		s.wakeLocked((s.now>>wheelBits + 1) << wheelBits)
		return
	}
	s.pushLocked(t, slotIndex(level, when))
	s.wakeLocked(when >> (uint(level) * slotBits) << (uint(level) * slotBits)) // the slot's start
}

// pushOverdueLocked queues t to fire in the next Advance.
func (s *shard) pushOverdueLocked(t *Timer) {
	s.pushLocked(t, listOverdue)
	s.wakeLocked(0)
}

// wakeLocked lowers the wake hint to tick if it is later.
func (s *shard) wakeLocked(tick uint64) {
	if tick < s.wake.Load() {
		s.wake.Store(tick)
		if tick < s.w.sleepUntil.Load() {
			select {
			case s.w.kick <- struct{}{}:
			default: // a wake-up is pending already
			}
		}
	}
}

// armLocked arms an idle timer to fire at tick when. No one else writes
// t.word meanwhile: both lock-free CASes need a non-idle state.
func (s *shard) armLocked(t *Timer, when uint64) {
	s.insertLocked(t, when)
	s.count++
	t.word.Store(pack(statePending, when))
}

// stopLocked disarms t and reports whether it stopped a pending arming,
// that is whether it prevented a callback from running. A timer Advance has
// collected but not yet called is stopped by winning the firing->idle CAS.
// The loop retries only when a lock-free postpone raced it.
func (s *shard) stopLocked(t *Timer) bool {
	for {
		old := t.word.Load()
		switch stateOf(old) {
		case statePending:
			if t.word.CompareAndSwap(old, pack(stateIdle, wantOf(old))) {
				s.unlinkLocked(t)
				s.count--
				return true
			}
		case stateFiring:
			if t.word.CompareAndSwap(old, pack(stateIdle, wantOf(old))) {
				return true
			}
		default:
			return false
		}
	}
}

// collectBudget bounds the timers collectLocked moves per call, so that
// a large cascade holds the shard's mutex for microseconds, not
// milliseconds, and Add, Reset and Cancel from other goroutines get in.
const collectBudget = 256

// collectLocked advances the shard towards tick target (if it is ahead) and
// moves every timer due by then, and every overdue one, to the expired
// list. It visits only non-empty slots: the occupancy words skip the rest.
// It moves at most budget timers and reports whether it finished; if not,
// the caller releases mu and calls it again. In between, the slot being
// drained stays a valid list, so Cancel and Reset work on its timers, and
// nothing new can land in it: it is the slot of now's own digit.
func (s *shard) collectLocked(target uint64, budget int) (done bool) {
	for t := s.heads[listOverdue]; t != nil; t = s.heads[listOverdue] {
		if budget == 0 {
			return false
		}
		budget--
		s.unlinkLocked(t)
		s.pushLocked(t, listExpired)
		s.visited++
	}
	for {
		if s.draining == listNone {
			idx, start, ok := s.nextEventLocked()
			if !ok || start > target {
				break
			}
			s.now = start
			s.draining = idx
		}
		for t := s.heads[s.draining]; t != nil; t = s.heads[s.draining] {
			if budget == 0 {
				return false
			}
			budget--
			s.unlinkLocked(t)
			// A postponed timer wants a later tick than its slot's; a
			// racing postpone is caught again when the timer is popped.
			if want := wantOf(t.word.Load()); want <= s.now {
				s.pushLocked(t, listExpired)
			} else {
				s.placeLocked(t, want) // cascade to a lower level, or stay in overflow
			}
			s.visited++
		}
		s.draining = listNone
	}
	if target > s.now {
		s.now = target
	}
	if _, start, ok := s.nextEventLocked(); ok {
		s.wake.Store(start)
	} else {
		s.wake.Store(math.MaxUint64)
	}
	return true
}

// nextEventLocked returns the list to process next and the tick at which
// it is due: the first occupied slot of the lowest non-empty level (a lower
// level's slots all start before any higher level's next slot), or, when
// the levels are empty, the current rotation's overflow list at the top
// level's next wrap (its timers re-park in the other list if still beyond).
func (s *shard) nextEventLocked() (idx int32, start uint64, ok bool) {
	for level := range numLevels {
		if slot, start, ok := nextSlot(s.occupied[level], level, s.now); ok {
			return int32(level*slotsPerLevel + slot), start, true
		}
	}
	if idx := overflowList(s.now); s.heads[idx] != nil {
		return idx, (s.now>>wheelBits + 1) << wheelBits, true
	}
	return 0, 0, false
}
