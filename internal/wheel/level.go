package wheel

import "math/bits"

// Wheel geometry. 64 slots per level lets one uint64 per level record which
// slots are occupied (the Linux wheel, kernel/time/timer.c, uses LVL_BITS 6
// for the same reason; tokio's driver uses 64 slots and 6 levels too).
const (
	slotBits      = 6
	slotsPerLevel = 1 << slotBits // 64
	slotMask      = slotsPerLevel - 1
	numLevels     = 6
	// wheelBits is the span of the levels in ticks, as a power of two:
	// 64^6 = 2^36 ticks, about 795 days at a 1 ms tick.
	wheelBits  = slotBits * numLevels
	wheelSlots = numLevels * slotsPerLevel

	// Lists of a shard beyond the wheel slots. A timer whose expiry lies
	// beyond the top level is parked in the overflow list of the current
	// top-level rotation (2^36 ticks) and re-sorted when that rotation ends;
	// two lists alternate so that re-sorting never re-parks a timer in the
	// list it is emptying.
	listOverflow = wheelSlots     // two lists, by parity of now>>wheelBits
	listOverdue  = wheelSlots + 2 // armed with a deadline already past: fires at the next Advance
	listExpired  = wheelSlots + 3 // collected by Advance, callbacks not yet run
	numLists     = wheelSlots + 4
)

// overflowList returns the overflow list for timers parked at tick now.
func overflowList(now uint64) int32 {
	return listOverflow + int32(now>>wheelBits&1)
}

// levelFor returns the level that holds a timer expiring at tick when, seen
// from current tick now < when: the base-64 digit in which they first
// differ. It returns numLevels when they differ above the top level.
func levelFor(now, when uint64) int {
	x := now ^ when
	if x>>wheelBits != 0 {
		return numLevels
	}
	return (bits.Len64(x) - 1) / slotBits
}

// slotIndex returns the list index of the slot at level that holds tick when.
func slotIndex(level int, when uint64) int32 {
	return int32(level*slotsPerLevel + int(when>>(uint(level)*slotBits)&slotMask))
}

// nextSlot returns the first occupied slot of level strictly after now's
// digit at that level, and the tick at which that slot starts. Occupied slots
// never sit at or before now's digit (see shard.insertLocked), so this is the
// level's next event.
func nextSlot(occupied uint64, level int, now uint64) (slot int, start uint64, ok bool) {
	shift := uint(level) * slotBits
	digit := now >> shift & slotMask
	ahead := occupied &^ (uint64(2)<<digit - 1) // bits above digit; digit 63 leaves none
	if ahead == 0 {
		return 0, 0, false
	}
	slot = bits.TrailingZeros64(ahead)
	start = now>>(shift+slotBits)<<(shift+slotBits) | uint64(slot)<<shift
	return slot, start, true
}
