package netem

import (
	"slices"
	"testing"
	"time"
)

// allOn turns on every impairment (bursty loss stands in for loss, since
// only one model may be active).
func allOn(seed uint64) Config {
	return Config{
		Burst:     GilbertElliott{P: 0.02, R: 0.3, LossGood: 0.01, LossBad: 0.8},
		Delay:     20 * time.Millisecond,
		Jitter:    5 * time.Millisecond,
		Reorder:   0.02,
		Duplicate: 0.02,
		Corrupt:   0.02,
		Rate:      10_000_000,
		Seed:      seed,
	}
}

// trace offers a fixed, bursty pattern of datagrams and records every fate,
// with a {-1, -1} separator per datagram so drops show.
func trace(l *Link, n int) []Fate {
	out := make([]Fate, 0, 2*n)
	now := at(0)
	for i := range n {
		now += at(int64(i%7) * int64(50*time.Microsecond))
		out = l.Decide(out, now, 200+(i*131)%1200)
		out = append(out, Fate{At: -1, Bit: -1})
	}
	return out
}

func TestDeterminism(t *testing.T) {
	const n = 20_000
	cfgs := []struct {
		name string
		cfg  func(seed uint64) Config
	}{
		{"all on", allOn},
		{"independent loss", func(s uint64) Config {
			return Config{Loss: 0.1, Delay: time.Millisecond, Jitter: time.Millisecond, JitterReorders: true, Seed: s}
		}},
	}
	for _, c := range cfgs {
		t.Run(c.name, func(t *testing.T) {
			a, b := mustNew(t, c.cfg(42)), mustNew(t, c.cfg(42))
			ta, tb := trace(a, n), trace(b, n)
			if !slices.Equal(ta, tb) {
				t.Fatal("two links with seed 42 and the same calls decided differently")
			}
			if a.Stats() != b.Stats() {
				t.Fatalf("stats differ: %+v vs %+v", a.Stats(), b.Stats())
			}
			if tc := trace(mustNew(t, c.cfg(43)), n); slices.Equal(ta, tc) {
				t.Fatal("seeds 42 and 43 decided identically")
			}
			checkConservation(t, a.Stats())
		})
	}
}
