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
			word := t.word.Load()
			if st := stateOf(word); st != statePending {
				return fmt.Errorf("list %d: timer in state %d", idx, st)
			}
			want := wantOf(word)
			switch {
			case idx < wheelSlots:
				// Filed at the slot of a tick in (now, want]: the slot's
				// digit is ahead of now's, and it starts no later than want.
				level := int(idx) / slotsPerLevel
				shift := uint(level) * slotBits
				slot := uint64(idx % slotsPerLevel)
				begin := s.now>>(shift+slotBits)<<(shift+slotBits) | slot<<shift
				if slot <= s.now>>shift&slotMask || begin > want {
					return fmt.Errorf("slot %d (start %d) holds want=%d (now=%d)", idx, begin, want, s.now)
				}
			case idx == listOverflow, idx == listOverflow+1:
				if idx != overflowList(s.now) || want <= s.now || levelFor(s.now, want) != numLevels {
					return fmt.Errorf("overflow list %d holds want=%d (now=%d)", idx, want, s.now)
				}
			case idx == listOverdue:
				// Any want: a postponed overdue timer is re-filed when popped.
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
