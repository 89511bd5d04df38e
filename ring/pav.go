package ring

// Pool-adjacent-violators (PAV): the weighted least-squares isotonic
// (monotone non-decreasing) regression of y on x, in one left-to-right pass
// with a stack of blocks. Each block is a maximal run of consecutive x values
// fitted by one value, the weighted mean of its points; adjacent blocks are
// pooled while the left one's mean exceeds the right one's. O(n) amortized
// after sorting, allocation-free when out has capacity.
//
// Reference: Ayer, Brunk, Ewing, Reid and Silverman, "An empirical
// distribution function for sampling with incomplete information", Ann. Math.
// Statist. 26(4), 1955; Barlow et al., "Statistical Inference under Order
// Restrictions", 1972, ch. 1.

// point is one weighted observation.
type point struct {
	x    uint64  // ring distance
	y, w float64 // outcome and its weight (w > 0)
	seq  uint64  // the Estimator's report number (unused by pav)
	peer int32   // the Estimator's peer index (unused by pav)
}

// block is a run of pooled points with x in [lo, hi], fitted by sumWY/sumW.
type block struct {
	lo, hi      uint64
	sumWY, sumW float64
}

// mean returns the block's fitted value.
func (b *block) mean() float64 { return b.sumWY / b.sumW }

// pav fits pts, which must be sorted by x ascending with w > 0, and returns
// the blocks appended to out[:0] in x order. Points with equal x are
// aggregated before pooling, so the fit is a function of x. Block means are non-decreasing.
func pav(pts []point, out []block) []block {
	out = out[:0]
	for i := 0; i < len(pts); {
		// Aggregate the run of points with equal x first: the fit must be one
		// value per x, and pooling a tie into an already pooled block would
		// drag earlier x values along.
		b := block{lo: pts[i].x, hi: pts[i].x}
		for ; i < len(pts) && pts[i].x == b.lo; i++ {
			b.sumWY += pts[i].w * pts[i].y
			b.sumW += pts[i].w
		}
		out = append(out, b)
		// Pool while the last two blocks violate monotonicity. Compare
		// a/b > c/d as a*d > c*b (weights are positive) to avoid divisions.
		for n := len(out); n > 1; n-- {
			l, r := &out[n-2], &out[n-1]
			if l.sumWY*r.sumW <= r.sumWY*l.sumW {
				break
			}
			l.hi = r.hi
			l.sumWY += r.sumWY
			l.sumW += r.sumW
			out = out[:n-1]
		}
	}
	return out
}

// blockAt returns the index of the block whose fit applies at x: the last
// block with lo <= x, or 0 if x lies below every block. Between two blocks
// the left block's value holds (a right-continuous step function), so the
// fitted curve stays monotone everywhere. blocks must be non-empty.
func blockAt(blocks []block, x uint64) int {
	lo, hi := 0, len(blocks) // invariant: blocks[lo-1].lo <= x < blocks[hi].lo
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if blocks[m].lo <= x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0
	}
	return lo - 1
}
