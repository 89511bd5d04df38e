package ring

import (
	randv2 "math/rand/v2"
	"testing"
)

// BenchmarkEstimator measures a query on a fitted estimator (fitted) and a
// report followed by a query, which refits (report+refit), with the default
// window of 1024 events from 64 peers.
func BenchmarkEstimator(b *testing.B) {
	e := NewEstimator[int](EstimatorConfig{})
	rng := randv2.New(randv2.NewPCG(1, 2))
	for range 4096 {
		e.Report(rng.IntN(64), rng.Uint64()>>1, rng.ExpFloat64())
	}
	b.Run("fitted", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = e.Estimate(rng.IntN(64), rng.Uint64()>>1)
		}
	})
	b.Run("report+refit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e.Report(rng.IntN(64), rng.Uint64()>>1, rng.ExpFloat64())
			_, _ = e.Estimate(rng.IntN(64), rng.Uint64()>>1)
		}
	})
}
