package main

import "testing"

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
		if got[i].Found != w.found || got[i].Met != w.met || got[i].Value != w.value {
			t.Errorf("%s: got found=%v met=%v value=%v, want %+v", cs[i].What, got[i].Found, got[i].Met, got[i].Value, w)
		}
	}
}

func TestEvaluateUsesMedians(t *testing.T) {
	rs := []result{
		{Name: "B/base", Metrics: map[string]float64{"ns/op": 100}},
		{Name: "B/fast", Metrics: map[string]float64{"ns/op": 10}},
		{Name: "B/fast", Metrics: map[string]float64{"ns/op": 90}}, // a noisy outlier
		{Name: "B/fast", Metrics: map[string]float64{"ns/op": 20}},
		{Name: "B/base", Metrics: map[string]float64{"ns/op": 200}},
	}
	v := evaluate([]claim{{Num: "B/base", Den: "B/fast", Unit: "ns/op", Target: 7}}, rs)[0]
	// median base = 150 (even count), median fast = 20
	if !v.Found || v.Value != 7.5 || !v.Met {
		t.Fatalf("got %+v, want ratio 7.5 met", v)
	}
}
