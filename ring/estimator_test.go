package ring

import (
	"cmp"
	"math"
	randv2 "math/rand/v2"
	"slices"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// frac converts a ring fraction to a distance.
func frac(f float64) uint64 { return uint64(f * 0x1p64) }

func TestEstimatorEmptyAndReset(t *testing.T) {
	e := NewEstimator[string](EstimatorConfig{Window: 8})
	if _, ok := e.Estimate("a", 0); ok {
		t.Fatal("empty estimator claims an estimate")
	}
	for i := range 20 {
		e.Report("a", uint64(i), 1)
	}
	if n := e.Len(); n != 8 {
		t.Fatalf("Len = %d, want the window 8", n)
	}
	e.Report("a", 1, math.NaN())
	e.Report("a", 1, math.Inf(1))
	if v, ok := e.Estimate("a", 5); !ok || v != 1 {
		t.Fatalf("Estimate = %v, %v; want 1, true (NaN/Inf ignored)", v, ok)
	}
	e.Reset()
	if n := e.Len(); n != 0 {
		t.Fatalf("Len after Reset = %d", n)
	}
	if _, ok := e.EstimateGlobal(5); ok {
		t.Fatal("estimate after Reset")
	}
	if off := e.Offset("a"); off != 0 {
		t.Fatalf("offset after Reset = %v", off)
	}
	e.Report("b", 3, 7)
	if v, ok := e.Estimate("b", 0); !ok || v != 7 {
		t.Fatalf("after Reset+Report: %v, %v", v, ok)
	}
}

// TestEstimatorHandComputed checks the curve, the decay and the offsets
// against values worked out by hand.
func TestEstimatorHandComputed(t *testing.T) {
	t.Run("monotone curve, no decay", func(t *testing.T) {
		e := NewEstimator[int](EstimatorConfig{HalfLife: -1, Shrinkage: -1})
		// distances 10,20,30 with outcomes 1,3,2 -> steps 1 | 2.5 2.5
		e.Report(0, 10, 1)
		e.Report(0, 20, 3)
		e.Report(0, 30, 2)
		want := []CurveStep{{From: 10, To: 10, Value: 1, Weight: 1}, {From: 20, To: 30, Value: 2.5, Weight: 2}}
		got := e.Curve(nil)
		if len(got) != len(want) {
			t.Fatalf("curve %+v, want %+v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("curve %+v, want %+v", got, want)
			}
		}
		for _, c := range []struct {
			d    uint64
			want float64
		}{{0, 1}, {10, 1}, {15, 1}, {20, 2.5}, {1 << 62, 2.5}} {
			if v, _ := e.EstimateGlobal(c.d); v != c.want {
				t.Errorf("EstimateGlobal(%d) = %v, want %v", c.d, v, c.want)
			}
		}
	})
	t.Run("decay weighs recent events", func(t *testing.T) {
		// HalfLife 1: the three events at one distance weigh 1/4, 1/2, 1
		// (oldest first); outcomes 0, 0, 1 -> 1 / 1.75.
		e := NewEstimator[int](EstimatorConfig{Window: 3, HalfLife: 1})
		e.Report(0, 5, 0)
		e.Report(0, 5, 0)
		e.Report(0, 5, 1)
		if v, _ := e.EstimateGlobal(5); !near(v, 1/1.75) {
			t.Fatalf("decayed mean = %v, want %v", v, 1/1.75)
		}
		// The window wraps: events 0, 1, 1 remain -> (0.25*0+0.5*1+1*1)/1.75.
		e.Report(0, 5, 1)
		if v, _ := e.EstimateGlobal(5); !near(v, 1.5/1.75) {
			t.Fatalf("after wrap = %v, want %v", v, 1.5/1.75)
		}
	})
	t.Run("per-peer offset with shrinkage", func(t *testing.T) {
		for _, tc := range []struct {
			name      string
			shrink    float64
			wantA, wB float64
		}{
			{"no shrinkage", -1, 1, -1},
			{"shrinkage 10", 10, 50.0 / 60, -50.0 / 60},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := NewEstimator[string](EstimatorConfig{Window: 100, HalfLife: -1, Shrinkage: tc.shrink})
				// At each distance peer "a" answers 3 and "b" answers 1: the
				// curve is flat at 2, a is 1 above it and b 1 below.
				for i := range 50 {
					d := frac(float64(i) / 100)
					e.Report("a", d, 3)
					e.Report("b", d, 1)
				}
				if off := e.Offset("a"); !near(off, tc.wantA) {
					t.Fatalf("Offset(a) = %v, want %v", off, tc.wantA)
				}
				if off := e.Offset("b"); !near(off, tc.wB) {
					t.Fatalf("Offset(b) = %v, want %v", off, tc.wB)
				}
				if v, _ := e.Estimate("a", frac(0.2)); !near(v, 2+tc.wantA) {
					t.Fatalf("Estimate(a) = %v, want %v", v, 2+tc.wantA)
				}
				if v, _ := e.Estimate("stranger", frac(0.2)); !near(v, 2) {
					t.Fatalf("Estimate(stranger) = %v, want the curve 2", v)
				}
			})
		}
	})
}

// TestEstimatorFollowsChange: after the behaviour at distances above 0.25
// changes from 1 to 5, the estimate moves towards 5 as new events arrive and
// equals it exactly once Window new events have been reported (the stated
// bound), while distances below 0.25 stay at 1.
func TestEstimatorFollowsChange(t *testing.T) {
	const window = 64
	for _, hl := range []int{0, -1} {
		e := NewEstimator[int](EstimatorConfig{Window: window, HalfLife: hl})
		rng := randv2.New(randv2.NewPCG(3, 4))
		report := func(after bool) {
			x := rng.Float64() / 2
			y := 1.0
			if after && x >= 0.25 {
				y = 5
			}
			e.Report(rng.IntN(8), frac(x), y)
		}
		for range window {
			report(false)
		}
		prev, _ := e.EstimateGlobal(frac(0.4))
		if prev != 1 {
			t.Fatalf("before the change: %v, want 1", prev)
		}
		for i := 1; i <= window; i++ {
			report(true)
			got, _ := e.EstimateGlobal(frac(0.4))
			if got < prev-eps {
				t.Fatalf("halflife %d, event %d: estimate fell from %v to %v", hl, i, prev, got)
			}
			prev = got
		}
		if got, _ := e.EstimateGlobal(frac(0.4)); got != 5 {
			t.Fatalf("halflife %d: after a full window at 0.4: %v, want 5", hl, got)
		}
		if got, _ := e.EstimateGlobal(frac(0.1)); got != 1 {
			t.Fatalf("halflife %d: after a full window at 0.1: %v, want 1", hl, got)
		}
		for p := range 8 {
			if off := e.Offset(p); !near(off, 0) {
				t.Fatalf("halflife %d: noise-free data gave peer %d offset %v", hl, p, off)
			}
		}
	}
}

func TestEstimatorCurveMonotone(t *testing.T) {
	e := NewEstimator[int](EstimatorConfig{Window: 256})
	rng := randv2.New(randv2.NewPCG(5, 6))
	for range 1000 {
		e.Report(rng.IntN(16), rng.Uint64()>>1, rng.NormFloat64())
		steps := e.Curve(nil)
		for i := 1; i < len(steps); i++ {
			if steps[i].Value < steps[i-1].Value || steps[i].From <= steps[i-1].To {
				t.Fatalf("curve not monotone/ordered at %d: %+v", i, steps)
			}
		}
	}
}

func TestEstimatorQueriesDoNotAllocate(t *testing.T) {
	e := NewEstimator[int](EstimatorConfig{Window: 128})
	rng := randv2.New(randv2.NewPCG(1, 1))
	for range 512 { // fill the window and the peer map
		e.Report(rng.IntN(16), rng.Uint64()>>1, rng.Float64())
	}
	_, _ = e.Estimate(0, 0)
	n := testing.AllocsPerRun(200, func() {
		e.Report(rng.IntN(16), rng.Uint64()>>1, rng.Float64())
		_, _ = e.Estimate(rng.IntN(16), rng.Uint64()>>1) // forces a refit
		_, _ = e.Estimate(3, 12345)                      // fitted already
	})
	if n != 0 {
		t.Fatalf("Report+Estimate allocate %v per run", n)
	}
}

func TestEstimatorConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t)
	e := NewEstimator[int](EstimatorConfig{Window: 64})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := randv2.New(randv2.NewPCG(uint64(g), 9))
			for i := range 500 {
				e.Report(g, rng.Uint64()>>1, 1)
				if i%7 == 0 {
					if v, ok := e.Estimate(g, rng.Uint64()>>1); ok && !near(v, 1) {
						t.Errorf("estimate %v, want 1", v)
						return
					}
				}
				if g == 0 && i%100 == 0 {
					e.Reset()
				}
			}
		}()
	}
	wg.Wait()
	if e.Len() > 64 {
		t.Fatalf("Len %d above window", e.Len())
	}
}

type refEvent struct {
	peer int
	x    uint64
	y    float64
}

// refEstimate is the slow reference of Estimate: the last window events,
// weighted 2^(-age/halfLife), fitted from scratch by the min-max formula,
// the step function read at dist, plus the shrunken mean residual of peer.
func refEstimate(evs []refEvent, window int, halfLife, shrink float64, peer int, dist uint64) float64 {
	if len(evs) > window {
		evs = evs[len(evs)-window:]
	}
	pts := make([]point, len(evs))
	for i, ev := range evs {
		w := 1.0
		if halfLife > 0 {
			w = math.Exp2(-float64(len(evs)-1-i) / halfLife)
		}
		pts[i] = point{x: ev.x, y: ev.y, w: w}
	}
	sorted := slices.Clone(pts)
	slices.SortStableFunc(sorted, func(a, b point) int { return cmp.Compare(a.x, b.x) })
	fit := refIsotonic(sorted)
	at := func(x uint64) float64 {
		best, found := uint64(0), false
		for _, p := range sorted {
			if p.x <= x && (!found || p.x > best) {
				best, found = p.x, true
			}
		}
		if !found {
			best = sorted[0].x
		}
		return fit[best]
	}
	var swr, sw float64
	for i, ev := range evs {
		if ev.peer == peer {
			swr += pts[i].w * (ev.y - at(ev.x))
			sw += pts[i].w
		}
	}
	off := 0.0
	if sw > 0 {
		off = swr / (sw + shrink)
	}
	return at(dist) + off
}

// TestEstimatorMatchesReference drives the incremental estimator (sorted
// insertion, eviction, peer interning, weight rebasing) with random reports
// and compares every estimate with the from-scratch reference.
func TestEstimatorMatchesReference(t *testing.T) {
	tests := []struct {
		name     string
		window   int
		halfLife int
		shrink   float64
	}{
		{"decay, rebases often", 12, 1, 3},
		{"default decay", 16, 0, 8},
		{"no decay", 10, -1, 0.5},
		{"no shrinkage", 9, 2, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEstimator[int](EstimatorConfig{Window: tc.window, HalfLife: tc.halfLife, Shrinkage: tc.shrink})
			hl := float64(tc.halfLife)
			switch {
			case tc.halfLife == 0:
				hl = float64(max(1, tc.window/4))
			case tc.halfLife < 0:
				hl = 0
			}
			shrink := tc.shrink
			if shrink < 0 {
				shrink = 0
			}
			rng := randv2.New(randv2.NewPCG(uint64(tc.window), 5))
			var evs []refEvent
			for i := range 600 {
				ev := refEvent{peer: rng.IntN(5), x: uint64(rng.IntN(12)), y: float64(rng.IntN(9))}
				evs = append(evs, ev)
				e.Report(ev.peer, ev.x, ev.y)
				if i%100 == 99 {
					e.Reset()
					evs = evs[:0]
					continue
				}
				for range 3 {
					peer, dist := rng.IntN(6), uint64(rng.IntN(14))
					got, ok := e.Estimate(peer, dist)
					want := refEstimate(evs, tc.window, hl, shrink, peer, dist)
					if !ok || math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
						t.Fatalf("report %d: Estimate(%d, %d) = %v, reference %v", i, peer, dist, got, want)
					}
				}
			}
		})
	}
}
