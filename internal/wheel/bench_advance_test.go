package wheel

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// reArm is a timer that expires every tick: its callback re-arms it for
// the next one.
type reArm struct {
	Timer
	w    *Wheel
	tick time.Duration
}

func (r *reArm) fire(now monotime.Time) { r.w.Reset(&r.Timer, now.Add(r.tick)) }

// BenchmarkWheelAdvance measures one Advance of one tick in which `expire`
// timers fire (and re-arm), next to `live` timers that are 1-24 h from
// expiry. The cost must follow the expiring timers, not the live ones:
// compare ns/advance of live=1k and live=1M at the same expire, or read
// the ratio sub-benchmark, which interleaves the two wheels in one loop so
// that both see the same machine noise. (Live timers are not touched until
// their slot's start; each is cascaded at most once per level in its
// life, which the drain sub-benchmark counts.)
// advanceSetup returns a wheel with live timers 1-24 h out and expire
// timers that fire, and re-arm, every tick.
func advanceSetup(b *testing.B, live, expire int) (*Wheel, monotime.Time) {
	start := monotime.Time(1_000_000)
	w, err := New(start, Config{})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 24))
	idle := make([]owner, live)
	for i := range idle {
		idle[i].Init(w, nop)
		d := time.Hour + time.Duration(rng.Int64N(int64(23*time.Hour)))
		w.Add(&idle[i].Timer, start.Add(d))
	}
	hot := make([]reArm, expire)
	for i := range hot {
		hot[i] = reArm{w: w, tick: w.Tick()}
		hot[i].Init(w, hot[i].fire)
		w.Add(&hot[i].Timer, start.Add(w.Tick()))
	}
	return w, start
}

func BenchmarkWheelAdvance(b *testing.B) {
	for _, expire := range []int{10, 1000} {
		for _, live := range []int{1000, 1_000_000} {
			b.Run(fmt.Sprintf("expire=%d/live=%s", expire, count(live)), func(b *testing.B) {
				w, now := advanceSetup(b, live, expire)
				b.ReportAllocs()
				for b.Loop() {
					now = now.Add(w.Tick())
					if got := w.Advance(now); got != expire {
						b.Fatalf("Advance fired %d, want %d", got, expire)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/advance")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(expire), "ns/fired")
				if w.Len() != live+expire {
					b.Fatalf("Len %d, want %d", w.Len(), live+expire)
				}
			})
		}
	}

	// ratio: one op advances a 1k-live and a 1M-live wheel by one tick
	// each (1000 timers expiring in both), timed separately; live=1M/1k is
	// the ratio of their mean Advance costs, ~1 if live timers cost nothing.
	b.Run("ratio/expire=1000", func(b *testing.B) {
		const expire = 1000
		small, now := advanceSetup(b, 1000, expire)
		large, _ := advanceSetup(b, 1_000_000, expire)
		var tSmall, tLarge time.Duration
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(small.Tick())
			t0 := time.Now()
			n1 := small.Advance(now)
			t1 := time.Now()
			n2 := large.Advance(now)
			tLarge += time.Since(t1)
			tSmall += t1.Sub(t0)
			if n1 != expire || n2 != expire {
				b.Fatalf("fired %d and %d, want %d", n1, n2, expire)
			}
		}
		b.ReportMetric(float64(tSmall.Nanoseconds())/float64(b.N), "ns/advance-1k")
		b.ReportMetric(float64(tLarge.Nanoseconds())/float64(b.N), "ns/advance-1M")
		b.ReportMetric(float64(tLarge)/float64(tSmall), "live=1M/1k")
	})

	// drain: the whole life of 1M timers with 30-60 s deadlines, every
	// cascade included: add them, then advance one tick at a time over
	// 60 s of fake time until all have fired. ns/timer is the amortized
	// Advance cost per timer; empty ticks cost the occupancy-word scan.
	b.Run("drain=1M", func(b *testing.B) {
		const n = 1_000_000
		start := monotime.Time(1_000_000)
		w, err := New(start, Config{})
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(30, 60))
		owners := make([]owner, n)
		for i := range owners {
			owners[i].Init(w, nop)
		}
		deadlines := make([]monotime.Time, n)
		for i := range deadlines {
			deadlines[i] = start.Add(30*time.Second + time.Duration(rng.Int64N(int64(30*time.Second))))
		}
		ticks := int(60 * time.Second / w.Tick())
		for b.Loop() {
			b.StopTimer()
			for i := range owners {
				w.Add(&owners[i].Timer, deadlines[i])
			}
			b.StartTimer()
			fired := 0
			for k := 1; k <= ticks; k++ {
				fired += w.Advance(start.Add(time.Duration(k) * w.Tick()))
			}
			if fired != n {
				b.Fatalf("fired %d, want %d", fired, n)
			}
			// Rewind for the next op: a new wheel at the same origin.
			b.StopTimer()
			w, _ = New(start, Config{})
			for i := range owners {
				owners[i].Init(w, nop)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/timer")
	})

	// cascade: timers 1-24 h out, filed on the upper levels and cascaded
	// down through every level before they fire, against reused runtime
	// timers firing the same deadlines (bench_cascade_test.go).
	b.Run("cascade", benchCascade)
}
