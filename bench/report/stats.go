package main

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// stat is one figure of the report: the median over the rounds that
// measured it and the spread of those rounds (their minimum and maximum).
// For a ratio the values are the per-round ratios, each from two lines of
// the same round.
type stat struct {
	Median, Min, Max float64
	N                int // rounds that measured it
}

func median(vs []float64) float64 {
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func statOf(vs []float64) (stat, bool) {
	if len(vs) == 0 {
		return stat{}, false
	}
	s := stat{Median: median(vs), Min: math.Inf(1), Max: math.Inf(-1), N: len(vs)}
	for _, v := range vs {
		s.Min, s.Max = math.Min(s.Min, v), math.Max(s.Max, v)
	}
	return s, true
}

// run is every result line of a run, with lookups by name, unit and round.
type runData struct{ rs []result }

// byRound returns name's unit metric per round (the median, if a round ran
// it more than once).
func (d runData) byRound(name, unit string) map[int]float64 {
	vals := map[int][]float64{}
	for _, r := range d.rs {
		if x, ok := r.Metrics[unit]; ok && r.Name == name {
			vals[r.Round] = append(vals[r.Round], x)
		}
	}
	out := make(map[int]float64, len(vals))
	for round, vs := range vals {
		out[round] = median(vs)
	}
	return out
}

// stat is the median and spread of name's unit metric over the rounds.
func (d runData) stat(name, unit string) (stat, bool) {
	var vs []float64
	for _, v := range d.byRound(name, unit) {
		vs = append(vs, v)
	}
	return statOf(vs)
}

// ratio is the median and spread of the per-round ratios num/den of one
// metric: a round that ran only one side, or a zero denominator, is left
// out, so a slow round slows both sides of its own ratio only.
func (d runData) ratio(num, den, unit string) (stat, bool) {
	return d.ratio2(num, unit, den, unit)
}

// ratio2 is ratio with a unit per side.
func (d runData) ratio2(num, numUnit, den, denUnit string) (stat, bool) {
	n, dd := d.byRound(num, numUnit), d.byRound(den, denUnit)
	var vs []float64
	for round, x := range n {
		if y, ok := dd[round]; ok && y != 0 {
			vs = append(vs, x/y)
		}
	}
	return statOf(vs)
}

// has reports whether any line of the run is named name.
func (d runData) has(name string) bool {
	for _, r := range d.rs {
		if r.Name == name {
			return true
		}
	}
	return false
}

// num formats a figure with three significant digits, without exponent up
// to a million.
func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprint(v)
	case a >= 1e6:
		return fmt.Sprintf("%.3g", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// String is "median (min–max)", or the median alone when one round
// measured it or every round agreed.
func (s stat) String() string {
	if s.N <= 1 || num(s.Min) == num(s.Max) {
		return num(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", num(s.Median), num(s.Min), num(s.Max))
}

// ratioString is a ratio's "median× (min–max)".
func ratioString(s stat) string {
	if s.N <= 1 || num(s.Min) == num(s.Max) {
		return num(s.Median) + "×"
	}
	return fmt.Sprintf("%s× (%s–%s)", num(s.Median), num(s.Min), num(s.Max))
}

// notMeasured is what a cell says when its benchmark is absent from the run
// (not written yet, skipped, failed, or one side of a ratio missing).
const notMeasured = "not measured"
