package main

import "testing"

func TestStatSpread(t *testing.T) {
	s, ok := statOf([]float64{3, 1, 2, 10})
	if !ok || s.Median != 2.5 || s.Min != 1 || s.Max != 10 || s.N != 4 {
		t.Fatalf("got %+v", s)
	}
	if got, want := s.String(), "2.50 (1.00–10.0)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if _, ok := statOf(nil); ok {
		t.Error("a stat of no values")
	}
	one, _ := statOf([]float64{1234})
	if got := one.String(); got != "1234" {
		t.Errorf("one round: %q, want the median alone", got)
	}
}

// TestRatioPerRound: a ratio's spread is over per-round ratios, and a round
// that ran only one side is left out.
func TestRatioPerRound(t *testing.T) {
	d := runData{[]result{
		{Name: "A", Round: 0, Metrics: map[string]float64{"MB/s": 200}},
		{Name: "B", Round: 0, Metrics: map[string]float64{"MB/s": 100}},
		{Name: "A", Round: 1, Metrics: map[string]float64{"MB/s": 30}},
		{Name: "B", Round: 1, Metrics: map[string]float64{"MB/s": 10}},
		{Name: "A", Round: 2, Metrics: map[string]float64{"MB/s": 1000}}, // no B this round
	}}
	s, ok := d.ratio("A", "B", "MB/s")
	if !ok || s.N != 2 || s.Min != 2 || s.Max != 3 || s.Median != 2.5 {
		t.Fatalf("got %+v, want ratios 2 and 3", s)
	}
	if got, want := ratioString(s), "2.50× (2.00–3.00)"; got != want {
		t.Errorf("ratioString = %q, want %q", got, want)
	}
}

func TestNum(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want string
	}{{0, "0"}, {0.0123, "0.0123"}, {0.5, "0.5"}, {1.234, "1.23"}, {12.34, "12.3"}, {1234.5, "1234"}, {2.5e7, "2.5e+07"}} {
		if got := num(tt.v); got != tt.want {
			t.Errorf("num(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
