package core

import (
	"math/rand/v2"
	"testing"
	"time"
)

// constSource is a rand.Source that always returns the same word, so the
// jitter draw u = Float64() is pinned: 0 gives u = 0, 1<<52 gives u = 0.5,
// and ^0 gives the largest u below 1.
type constSource uint64

func (s constSource) Uint64() uint64 { return uint64(s) }

// TestBackoffJitterBounds pins the jitter draw to its extremes and checks
// every delay of the sequence against the documented bounds: d =
// min(base*2^k, max), delay uniform over [d*(1-j), min(d*(1+j), max)]. The
// cap bounds the final delay (a cap applied before jitter lets the top draw
// reach max*(1+j), 72 s with the defaults). Table over draws and exponents.
func TestBackoffJitterBounds(t *testing.T) {
	const j = DefaultBackoffJitter
	base, maxD := DefaultBackoffBase, DefaultBackoffMax
	draws := []struct {
		name string
		src  constSource
		u    float64
	}{
		{"lowest", 0, 0},
		{"middle", 1 << 52, 0.5},
		{"highest", ^constSource(0), float64(1<<53-1) / (1 << 53)},
	}
	for _, dr := range draws {
		t.Run(dr.name, func(t *testing.T) {
			n, err := New(Config{Local: PeerKey{1}, ManualAdvance: true, Rand: rand.New(dr.src)})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			for k := uint32(0); k < 70; k++ { // past the cap and past shift overflow
				d := maxD
				if k < 20 {
					d = min(base<<k, maxD)
				}
				lo := float64(d) * (1 - j)
				hi := min(float64(d)*(1+j), float64(maxD))
				want := time.Duration(lo + (hi-lo)*dr.u)
				got := n.backoff(k)
				if got > maxD {
					t.Fatalf("backoff(%d) = %v exceeds the cap %v", k, got, maxD)
				}
				if got < time.Duration(lo) || float64(got) > hi {
					t.Fatalf("backoff(%d) = %v, want in [%v, %v]", k, got, time.Duration(lo), time.Duration(hi))
				}
				// Within a nanosecond of the pinned draw (float rounding).
				if diff := got - want; diff < -1 || diff > 1 {
					t.Fatalf("backoff(%d) = %v, want %v for u = %v", k, got, want, dr.u)
				}
			}
		})
	}
}

// TestBackoffWithoutJitter: NoJitter gives exact doubling, capped.
func TestBackoffWithoutJitter(t *testing.T) {
	n, err := New(Config{Local: PeerKey{1}, ManualAdvance: true, NoJitter: true})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for k, want := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
		8 * time.Second, 16 * time.Second, 32 * time.Second, 60 * time.Second, 60 * time.Second} {
		if got := n.backoff(uint32(k)); got != want {
			t.Errorf("backoff(%d) = %v, want %v", k, got, want)
		}
	}
	if got := n.backoff(1000); got != DefaultBackoffMax {
		t.Errorf("backoff(1000) = %v, want the cap", got)
	}
}
