package tracker

// resolve is the one way out of InFlight, and the only place in this
// package that calls Flight.Release: it moves entry e of chunk c from the
// state word `from` (which must say "packet pn, InFlight") to phase `to`
// with one compare-and-swap and, only if that compare-and-swap won, releases
// the entry's bytes to the Flight, updates the books and drops the entry's
// reference on its chunk. It returns the bytes released and whether it won.
//
// c and e may be stale: the caller holds no reference, so the chunk may
// have been freed and recycled for other packet numbers since the caller
// found it. The packet number in `from` is what makes that safe: a recycled
// slot's word names another packet, so the check below (and, should the
// slot change after the caller loaded it, the compare-and-swap of the full
// word) fails.
//
// Because every caller goes through this function and the compare-and-swap
// can succeed once per packet, a packet's bytes are released exactly once,
// by the goroutine that resolved it.
func (t *Tracker) resolve(c *chunk, e *entry, pn, from uint64, to phase) (uint64, bool) {
	w := word(from)
	if !w.inFlightAs(pn) || to < phaseAcked {
		return 0, false
	}
	if !e.state.CompareAndSwap(from, pack(to, w.gen(), w.pn())) {
		return 0, false
	}
	// The slot is ours until unref: the chunk cannot be recycled while this
	// entry's reference is held, so size is still this packet's.
	n := uint64(e.size.Load())
	t.flight.Release(n)
	t.inflightBytes.Add(^(n - 1)) // -n
	t.inflightPkts.Add(-1)
	t.ctr[to].add(n)
	t.pns.unref(c)
	return n, true
}
