package netem

import (
	"math"
	"testing"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// at turns nanoseconds into a Time, for readable test tables.
func at(ns int64) monotime.Time { return monotime.Time(ns) }

// checkConservation asserts the Stats identity of doc.go.
func checkConservation(t *testing.T, s Stats) {
	t.Helper()
	if s.Sent != s.DroppedLoss+s.DroppedBurst+s.DroppedQueue+s.Delivered-s.Duplicated {
		t.Fatalf("conservation broken: %+v", s)
	}
}

// within asserts that a count of successes in n Bernoulli(p) trials is
// within 4 standard deviations of n*p: for independent trials the count is
// binomial, sd = sqrt(n p (1-p)). With a fixed seed the outcome is fixed,
// so this cannot flake; the bound says what the test means.
func within(t *testing.T, what string, got uint64, n uint64, p float64) {
	t.Helper()
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	if d := math.Abs(float64(got) - mean); d > 4*sd {
		t.Errorf("%s: %d of %d, want %.1f +- %.1f (4 sd)", what, got, n, mean, 4*sd)
	}
}
