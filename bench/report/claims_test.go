package main

import (
	"strings"
	"testing"
)

func TestEvaluate(t *testing.T) {
	rs := []result{
		{Name: "A/fast", Metrics: map[string]float64{"ns/op": 10}},
		{Name: "A/slow", Metrics: map[string]float64{"ns/op": 1000}},
		{Name: "M", Metrics: map[string]float64{"B/peer": 300}},
	}
	cs := []claim{
		{What: "ratio met", Num: "A/slow", Den: "A/fast", Unit: "ns/op", Target: 100},
		{What: "ratio missed", Num: "A/slow", Den: "A/fast", Unit: "ns/op", Target: 101},
		{What: "absolute missed", Num: "M", Unit: "B/peer", Target: 256, AtMost: true},
		{What: "absent", Num: "Z", Unit: "ns/op", Target: 1},
		{What: "absent unit", Num: "M", Unit: "ns/op", Target: 1},
	}
	want := []struct {
		found, met bool
		value      float64
	}{{true, true, 100}, {true, false, 100}, {true, false, 300}, {false, false, 0}, {false, false, 0}}
	got := evaluate(cs, rs)
	for i, w := range want {
		if got[i].Found != w.found || got[i].Met != w.met || got[i].Value.Median != w.value {
			t.Errorf("%s: got found=%v met=%v value=%v, want %+v", cs[i].What, got[i].Found, got[i].Met, got[i].Value, w)
		}
	}
}

func TestEvaluateUsesMedians(t *testing.T) {
	rs := []result{
		{Name: "M", Metrics: map[string]float64{"B/peer": 100}},
		{Name: "M", Metrics: map[string]float64{"B/peer": 900}}, // a noisy outlier
		{Name: "M", Metrics: map[string]float64{"B/peer": 200}},
	}
	v := evaluate([]claim{{Num: "M", Unit: "B/peer", Target: 256, AtMost: true}}, rs)[0]
	if !v.Found || v.Value.Median != 200 || !v.Met {
		t.Fatalf("got %+v, want median 200 met", v)
	}
}

// TestEvaluatePairsRounds: a ratio is taken within each round, then the
// median over rounds. A machine that slows down for a whole round slows both
// sides of that round's ratio. Medians taken separately would mix rounds:
// here 200/15 = 13.3, where the paired ratios are 10, 10 and 2.2.
func TestEvaluatePairsRounds(t *testing.T) {
	rs := []result{
		{Name: "B/base", Round: 0, Metrics: map[string]float64{"ns/op": 100}},
		{Name: "B/fast", Round: 0, Metrics: map[string]float64{"ns/op": 10}},
		{Name: "B/base", Round: 1, Metrics: map[string]float64{"ns/op": 200}}, // a slow round
		{Name: "B/fast", Round: 1, Metrics: map[string]float64{"ns/op": 20}},
		{Name: "B/base", Round: 2, Metrics: map[string]float64{"ns/op": 200}},
		{Name: "B/fast", Round: 2, Metrics: map[string]float64{"ns/op": 90}}, // a noisy outlier
		{Name: "B/fast", Round: 3, Metrics: map[string]float64{"ns/op": 5}},  // no baseline this round: ignored
	}
	v := evaluate([]claim{{Num: "B/base", Den: "B/fast", Unit: "ns/op", Target: 7}}, rs)[0]
	if !v.Found || v.Value.Median != 10 || !v.Met {
		t.Fatalf("got %+v, want the median per-round ratio 10, met", v)
	}
}

// TestAbsentIsNotMeasured: a claim whose benchmark did not run (not
// written yet, skipped, failed to build), or a ratio with one side missing,
// is reported "not measured" and never met.
func TestAbsentIsNotMeasured(t *testing.T) {
	rs := []result{{Name: "A/base", Metrics: map[string]float64{"msgs/s": 100}}}
	cs := []claim{
		{What: "absent", Num: "BenchmarkIdleSessions", Unit: "B/session", Target: 16384, AtMost: true},
		{What: "ratio, numerator absent", Num: "A/new", Den: "A/base", Unit: "msgs/s", Target: 1.5},
		{What: "ratio, denominator absent", Num: "A/base", Den: "A/new", Unit: "msgs/s", Target: 1, AtMost: true},
	}
	for i, v := range evaluate(cs, rs) {
		if v.Found || v.Met {
			t.Errorf("%s: found=%v met=%v, want neither", cs[i].What, v.Found, v.Met)
		}
		if s := v.row(); !strings.HasSuffix(s, "| not measured in this run") {
			t.Errorf("%s: row %q does not say not measured", cs[i].What, s)
		}
	}
}

// TestCellsClaim: "ahead of kcp-go everywhere" is met only if every cell
// was measured and met; the row lists the cells that missed and those not
// measured, and its value is the worst cell's.
func TestCellsClaim(t *testing.T) {
	c := claim{What: "ahead", Num: "p", Den: "k", Unit: "MB/s", Target: 1, Cells: []string{"B/{}", "L/a/{}", "L/b/{}"}}
	mk := func(name string, v float64) result { return result{Name: name, Metrics: map[string]float64{"MB/s": v}} }
	tests := []struct {
		name      string
		rs        []result
		found     bool
		met       bool
		worst     float64
		rowSuffix string
		detail    string
	}{
		{"all ahead", []result{mk("B/p", 3), mk("B/k", 1), mk("L/a/p", 2), mk("L/a/k", 1), mk("L/b/p", 1.5), mk("L/b/k", 1)}, true, true, 1.5, "| met", ""},
		{"one behind", []result{mk("B/p", 3), mk("B/k", 1), mk("L/a/p", 1), mk("L/a/k", 2), mk("L/b/p", 1.5), mk("L/b/k", 1)}, true, false, 0.5, "| MISSED", "missed in: L/a 0.5×"},
		{"one cell absent", []result{mk("B/p", 3), mk("B/k", 1), mk("L/a/p", 2), mk("L/a/k", 1), mk("L/b/p", 1.5)}, true, false, 2, "| incomplete: met where measured", "not measured in this run: L/b"},
		{"nothing", nil, false, false, 0, "| not measured in this run", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := evaluate([]claim{c}, tt.rs)[0]
			if v.Found != tt.found || v.Met != tt.met || v.Value.Median != tt.worst {
				t.Fatalf("got found=%v met=%v value=%v, want %v %v %v", v.Found, v.Met, v.Value.Median, tt.found, tt.met, tt.worst)
			}
			if v.Detail != tt.detail {
				t.Errorf("detail %q, want %q", v.Detail, tt.detail)
			}
			if r := v.row(); !strings.HasSuffix(r, tt.rowSuffix) {
				t.Errorf("row %q does not end in %q", r, tt.rowSuffix)
			}
		})
	}
}

// TestContractClaims: the end-to-end claims find their lines in a run of
// the whole contract, and a run without kcp-go or the ceiling says so
// rather than failing.
func TestContractClaims(t *testing.T) {
	for _, v := range evaluate(e2eClaims, synthRun(3)) {
		if v.Issue == "#12" && strings.Contains(v.What, "relay") {
			continue // BenchmarkRelay is a component of the library, not in synthRun
		}
		if !v.Found {
			t.Errorf("%s: not found in a full run", v.What)
		}
	}
	vs := evaluate(e2eClaims, synthRun(3, "kcp-go", "Ceiling"))
	for _, v := range vs {
		if strings.Contains(v.What, "kcp-go") || strings.Contains(v.What, "ceiling") {
			if v.Found || v.Met || !strings.HasSuffix(v.row(), "not measured in this run") {
				t.Errorf("%s: %s, want not measured", v.What, v.row())
			}
		}
	}
	// synthRun: petrel-gnet 300 against quic-go 150 MB/s in each round.
	if v := vs[0]; !v.Found || v.Value.Median != 2 || !v.Met {
		t.Errorf("%s: %+v, want 2x met", v.What, v)
	}
}
