package wheel

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// Cascade benchmark settings: cascadeTimers timers with deadlines uniform
// in [cascadeMin, cascadeMax]. With the default 1 ms tick, level 3 of the
// wheel spans 64^4 ms (4.7 h) and level 4 64^5 ms (12.4 days), so every
// timer is filed on level 3 or 4 and is cascaded down through each lower
// level before it fires: the wheel's most expensive life.
const (
	cascadeTimers = 100_000
	cascadeMin    = time.Hour
	cascadeMax    = 24 * time.Hour
	// cascadeStep is how far the wheel is advanced per Advance call: a
	// node calls it every tick, but 86.4 M calls of an empty tick would
	// measure the occupancy scan (drain=1M does), not the cascades.
	cascadeStep = time.Second
	// cascadeWindow is the real time over which the runtime baseline's
	// timers fall due, in the order of the wheel's deadlines: the runtime
	// heap's cost depends on how many timers it holds and their order,
	// not on how far out they are, and the benchmark cannot wait hours.
	// 100k timers in 100 ms ask for 1 M firings/s, more than the runtime
	// sustains on a 2-core machine, so it runs flat out and its CPU time
	// is the work, not the wait.
	cascadeWindow = 100 * time.Millisecond
)

// cascadeDelays are the timers' deadlines, from the op's start, seeded.
func cascadeDelays() []time.Duration {
	rng := rand.New(rand.NewPCG(1, 24))
	d := make([]time.Duration, cascadeTimers)
	for i := range d {
		d[i] = cascadeMin + time.Duration(rng.Int64N(int64(cascadeMax-cascadeMin)))
	}
	return d
}

// fireCounter counts firings and, when done is set, closes it at the
// target count.
type fireCounter struct {
	n      atomic.Int64
	target int64
	done   chan struct{}
}

// reset starts a count; with notify, done is a new channel closed at the
// target (nil otherwise: the wheel's caller sees the count on return).
func (f *fireCounter) reset(target int, notify bool) {
	f.n.Store(0)
	f.target, f.done = int64(target), nil
	if notify {
		f.done = make(chan struct{})
	}
}

func (f *fireCounter) fire() {
	if f.n.Add(1) == f.target && f.done != nil {
		close(f.done)
	}
}

// reportCPU reports ns/fired: the process's CPU time over the timed part
// of the run per timer fired (wall time where getrusage is missing).
func reportCPU(b *testing.B, cpu time.Duration, fired int) {
	if cpu <= 0 {
		cpu = b.Elapsed()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(fired), "ns/fired")
}

// benchCascade (BenchmarkWheelAdvance/cascade) is the whole life of
// timers spread over hours:
// one op arms cascadeTimers timers 1-24 h out (every one on level 3 or 4)
// and runs them until all have fired. wheel advances a 1 ms wheel through
// the 24 h, cascadeStep per Advance, so each timer is cascaded through the
// upper levels; runtime-reuse arms one reused *time.Timer per owner (Reset,
// as BenchmarkTimers/runtime-reuse) with the same deadlines, in the same
// order, compressed into cascadeWindow of real time, and waits for them.
// ns/fired is CPU time (both P's: the runtime fires on either) per timer,
// arming included; each firing counts in one shared atomic either way.
func benchCascade(b *testing.B) {
	delays := cascadeDelays()
	b.Run("wheel", func(b *testing.B) {
		now := monotime.Time(1_000_000)
		w, err := New(now, Config{})
		if err != nil {
			b.Fatal(err)
		}
		var fc fireCounter
		owners := make([]owner, cascadeTimers)
		for i := range owners {
			owners[i].Init(w, func(monotime.Time) { fc.fire() })
		}
		b.ReportAllocs()
		var cpu time.Duration
		ops := 0
		for b.Loop() {
			c0, ok := cpuTime()
			fc.reset(cascadeTimers, false)
			start := now
			for i := range owners {
				w.Add(&owners[i].Timer, start.Add(delays[i]))
			}
			for end := start.Add(cascadeMax + cascadeStep); now < end; {
				now = now.Add(cascadeStep)
				w.Advance(now)
			}
			c1, _ := cpuTime()
			if ok {
				cpu += c1 - c0
			}
			if got := fc.n.Load(); got != cascadeTimers || w.Len() != 0 {
				b.Fatalf("fired %d of %d, %d left armed", got, cascadeTimers, w.Len())
			}
			ops++
		}
		reportCPU(b, cpu, ops*cascadeTimers)
	})
	b.Run("runtime-reuse", func(b *testing.B) {
		var fc fireCounter
		timers := make([]*time.Timer, cascadeTimers)
		for i := range timers {
			timers[i] = time.AfterFunc(time.Hour, fc.fire)
			timers[i].Stop()
		}
		b.ReportAllocs()
		var cpu time.Duration
		ops := 0
		for b.Loop() {
			c0, ok := cpuTime()
			fc.reset(cascadeTimers, true)
			for i, t := range timers {
				t.Reset(time.Duration(int64(delays[i]-cascadeMin) * int64(cascadeWindow) / int64(cascadeMax-cascadeMin)))
			}
			select {
			case <-fc.done:
			case <-time.After(time.Minute):
				b.Fatalf("fired %d of %d within a minute", fc.n.Load(), cascadeTimers)
			}
			c1, _ := cpuTime()
			if ok {
				cpu += c1 - c0
			}
			ops++
		}
		reportCPU(b, cpu, ops*cascadeTimers)
	})
}
