package wheel

import (
	"fmt"
	"math"
	"testing"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// TestCallbackPanicRequeues: the first callback of a tick calls Advance
// (reentrant: it panics) or panics itself; the panic reaches Advance's
// caller, and every collected timer whose callback had not run fires
// exactly once in the next Advance, also those beyond the first batch and
// in other shards.
func TestCallbackPanicRequeues(t *testing.T) {
	for _, reentrant := range []bool{true, false} {
		for _, n := range []int{10, 3*batchSize + 1} {
			t.Run(fmt.Sprintf("reentrant=%v/n=%d", reentrant, n), func(t *testing.T) {
				w := newTestWheel(t, 4)
				ran := make([]int, n)
				panicked := false
				timers := make([]Timer, n)
				for i := range timers {
					timers[i].Init(w, func(now monotime.Time) {
						ran[i]++
						if !panicked {
							panicked = true
							if reentrant {
								w.Advance(now)
							}
							panic("callback failed")
						}
					})
					w.Add(&timers[i], at(3))
				}
				func() {
					defer func() {
						if r := recover(); r == nil {
							t.Fatal("Advance did not propagate the panic")
						}
					}()
					w.Advance(at(3))
				}()
				checkInvariants(t, w)
				if w.Len() != n-1 {
					t.Fatalf("after the panic %d timers pending, want the %d not yet run", w.Len(), n-1)
				}
				if got := w.Advance(at(3)); got != n-1 {
					t.Fatalf("next Advance fired %d, want %d", got, n-1)
				}
				for i, r := range ran {
					if r != 1 {
						t.Fatalf("timer %d ran %d times", i, r)
					}
				}
			})
		}
	}
}

// TestExtremeDeadlines: the largest representable deadline waits in the
// overflow lists through every top-level wrap and fires exactly at the end
// of time; a negative deadline fires in the next Advance.
func TestExtremeDeadlines(t *testing.T) {
	w := newTestWheel(t, 1)
	end, neg := newCounter(w), newCounter(w)
	w.Add(&end.Timer, math.MaxInt64)
	w.Add(&neg.Timer, -5)
	if n := w.Advance(testStart); n != 1 || len(neg.fires) != 1 {
		t.Fatalf("negative deadline: Advance fired %d", n)
	}
	// The last tick boundary at or before MaxInt64: the deadline rounds up
	// past it, so it is due only if that boundary is MaxInt64 itself.
	last := testStart + (math.MaxInt64-testStart)/monotime.Time(testTick)*monotime.Time(testTick)
	if n := w.Advance(last - 1); n != 0 {
		t.Fatal("fired before the end of time")
	}
	checkInvariants(t, w)
	if !end.Pending() {
		t.Fatal("not pending")
	}
	w.Advance(math.MaxInt64)
	if last == math.MaxInt64 && len(end.fires) != 1 {
		t.Fatal("did not fire at MaxInt64")
	}
	if last != math.MaxInt64 && (len(end.fires) != 0 || !w.Cancel(&end.Timer)) {
		t.Fatal("a deadline past the last tick boundary fired or was lost")
	}
}

// TestPostpone: Reset of a pending timer to a later deadline takes the
// lock-free path (the timer stays filed where it was); Advance re-files it
// when it reaches the old slot, and it fires exactly at the new deadline,
// also when it was overdue, and also after many postpones.
func TestPostpone(t *testing.T) {
	tests := []struct {
		name     string
		first    uint64 // armed for this tick
		advance  uint64 // clock when postponing (before first, or after it for overdue)
		postpone []uint64
	}{
		{name: "same level", first: 10, postpone: []uint64{20}},
		{name: "up a level", first: 10, postpone: []uint64{5000}},
		{name: "beyond the top", first: 10, postpone: []uint64{pow64(numLevels) + 99}},
		{name: "many", first: 3, postpone: []uint64{4, 64, 65, 4095, 4096, 300000}},
		{name: "cascaded", first: 5000, advance: 4500, postpone: []uint64{5001, 9000}},
		{name: "overdue", first: 10, advance: 50, postpone: []uint64{60}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newTestWheel(t, 1)
			c := newCounter(w)
			if tc.advance > tc.first {
				w.Advance(at(tc.advance)) // Add below is then overdue
				w.Add(&c.Timer, at(tc.first))
			} else {
				w.Add(&c.Timer, at(tc.first))
				w.Advance(at(tc.advance))
			}
			list := c.list
			for _, p := range tc.postpone {
				if !w.Reset(&c.Timer, at(p)) {
					t.Fatalf("Reset to %d of a pending timer returned false", p)
				}
				if c.list != list {
					t.Fatal("postpone moved the timer: it took the locked path")
				}
			}
			checkInvariants(t, w)
			last := tc.postpone[len(tc.postpone)-1]
			for _, cp := range append(checkpoints(tc.advance, last), at(last)-1) {
				if w.Advance(cp); len(c.fires) != 0 {
					t.Fatalf("fired at %d, before the postponed deadline %d", cp, at(last))
				}
				checkInvariants(t, w)
			}
			if w.Advance(at(last)); len(c.fires) != 1 {
				t.Fatalf("did not fire at the postponed deadline: fires %v", c.fires)
			}
		})
	}
}

// TestCallbackAddsOthers: a callback arms other timers. One with a future
// deadline fires at it; one with a deadline already past does not fire in
// the running Advance (even in a shard not yet drained) but in the next.
func TestCallbackAddsOthers(t *testing.T) {
	for _, shards := range []int{1, 8} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			w := newTestWheel(t, shards)
			past := make([]*counter, 16) // spread over the shards
			future := newCounter(w)
			for i := range past {
				past[i] = newCounter(w)
			}
			var trigger Timer
			trigger.Init(w, func(now monotime.Time) {
				for _, c := range past {
					if !w.Add(&c.Timer, now-5) {
						t.Error("Add from a callback refused an idle timer")
					}
				}
				w.Add(&future.Timer, now.Add(3*testTick))
			})
			w.Add(&trigger, at(10))
			if n := w.Advance(at(10)); n != 1 {
				t.Fatalf("Advance fired %d, want only the trigger", n)
			}
			if n := w.Advance(at(10)); n != len(past) {
				t.Fatalf("next Advance fired %d, want the %d past-deadline timers", n, len(past))
			}
			w.Advance(at(12))
			if len(future.fires) != 0 {
				t.Fatal("future timer fired early")
			}
			if w.Advance(at(13)); len(future.fires) != 1 {
				t.Fatal("future timer did not fire at its deadline")
			}
		})
	}
}
