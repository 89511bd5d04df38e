package wheel

import (
	"fmt"
	"testing"
)

// checkInvariants walks every list of every shard (w must be quiescent: no
// Advance running) and fails t on any broken structural invariant.
func checkInvariants(tb testing.TB, w *Wheel) {
	tb.Helper()
	if err := invariantError(w); err != nil {
		tb.Fatal(err)
	}
}

func invariantError(w *Wheel) error {
	for si := range w.shards {
		s := &w.shards[si]
		s.mu.Lock()
		err := s.invariantErrorLocked()
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("shard %d: %w", si, err)
		}
	}
	return nil
}

func (s *shard) invariantErrorLocked() error {
	n := 0
	for idx := int32(0); idx < numLists; idx++ {
		var prev *Timer
		for t := s.heads[idx]; t != nil; t = t.next {
			n++
			if n > 1<<26 {
				return fmt.Errorf("list %d: cycle", idx)
			}
			if t.prev != prev {
				return fmt.Errorf("list %d: broken prev link", idx)
			}
			if t.list != idx {
				return fmt.Errorf("timer in list %d says list %d", idx, t.list)
			}
			if t.shard != s {
				return fmt.Errorf("list %d: timer of another shard", idx)
			}
			if st := t.state.Load(); st != statePending {
				return fmt.Errorf("list %d: timer in state %d", idx, st)
			}
			switch {
			case idx < wheelSlots:
				level := int(idx) / slotsPerLevel
				if t.when <= s.now {
					return fmt.Errorf("slot %d holds when=%d <= now=%d", idx, t.when, s.now)
				}
				if got := levelFor(s.now, t.when); got != level || slotIndex(level, t.when) != idx {
					return fmt.Errorf("slot %d holds when=%d, belongs at level %d (now=%d)", idx, t.when, got, s.now)
				}
			case idx == listOverflow, idx == listOverflow+1:
				if idx != overflowList(s.now) || t.when <= s.now || levelFor(s.now, t.when) != numLevels {
					return fmt.Errorf("overflow holds when=%d (now=%d)", t.when, s.now)
				}
			case idx == listOverdue:
				if t.when > max(s.now, s.w.clock.Load()) {
					return fmt.Errorf("overdue holds when=%d > now=%d", t.when, s.now)
				}
			case idx == listExpired:
				return fmt.Errorf("expired list not empty outside Advance")
			}
			prev = t
		}
		if idx < wheelSlots {
			bit := s.occupied[idx/slotsPerLevel]>>(idx%slotsPerLevel)&1 == 1
			if bit != (s.heads[idx] != nil) {
				return fmt.Errorf("slot %d: occupancy bit %v, non-empty %v", idx, bit, s.heads[idx] != nil)
			}
		}
	}
	if _, start, ok := s.nextEventLocked(); ok && start < s.wake.Load() {
		return fmt.Errorf("wake hint %d after the next event %d", s.wake.Load(), start)
	}
	if s.heads[listOverdue] != nil && s.wake.Load() != 0 {
		return fmt.Errorf("overdue timers but wake hint %d", s.wake.Load())
	}
	if n != s.count {
		return fmt.Errorf("count %d, lists hold %d", s.count, n)
	}
	return nil
}
