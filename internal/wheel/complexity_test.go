package wheel

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

func visited(w *Wheel) uint64 {
	var n uint64
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		n += s.visited
		s.mu.Unlock()
	}
	return n
}

// TestAdvanceCostFollowsExpiring: with `live` timers hours away and 100
// timers expiring every tick, Advance moves exactly the expiring timers,
// whatever the number of live ones (the work counted is timers moved; the
// slot scan per shard is a constant 6 occupancy words).
func TestAdvanceCostFollowsExpiring(t *testing.T) {
	const expire, ticks = 100, 1000
	for _, live := range []int{1000, 100_000} {
		t.Run(fmt.Sprintf("live=%d", live), func(t *testing.T) {
			w := newTestWheel(t, 4)
			rng := rand.New(rand.NewPCG(7, 7))
			idle := make([]Timer, live)
			for i := range idle {
				idle[i].Init(w, func(monotime.Time) { t.Error("idle timer fired") })
				w.Add(&idle[i], testStart.Add(time.Hour+time.Duration(rng.Int64N(int64(23*time.Hour)))))
			}
			hot := make([]reArm, expire)
			for i := range hot {
				hot[i] = reArm{w: w, tick: w.Tick()}
				hot[i].Init(w, hot[i].fire)
				w.Add(&hot[i].Timer, at(1))
			}
			before := visited(w)
			for k := uint64(1); k <= ticks; k++ {
				if n := w.Advance(at(k)); n != expire {
					t.Fatalf("tick %d fired %d", k, n)
				}
			}
			if got := visited(w) - before; got != expire*ticks {
				t.Fatalf("Advance moved %d timers over %d ticks, want exactly %d", got, ticks, expire*ticks)
			}
		})
	}
}

// TestCascadesPerTimerBounded: over a timer's whole life Advance moves it
// at most once per level below the one it was armed on, plus once to fire.
func TestCascadesPerTimerBounded(t *testing.T) {
	const n = 20_000
	w := newTestWheel(t, 2)
	rng := rand.New(rand.NewPCG(3, 3))
	timers := make([]Timer, n)
	fired := 0
	bound := uint64(0)
	var last uint64
	for i := range timers {
		timers[i].Init(w, func(monotime.Time) { fired++ })
		k := 1 + rng.Uint64N(1<<uint(rng.IntN(34)+1))
		last = max(last, k)
		w.Add(&timers[i], at(k))
		bound += uint64(levelFor(0, k)) + 1
	}
	// Advance in uneven jumps through every level.
	for now := uint64(0); now < last; now += 1 + rng.Uint64N(1<<uint(rng.IntN(30))) {
		w.Advance(at(now))
		checkInvariants(t, w)
	}
	w.Advance(at(last))
	if fired != n {
		t.Fatalf("fired %d of %d", fired, n)
	}
	if v := visited(w); v > bound {
		t.Fatalf("Advance moved timers %d times, bound %d", v, bound)
	}
}

// TestCollectYieldsLock: a cascade of many timers releases the shard lock
// every collectBudget timers; Cancel works on a timer of the slot being
// drained while Advance is paused between batches.
func TestCollectYieldsLock(t *testing.T) {
	w := newTestWheel(t, 1)
	const n = 5 * collectBudget
	timers := make([]Timer, n)
	fired := 0
	for i := range timers {
		timers[i].Init(w, func(monotime.Time) { fired++ })
		w.Add(&timers[i], at(5000)) // level 2 from tick 0
	}
	s := &w.shards[0]
	s.mu.Lock()
	if s.collectLocked(4096+64, collectBudget) {
		t.Fatal("collect of a 5-budget cascade finished in one call")
	}
	if s.draining == listNone {
		t.Fatal("paused collect forgot the slot it drains")
	}
	s.mu.Unlock()
	// Between batches: cancel a timer still in the draining slot, and one
	// already cascaded.
	if !w.Cancel(&timers[0]) || !w.Cancel(&timers[n-1]) {
		t.Fatal("Cancel during a paused collect failed")
	}
	s.mu.Lock()
	for !s.collectLocked(4096+64, collectBudget) {
	}
	s.mu.Unlock()
	checkInvariants(t, w)
	w.Advance(at(4999))
	if w.Advance(at(5000)); fired != n-2 {
		t.Fatalf("fired %d, want %d", fired, n-2)
	}
}
