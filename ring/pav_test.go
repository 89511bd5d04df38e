package ring

import (
	"github.com/petrel-transport/petrel/internal/fuzzseed"
	"math"
	randv2 "math/rand/v2"
	"slices"
	"testing"
)

const eps = 1e-9

func near(a, b float64) bool { return math.Abs(a-b) <= eps*math.Max(1, math.Abs(b)) }

// fitAt returns the fitted value at each input point.
func fitAt(pts []point, blocks []block) []float64 {
	out := make([]float64, len(pts))
	for i, p := range pts {
		out[i] = blocks[blockAt(blocks, p.x)].mean()
	}
	return out
}

func TestPAVHandComputed(t *testing.T) {
	pt := func(x uint64, y, w float64) point { return point{x: x, y: y, w: w} }
	tests := []struct {
		name string
		pts  []point
		want []float64 // fitted value per point
		nblk int
	}{
		{"empty", nil, nil, 0},
		{"single", []point{pt(5, 3, 1)}, []float64{3}, 1},
		{"already monotone", []point{pt(1, 1, 1), pt(2, 2, 1), pt(3, 3, 1)}, []float64{1, 2, 3}, 3},
		// 1 3 2 -> pool (3,2) to 2.5.
		{"one violation", []point{pt(1, 1, 1), pt(2, 3, 1), pt(3, 2, 1)}, []float64{1, 2.5, 2.5}, 2},
		// 3 2 1 -> all pooled to 2.
		{"decreasing", []point{pt(1, 3, 1), pt(2, 2, 1), pt(3, 1, 1)}, []float64{2, 2, 2}, 1},
		// 1 4 2 3 -> (4,2) pools to 3, then 3 vs 3 is fine: 1 3 3 3 in two or three blocks.
		{"cascade stops", []point{pt(1, 1, 1), pt(2, 4, 1), pt(3, 2, 1), pt(4, 3, 1)}, []float64{1, 3, 3, 3}, 3},
		// 2 3 0 -> (3,0) pools to 1.5 < 2 -> pool all: (2+3+0)/3 = 5/3.
		{"cascade back", []point{pt(1, 2, 1), pt(2, 3, 1), pt(3, 0, 1)}, []float64{5.0 / 3, 5.0 / 3, 5.0 / 3}, 1},
		// Weighted: y 4 (w 3), 1 (w 1) -> (12+1)/4 = 3.25.
		{"weighted pair", []point{pt(1, 4, 3), pt(2, 1, 1)}, []float64{3.25, 3.25}, 1},
		// Weighted: 1(w1) 5(w1) 2(w3) -> (5+6)/4 = 2.75 >= 1, stop.
		{"weighted pool", []point{pt(1, 1, 1), pt(2, 5, 1), pt(3, 2, 3)}, []float64{1, 2.75, 2.75}, 2},
		// Ties at x=2: (4 w1, 0 w3) pool to 1 regardless of order; then 2 > 1 pools with x=1: (2+4+0)/5 = 1.2.
		{"ties pool", []point{pt(1, 2, 1), pt(2, 4, 1), pt(2, 0, 3)}, []float64{1.2, 1.2, 1.2}, 1},
		{"ties monotone", []point{pt(1, 0, 1), pt(2, 4, 1), pt(2, 6, 1)}, []float64{0, 5, 5}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			blocks := pav(tc.pts, nil)
			if len(blocks) != tc.nblk {
				t.Fatalf("got %d blocks %+v, want %d", len(blocks), blocks, tc.nblk)
			}
			got := fitAt(tc.pts, blocks)
			for i := range got {
				if !near(got[i], tc.want[i]) {
					t.Fatalf("fit = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// refIsotonic is the slow reference: the min-max formula
// fit(i) = max_{j<=i} min_{k>=i} mean(j..k), over distinct x values with tied
// points aggregated first. O(n^3).
func refIsotonic(pts []point) map[uint64]float64 {
	var xs []uint64
	var swy, sw []float64
	for _, p := range pts {
		if n := len(xs); n > 0 && xs[n-1] == p.x {
			swy[n-1] += p.w * p.y
			sw[n-1] += p.w
			continue
		}
		xs = append(xs, p.x)
		swy = append(swy, p.w*p.y)
		sw = append(sw, p.w)
	}
	fit := map[uint64]float64{}
	for i := range xs {
		best := math.Inf(-1)
		for j := 0; j <= i; j++ {
			low := math.Inf(1)
			for k := i; k < len(xs); k++ {
				var a, b float64
				for m := j; m <= k; m++ {
					a += swy[m]
					b += sw[m]
				}
				low = math.Min(low, a/b)
			}
			best = math.Max(best, low)
		}
		fit[xs[i]] = best
	}
	return fit
}

// TestPAVProperties checks, on random small inputs (weighted and not): the
// output is monotone, each block's value is the weighted mean of its points,
// blocks tile the points in order, and the fit equals the slow reference.
func TestPAVProperties(t *testing.T) {
	rng := randv2.New(randv2.NewPCG(7, 11))
	for _, weighted := range []bool{false, true} {
		name := "unweighted"
		if weighted {
			name = "weighted"
		}
		t.Run(name, func(t *testing.T) {
			for iter := range 2000 {
				n := 1 + rng.IntN(12)
				pts := make([]point, n)
				for i := range pts {
					pts[i] = point{x: uint64(rng.IntN(10)), y: float64(rng.IntN(7)), w: 1}
					if weighted {
						pts[i].w = 0.25 + rng.Float64()*4
					}
				}
				slices.SortFunc(pts, func(a, b point) int { return int(a.x) - int(b.x) })
				blocks := pav(pts, nil)
				ref := refIsotonic(pts)
				pi := 0
				for bi, b := range blocks {
					if bi > 0 && blocks[bi-1].mean() > b.mean()+eps {
						t.Fatalf("iter %d: not monotone at block %d: %+v", iter, bi, blocks)
					}
					if bi > 0 && blocks[bi-1].hi >= b.lo {
						t.Fatalf("iter %d: blocks overlap: %+v", iter, blocks)
					}
					var swy, sw float64
					for pi < len(pts) && pts[pi].x <= b.hi {
						if pts[pi].x < b.lo {
							t.Fatalf("iter %d: point %d outside blocks", iter, pi)
						}
						swy += pts[pi].w * pts[pi].y
						sw += pts[pi].w
						pi++
					}
					if !near(b.mean(), swy/sw) || !near(b.sumW, sw) {
						t.Fatalf("iter %d: block %d mean %v, weighted mean of its points %v", iter, bi, b.mean(), swy/sw)
					}
				}
				if pi != len(pts) {
					t.Fatalf("iter %d: blocks cover %d of %d points", iter, pi, len(pts))
				}
				for _, p := range pts {
					if got := blocks[blockAt(blocks, p.x)].mean(); !near(got, ref[p.x]) {
						t.Fatalf("iter %d: fit at x=%d is %v, reference %v (pts %+v)", iter, p.x, got, ref[p.x], pts)
					}
				}
			}
		})
	}
}

func TestBlockAt(t *testing.T) {
	blocks := []block{{lo: 10, hi: 20}, {lo: 30, hi: 30}, {lo: 40, hi: 50}}
	tests := []struct {
		x    uint64
		want int
	}{{0, 0}, {10, 0}, {25, 0}, {30, 1}, {39, 1}, {40, 2}, {1 << 63, 2}}
	for _, tc := range tests {
		if got := blockAt(blocks, tc.x); got != tc.want {
			t.Errorf("blockAt(%d) = %d, want %d", tc.x, got, tc.want)
		}
	}
}

// FuzzPAV compares pav with the slow min-max reference on inputs decoded
// from bytes: each 3-byte group is a point (x in [0,16), y in [0,16), w in
// 1..8).
func FuzzPAV(f *testing.F) {
	fuzzseed.Add(f, []byte{1, 3, 1, 2, 1, 1, 3, 2, 1})
	fuzzseed.Add(f, []byte{5, 9, 8, 5, 0, 1, 4, 15, 2, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 3*16 {
			data = data[:3*16] // the reference is O(n^3)
		}
		var pts []point
		for i := 0; i+2 < len(data); i += 3 {
			pts = append(pts, point{x: uint64(data[i] & 15), y: float64(data[i+1] & 15), w: float64(data[i+2]&7 + 1)})
		}
		slices.SortStableFunc(pts, func(a, b point) int { return int(a.x) - int(b.x) })
		blocks := pav(pts, nil)
		ref := refIsotonic(pts)
		for i := 1; i < len(blocks); i++ {
			if blocks[i-1].mean() > blocks[i].mean()+eps {
				t.Fatalf("not monotone: %+v", blocks)
			}
		}
		for _, p := range pts {
			if got := blocks[blockAt(blocks, p.x)].mean(); !near(got, ref[p.x]) {
				t.Fatalf("fit at x=%d is %v, reference %v (pts %+v)", p.x, got, ref[p.x], pts)
			}
		}
	})
}
