package wheel

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// raceOwner is a timer owned by one worker goroutine and fired by Advance
// on another.
type raceOwner struct {
	Timer
	// Worker-owned log of armings: deadline of each, and whether a Cancel or
	// Reset returning true stopped it. A stop always ends the latest arming.
	deadlines []monotime.Time
	stopped   []bool
	// Written only by the Advance goroutine: the now of each callback.
	fires []monotime.Time
}

func (o *raceOwner) arm(d monotime.Time) {
	o.deadlines = append(o.deadlines, d)
	o.stopped = append(o.stopped, false)
}

func (o *raceOwner) stop() { o.stopped[len(o.stopped)-1] = true }

// TestConcurrentCancelResetAdvance races workers that Add, Reset and Cancel
// their own timers against an event loop that advances a fake clock one tick
// at a time. Afterwards every arming must have ended exactly one way: the
// armings not stopped are exactly the ones that fired, in order (the fires
// of one timer are sequential), and none fired before its deadline. Bounded
// in operations and in wall time.
func TestConcurrentCancelResetAdvance(t *testing.T) {
	tests := []struct {
		name      string
		perWorker int    // few timers: every op races the firing of its timer
		horizon   uint64 // deadlines up to this many ticks after the clock
	}{
		{name: "spread", perWorker: 64, horizon: 40},
		{name: "hot", perWorker: 2, horizon: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { raceWheel(t, tc.perWorker, tc.horizon) })
	}
}

func raceWheel(t *testing.T, perWorker int, horizon uint64) {
	const (
		workers = 4
		ops     = 4000
		budget  = 2 * time.Second
	)
	w := newTestWheel(t, 4)
	var clock atomic.Uint64 // the last tick passed to Advance
	owners := make([][]raceOwner, workers)
	for g := range owners {
		owners[g] = make([]raceOwner, perWorker)
		for i := range owners[g] {
			o := &owners[g][i]
			o.Init(w, func(now monotime.Time) { o.fires = append(o.fires, now) })
		}
	}
	end := time.Now().Add(budget)
	var workersWG, loopWG sync.WaitGroup
	begin := make(chan struct{})
	for g := range workers {
		workersWG.Add(1)
		go func() {
			defer workersWG.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			mine := owners[g]
			<-begin
			for k := 0; k < ops && (k%256 != 0 || time.Now().Before(end)); k++ {
				if k%8 == 7 { // pace the workers with the clock: a few ops per tick
					for c := clock.Load(); clock.Load() == c && time.Now().Before(end); {
						runtime.Gosched()
					}
				}
				o := &mine[rng.IntN(len(mine))]
				d := at(clock.Load() + rng.Uint64N(horizon))
				switch rng.IntN(3) {
				case 0:
					if w.Add(&o.Timer, d) {
						o.arm(d)
					}
				case 1:
					if w.Reset(&o.Timer, d) {
						o.stop()
					}
					o.arm(d)
				case 2:
					if w.Cancel(&o.Timer) {
						o.stop()
					}
				}
			}
		}()
	}
	var stop atomic.Bool
	loopWG.Add(1)
	go func() { // the event loop
		defer loopWG.Done()
		for tick := uint64(1); !stop.Load() && time.Now().Before(end); tick++ {
			clock.Store(tick)
			w.Advance(at(tick))
		}
	}()
	close(begin)
	workersWG.Wait()
	stop.Store(true)
	loopWG.Wait()

	// Quiescent: stop what is still pending, then check every arming.
	armings, fires := 0, 0
	for g := range owners {
		for i := range owners[g] {
			o := &owners[g][i]
			if w.Cancel(&o.Timer) {
				o.stop()
			}
			var live []monotime.Time
			for k, d := range o.deadlines {
				if !o.stopped[k] {
					live = append(live, d)
				}
			}
			if len(live) != len(o.fires) {
				t.Fatalf("owner %d/%d: %d armings, %d not stopped, but %d fires",
					g, i, len(o.deadlines), len(live), len(o.fires))
			}
			for k, now := range o.fires {
				if now < live[k] {
					t.Fatalf("owner %d/%d: fired at %d before its deadline %d", g, i, now, live[k])
				}
			}
			armings += len(o.deadlines)
			fires += len(o.fires)
		}
	}
	if armings == 0 || fires == 0 {
		t.Fatalf("armings %d, fires %d: the race did not happen", armings, fires)
	}
	t.Logf("%d armings, %d fired", armings, fires)
	checkInvariants(t, w)
	if w.Len() != 0 {
		t.Fatalf("%d timers still pending", w.Len())
	}
}
