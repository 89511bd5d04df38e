package batchio

import (
	"math/rand/v2"
	"testing"
	"time"
)

func singles(n int) []run {
	rs := make([]run, n)
	for i := range rs {
		rs[i] = run{start: i, count: 1, size: 1200}
	}
	return rs
}

// predict is the length sendCost predicts for a call of runs.
func predict(e *sendCost, runs []run) time.Duration {
	h, s := e.costs()
	var d time.Duration
	for _, r := range runs {
		d += h + time.Duration(r.count-1)*s
	}
	return d
}

func TestSendCostNext(t *testing.T) {
	const us = time.Microsecond
	tests := []struct {
		name    string
		h, s    time.Duration // estimates; 0: none yet
		runs    []run
		budget  time.Duration
		wantN   int
		wantRaw bool
	}{
		{"no estimate: initialSendCost", 0, 0, singles(64), 20 * us, int(20 * us / initialSendCost), true},
		{"all fit", 1 * us, 0, singles(8), 20 * us, 8, true},
		{"cut at the budget", 3 * us, 0, singles(64), 20 * us, 6, true},
		{"exactly the budget fits", 5 * us, 0, singles(4), 20 * us, 4, true},
		{"one over the budget is cut", 5 * us, 0, singles(5), 20 * us, 4, true},
		{"one datagram over budget goes scheduled", 30 * us, 0, singles(3), 20 * us, 1, false},
		{"a GSO run over budget goes alone, scheduled", 1 * us, 1 * us, []run{{0, 64, 1000}, {64, 1, 10}}, 20 * us, 1, false},
		{"runs count their segments", 1 * us, 1 * us, []run{{0, 1, 10}, {1, 10, 100}, {11, 10, 100}}, 20 * us, 2, true},
		{"cheap segments: a run of 64 fits", 3 * us, us / 4, []run{{0, 64, 1000}, {64, 64, 1000}}, 20 * us, 1, true},
		{"cheap segments do not make headers cheap", 3 * us, us / 4, []run{{0, 64, 1000}, {64, 1, 10}, {65, 1, 10}}, 20 * us, 1, true},
		{"unmeasured segments cost initialSendCost", 1 * us, 0, []run{{0, 3, 100}, {3, 3, 100}}, 20 * us, 1, true},
		{"no budget: one scheduled call for the chunk", 1 * us, 0, singles(64), 0, 64, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sendCost{perHeader: tt.h, perSegment: tt.s}
			n, raw := e.next(tt.runs, tt.budget)
			if n != tt.wantN || raw != tt.wantRaw {
				t.Fatalf("next = %d, %v; want %d, %v", n, raw, tt.wantN, tt.wantRaw)
			}
			if n < 1 || n > len(tt.runs) {
				t.Fatalf("next = %d outside [1, %d]", n, len(tt.runs))
			}
		})
	}
}

func TestSendCostObserve(t *testing.T) {
	const us = time.Microsecond
	gso := func(counts ...int) []run {
		rs := make([]run, len(counts))
		for i, c := range counts {
			rs[i] = run{count: c, size: 1000}
		}
		return rs
	}
	type step struct {
		sent  []run
		took  time.Duration
		wantH time.Duration
		wantS time.Duration
	}
	tests := []struct {
		name  string
		h, s  time.Duration // before
		steps []step
	}{
		{"nothing sent: no information", 0, 0, []step{{nil, time.Second, 0, 0}}},
		{"first singles call sets perHeader", 0, 0, []step{{singles(4), 16 * us, 4 * us, 0}}},
		{"slower: taken at once", 4 * us, 0, []step{{singles(2), 20 * us, 10 * us, 0}}},
		{"faster: a quarter of the way", 10 * us, 0, []step{{singles(1), 2 * us, 8 * us, 0}}},
		{"rounded up, never below the measure", 0, 0, []step{{singles(3), 10 * us, 3334, 0}}},
		{"a quarter rounded up: reaches the measure", 3 * us, 0, []step{
			{singles(1), 3*us - 3, 3*us - 1, 0},
			{singles(1), 3*us - 3, 3*us - 2, 0},
			{singles(1), 3*us - 3, 3*us - 3, 0},
		}},
		{"a zero clock leaves 1ns", 2, 0, []step{{singles(64), 0, 1, 0}, {singles(64), 0, 1, 0}}},
		{"GSO: headers priced at perHeader, the rest to segments", 3 * us, 0, []step{
			{gso(1, 64), 6*us + 63*us/4, 3 * us, us / 4},
		}},
		{"GSO: segments slower, taken at once; perHeader kept", 3 * us, us / 4, []step{
			{gso(64), 3*us + 63*us, 3 * us, us},
		}},
		{"GSO: segments faster, a quarter of the way", 3 * us, us, []step{
			{gso(2), 3*us + 200, 3 * us, us - (us-200+3)/4},
		}},
		{"GSO: perHeader alone explains the call, both come down", 10 * us, us, []step{
			{gso(2), 4 * us, 10*us - 6*us/4, us - (us-1+3)/4},
		}},
		{"GSO: unmeasured perHeader starts at initialSendCost", 0, 0, []step{
			{gso(64), initialSendCost + 63*us, 0, us},
		}},
		{"GSO runs cheaper per datagram than singles leave perHeader alone", 3 * us, 0, []step{
			{gso(64, 64), 2 * 20 * us, 3 * us, ceilDiv(2*20*us-6*us, 126)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sendCost{perHeader: tt.h, perSegment: tt.s}
			for i, st := range tt.steps {
				e.observe(st.sent, st.took)
				if e.perHeader != st.wantH || e.perSegment != st.wantS {
					t.Fatalf("step %d: perHeader %v, perSegment %v; want %v, %v", i, e.perHeader, e.perSegment, st.wantH, st.wantS)
				}
			}
		})
	}
}

// TestSendCostPredictsWhatItSaw is the property raw sends rest on: right
// after a call is observed, a call of the same runs is predicted to take at
// least as long, whatever came before; and next cuts at the budget by that
// prediction. Random calls of singles and GSO runs, random lengths.
func TestSendCostPredictsWhatItSaw(t *testing.T) {
	const budget = 20 * time.Microsecond
	rng := rand.New(rand.NewPCG(1, 2))
	var e sendCost
	for i := range 20000 {
		runs := make([]run, 1+rng.IntN(16))
		for j := range runs {
			runs[j] = run{count: 1, size: 1000}
			if rng.IntN(2) == 0 {
				runs[j].count = 1 + rng.IntN(maxGSOSegments)
			}
		}
		took := time.Duration(rng.Int64N(int64(200 * time.Microsecond)))
		if rng.IntN(50) == 0 {
			took = time.Duration(rng.Int64N(int64(10 * time.Millisecond))) // a preempted call
		}
		e.observe(runs, took)
		if p := predict(&e, runs); p < took {
			t.Fatalf("call %d: %d runs took %v, predicted %v right after (%+v)", i, len(runs), took, p, e)
		}
		if e.perHeader < 0 || e.perSegment < 0 {
			t.Fatalf("call %d: estimate %+v", i, e)
		}
		n, raw := e.next(runs, budget)
		switch {
		case raw && predict(&e, runs[:n]) > budget:
			t.Fatalf("call %d: raw call of %d runs predicted %v", i, n, predict(&e, runs[:n]))
		case raw && n < len(runs) && predict(&e, runs[:n+1]) <= budget:
			t.Fatalf("call %d: cut at %d runs, one more fits", i, n)
		case !raw && (n != 1 || predict(&e, runs[:1]) <= budget):
			t.Fatalf("call %d: scheduled call of %d runs predicted %v", i, n, predict(&e, runs[:n]))
		}
	}
}

// TestSendCostConverges: on a steady path the estimate settles on the
// path's cost from above and from below within a bounded number of calls,
// and once settled every raw call it plans stays within budget. Singles
// set perHeader; GSO runs set perSegment and leave perHeader alone.
func TestSendCostConverges(t *testing.T) {
	const budget = 20 * time.Microsecond
	for _, path := range []time.Duration{200 * time.Nanosecond, 3 * time.Microsecond, 15 * time.Microsecond, 50 * time.Microsecond} {
		for _, start := range []time.Duration{0, time.Nanosecond, time.Millisecond} {
			e := sendCost{perHeader: start, perSegment: start}
			runs := singles(64)
			calls := 0
			for ; calls < 40; calls++ {
				n, raw := e.next(runs, budget)
				took := time.Duration(n) * path
				if calls > 0 && raw && took > budget && e.perHeader >= path {
					t.Fatalf("path %v: raw call of %d datagrams takes %v, estimate %v", path, n, took, e.perHeader)
				}
				e.observe(runs[:n], took)
			}
			if d := e.perHeader - path; d < 0 || d > path/10+time.Nanosecond {
				t.Fatalf("path %v from %v: estimate %v after %d calls", path, start, e.perHeader, calls)
			}
			// Settled: a raw call fits, a scheduled call is one datagram.
			n, raw := e.next(runs, budget)
			if raw && time.Duration(n)*path > budget || !raw && n != 1 {
				t.Fatalf("path %v settled: next = %d, %v", path, n, raw)
			}
			if wantRaw := path <= budget; raw != wantRaw {
				t.Fatalf("path %v settled: raw %v, want %v", path, raw, wantRaw)
			}

			// GSO runs of 32 at path per header and path/8 per segment:
			// perSegment settles, perHeader stays.
			h := e.perHeader
			gso := []run{{count: 32}, {count: 32}, {count: 32}}
			for range 80 {
				n, _ := e.next(gso, budget)
				e.observe(gso[:n], time.Duration(n)*(path+31*path/8))
			}
			if e.perHeader != h {
				t.Fatalf("path %v: GSO runs moved perHeader %v -> %v", path, h, e.perHeader)
			}
			// (perHeader, settled from above, may sit a little over path:
			// the segments are charged the rest.)
			if d := e.perSegment - path/8; d < -path/80-4 || d > path/80+4 {
				t.Fatalf("path %v from %v: perSegment %v, want about %v", path, start, e.perSegment, path/8)
			}
		}
	}
}
