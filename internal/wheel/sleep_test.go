package wheel

import (
	"math/rand/v2"
	"testing"
)

func kicked(w *Wheel) bool {
	select {
	case <-w.Wakeups():
		return true
	default:
		return false
	}
}

// TestNextDeadline: the deadline a sleeping driver is given is never later
// than the first pending timer's, and an arming earlier than it (and only
// such an arming) wakes the driver.
func TestNextDeadline(t *testing.T) {
	w := newTestWheel(t, 4)
	if _, ok := w.NextDeadline(); ok {
		t.Fatal("an empty wheel has a next deadline")
	}
	a := newCounter(w)
	w.Add(&a.Timer, at(10))
	if !kicked(w) {
		t.Fatal("arming a timer while the driver sleeps with none pending did not wake it")
	}
	d, ok := w.NextDeadline()
	if !ok || d > at(10) {
		t.Fatalf("next deadline %v (ok %v), want <= %v", d, ok, at(10))
	}
	b := newCounter(w)
	w.Add(&b.Timer, at(50))
	if kicked(w) {
		t.Fatal("a timer later than the planned wake woke the driver")
	}
	c := newCounter(w)
	w.Add(&c.Timer, at(3))
	if !kicked(w) {
		t.Fatal("a timer earlier than the planned wake did not wake the driver")
	}
	w.Advance(at(0)) // an Advance (the driver's or another's) keeps the plan
	e := newCounter(w)
	w.Add(&e.Timer, at(1))
	if !kicked(w) {
		t.Fatal("an arming earlier than the plan after an Advance did not kick")
	}
	if d, _ := w.NextDeadline(); d > at(1) {
		t.Fatalf("next deadline %v, want <= %v", d, at(1))
	}
	// A timer Reset earlier goes through the locked path and kicks.
	w.Advance(at(0))
	w.NextDeadline()
	w.Reset(&b.Timer, at(0))
	if !kicked(w) {
		t.Fatal("a Reset earlier than the planned wake did not wake the driver")
	}
}

// TestNoKickWithoutDriver: a wheel its owner advances (NextDeadline never
// called) never fills Wakeups.
func TestNoKickWithoutDriver(t *testing.T) {
	w := newTestWheel(t, 2)
	for i := range 10 {
		c := newCounter(w)
		w.Add(&c.Timer, at(uint64(i)))
		w.Advance(at(uint64(i)))
	}
	if kicked(w) {
		t.Fatal("a wheel with no sleeping driver kicked")
	}
}

// TestSleepingDriverMissesNothing drives a wheel the way Node.drive does,
// on a fake clock, with timers armed at random deadlines between wakes (as
// other goroutines arm them): each timer fires at the first wake at or
// after its deadline, and the driver wakes only when a timer is due or an
// arming kicked it, far fewer times than once per tick.
func TestSleepingDriverMissesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := newTestWheel(t, 8)
	var now uint64
	type owner struct {
		*counter
		due uint64
	}
	var owners []owner
	wakes := 0
	for step := 0; step < 5000; step++ {
		w.Advance(at(now))
		wakes++
		for _, o := range owners {
			if o.due <= now && len(o.fires) == 0 {
				t.Fatalf("timer due at tick %d not fired by tick %d", o.due, now)
			}
			if len(o.fires) > 0 && o.fires[0] < at(o.due) {
				t.Fatalf("timer due at tick %d fired at %v", o.due, o.fires[0])
			}
		}
		next, ok := w.NextDeadline()
		// Other goroutines arm timers while the driver sleeps.
		for range rng.IntN(3) {
			o := owner{counter: newCounter(w), due: now + 1 + uint64(rng.IntN(5000))}
			w.Add(&o.Timer, at(o.due))
			owners = append(owners, o)
		}
		minDue := uint64(1 << 62)
		for _, o := range owners {
			if len(o.fires) == 0 {
				minDue = min(minDue, o.due)
			}
		}
		switch {
		case kicked(w):
			now++ // woken at once: the next tick is the soonest Advance sees anything
		case ok:
			tick := uint64(next-testStart) / uint64(testTick)
			if tick < now+1 {
				tick = now + 1
			}
			if tick > minDue {
				t.Fatalf("driver plans to sleep to tick %d past a timer due at %d", tick, minDue)
			}
			now = tick
		default:
			if minDue != 1<<62 {
				t.Fatalf("no next deadline with a timer due at tick %d", minDue)
			}
			now += 1000 // nothing pending: sleep long
		}
	}
	if wakes*4 > int(now) {
		t.Fatalf("%d wakes over %d ticks: the driver did not sleep", wakes, now)
	}
}
