package batchio

import (
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

func TestSendCostNext(t *testing.T) {
	const us = time.Microsecond
	tests := []struct {
		name    string
		per     time.Duration // estimate; 0: none yet
		runs    []run
		budget  time.Duration
		wantN   int
		wantRaw bool
	}{
		{"no estimate: initialSendCost", 0, singles(64), 20 * us, int(20 * us / initialSendCost), true},
		{"all fit", 1 * us, singles(8), 20 * us, 8, true},
		{"cut at the budget", 3 * us, singles(64), 20 * us, 6, true},
		{"exactly the budget fits", 5 * us, singles(4), 20 * us, 4, true},
		{"one over the budget is cut", 5 * us, singles(5), 20 * us, 4, true},
		{"one datagram over budget goes scheduled", 30 * us, singles(3), 20 * us, 1, false},
		{"a GSO run over budget goes alone, scheduled", 1 * us, []run{{0, 64, 1000}, {64, 1, 10}}, 20 * us, 1, false},
		{"runs count their segments", 1 * us, []run{{0, 1, 10}, {1, 10, 100}, {11, 10, 100}}, 20 * us, 2, true},
		{"no budget: one scheduled call for the chunk", 1 * us, singles(64), 0, 64, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sendCost{perDatagram: tt.per}
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
	var e sendCost
	e.observe(0, time.Second) // nothing sent: no information
	if e.perDatagram != 0 {
		t.Fatalf("estimate %v after an empty send", e.perDatagram)
	}
	e.observe(4, 16*time.Microsecond)
	if e.perDatagram != 4*time.Microsecond {
		t.Fatalf("first observation: %v, want 4µs", e.perDatagram)
	}
	// Slower: taken at once.
	e.observe(2, 20*time.Microsecond)
	if e.perDatagram != 10*time.Microsecond {
		t.Fatalf("after a slower call: %v, want 10µs", e.perDatagram)
	}
	// Faster: a quarter of the way.
	e.observe(1, 2*time.Microsecond)
	if e.perDatagram != 8*time.Microsecond {
		t.Fatalf("after a faster call: %v, want 8µs", e.perDatagram)
	}
	// A clock that reads 0 still leaves a positive estimate.
	for range 200 {
		e.observe(64, 0)
	}
	if e.perDatagram < 1 {
		t.Fatalf("estimate %v after zero-length calls", e.perDatagram)
	}
}

// TestSendCostConverges: on a steady path the estimate settles on the
// path's cost from above and from below within a bounded number of calls,
// and once settled every raw call it plans stays within budget.
func TestSendCostConverges(t *testing.T) {
	const budget = 20 * time.Microsecond
	for _, path := range []time.Duration{200 * time.Nanosecond, 3 * time.Microsecond, 15 * time.Microsecond, 50 * time.Microsecond} {
		for _, start := range []time.Duration{0, time.Nanosecond, time.Millisecond} {
			e := sendCost{perDatagram: start}
			runs := singles(64)
			calls := 0
			for ; calls < 40; calls++ {
				n, raw := e.next(runs, budget)
				took := time.Duration(n) * path
				if calls > 0 && raw && took > budget && e.perDatagram >= path {
					t.Fatalf("path %v: raw call of %d datagrams takes %v, estimate %v", path, n, took, e.perDatagram)
				}
				e.observe(n, took)
			}
			if d := e.perDatagram - path; d < 0 || d > path/10+time.Nanosecond {
				t.Fatalf("path %v from %v: estimate %v after %d calls", path, start, e.perDatagram, calls)
			}
			// Settled: a raw call fits, a scheduled call is one datagram.
			n, raw := e.next(runs, budget)
			if raw && time.Duration(n)*path > budget || !raw && n != 1 {
				t.Fatalf("path %v settled: next = %d, %v", path, n, raw)
			}
			if wantRaw := path <= budget; raw != wantRaw {
				t.Fatalf("path %v settled: raw %v, want %v", path, raw, wantRaw)
			}
		}
	}
}
