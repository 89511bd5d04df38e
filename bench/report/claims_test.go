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
