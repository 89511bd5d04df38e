package ring

import "math"

// The estimator's window: events in arrival order (to know which to evict),
// their points kept sorted by distance for the fit, peers interned to small
// indexes, and weights stored relative to a base that is moved now and then.

// rebaseHalfLives is how far (in half-lives) the newest weight may grow above
// the base before all stored weights are rescaled: 2^64 at most.
const rebaseHalfLives = 64

// addLocked appends one event to the window, evicting the oldest if it is
// full, and keeps pts sorted: O(Window) memory moves, O(log Window) search.
func (e *Estimator[K]) addLocked(peer K, dist uint64, outcome float64) {
	if e.halfLife != 0 && float64(e.seq-e.base) >= rebaseHalfLives*e.halfLife {
		// Rescale so the next report weighs 1 again; relative weights, and
		// so the fit, do not change.
		f := math.Exp2(-float64(e.seq-e.base) / e.halfLife)
		for i := range e.pts {
			e.pts[i].w *= f
		}
		e.base = e.seq
	}
	ref := evRef{x: dist, seq: e.seq}
	if len(e.ring) < e.window {
		e.ring = append(e.ring, ref)
	} else {
		e.evictLocked(e.ring[e.head])
		e.ring[e.head] = ref
		if e.head++; e.head == e.window {
			e.head = 0
		}
	}
	p := point{x: dist, y: outcome, w: e.weightLocked(e.seq), seq: e.seq, peer: e.internLocked(peer)}
	e.seq++
	// seq is the largest so far: insert after every point with x <= dist.
	i := e.searchLocked(evRef{x: dist, seq: math.MaxUint64})
	e.pts = append(e.pts, point{})
	copy(e.pts[i+1:], e.pts[i:])
	e.pts[i] = p
}

// weightLocked returns the stored weight of report number seq.
func (e *Estimator[K]) weightLocked(seq uint64) float64 {
	if e.halfLife == 0 {
		return 1
	}
	return math.Exp2(float64(seq-e.base) / e.halfLife)
}

// evictLocked removes the point of ref and releases its peer index.
func (e *Estimator[K]) evictLocked(ref evRef) {
	i := e.searchLocked(ref)
	if i == len(e.pts) || e.pts[i].x != ref.x || e.pts[i].seq != ref.seq {
		panic("ring: estimator index out of sync") // a bug, never an input
	}
	idx := e.pts[i].peer
	e.pts = append(e.pts[:i], e.pts[i+1:]...)
	if e.refs[idx]--; e.refs[idx] == 0 {
		var zero K
		delete(e.peerIdx, e.peerKey[idx])
		e.peerKey[idx] = zero
		e.free = append(e.free, idx)
	}
}

// internLocked returns peer's index, taking one reference for a new event.
func (e *Estimator[K]) internLocked(peer K) int32 {
	idx, ok := e.peerIdx[peer]
	if !ok {
		if n := len(e.free); n > 0 {
			idx = e.free[n-1]
			e.free = e.free[:n-1]
		} else {
			idx = int32(len(e.peerKey))
			e.peerKey = append(e.peerKey, peer)
			e.refs = append(e.refs, 0)
		}
		e.peerKey[idx] = peer
		e.peerIdx[peer] = idx
	}
	e.refs[idx]++
	return idx
}

// searchLocked returns the index of the first point not ordered before ref
// by (x, seq).
func (e *Estimator[K]) searchLocked(ref evRef) int {
	lo, hi := 0, len(e.pts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if p := &e.pts[m]; p.x < ref.x || (p.x == ref.x && p.seq < ref.seq) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// newestWeightLocked is the stored weight of the newest event: the unit in
// which Shrinkage and CurveStep.Weight are expressed.
func (e *Estimator[K]) newestWeightLocked() float64 { return e.weightLocked(e.seq - 1) }
