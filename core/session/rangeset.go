package session

// span is the half-open byte range [lo, hi).
type span struct{ lo, hi uint64 }

// rangeSet is a set of byte offsets kept as sorted, disjoint, non-adjacent
// spans. Its slice is reused; a set that empties keeps its capacity only
// while it is small.
type rangeSet struct{ s []span }

// add inserts [lo, hi), merging neighbours.
func (r *rangeSet) add(lo, hi uint64) {
	if lo >= hi {
		return
	}
	s := r.s
	// First span that ends at or after lo (it may merge).
	i := 0
	for i < len(s) && s[i].hi < lo {
		i++
	}
	j := i
	for j < len(s) && s[j].lo <= hi {
		lo = min(lo, s[j].lo)
		hi = max(hi, s[j].hi)
		j++
	}
	switch {
	case i == j: // insert
		s = append(s, span{})
		copy(s[i+1:], s[i:])
		s[i] = span{lo, hi}
	default: // replace s[i:j] by one span
		s[i] = span{lo, hi}
		s = append(s[:i+1], s[j:]...)
	}
	r.s = s
}

// covers reports whether [lo, hi) is wholly in the set.
func (r *rangeSet) covers(lo, hi uint64) bool {
	for _, x := range r.s {
		if x.lo <= lo {
			if hi <= x.hi {
				return true
			}
			continue
		}
		return false
	}
	return false
}

// trimBelow removes every offset below off.
func (r *rangeSet) trimBelow(off uint64) {
	s := r.s
	k := 0
	for k < len(s) && s[k].hi <= off {
		k++
	}
	if k > 0 {
		s = append(s[:0], s[k:]...)
	}
	if len(s) > 0 && s[0].lo < off {
		s[0].lo = off
	}
	if len(s) == 0 && cap(s) > 16 {
		s = nil
	}
	r.s = s
}

// first returns the lowest span; ok is false for an empty set.
func (r *rangeSet) first() (span, bool) {
	if len(r.s) == 0 {
		return span{}, false
	}
	return r.s[0], true
}
