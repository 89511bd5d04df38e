package tracker

// transition is the one way a packet leaves InFlight or Lost, and the only
// place in this package that calls FlightSize.Release. It moves entry e of
// chunk c from the state word `from` (which must name packet pn, InFlight
// or Lost) to phase `to`, adding flags, with one compare-and-swap and, only
// if that compare-and-swap won:
//
//   - from InFlight, releases the entry's bytes to the FlightSize: whether
//     it goes to Lost (a loss declaration or a probe timeout) or to a final
//     phase (ACK, abandon, drop), the bytes leave the flight now, once;
//   - from Lost, releases nothing: the bytes left when the loss was
//     declared. Lost may go to Acked (a late ACK), Abandoned, Dropped or
//     Retransmitted, never back to InFlight;
//   - on reaching a final phase, takes the packet off its stream's count of
//     unresolved packets (freeing the stream's list if it was the last) and
//     drops the entry's reference on its chunk; Retransmitted is reached
//     only in Retransmit, where the new packet takes the old one's place in
//     the stream's count, and which drops the reference itself.
//
// It returns the bytes released and whether it won.
//
// The caller has pinned c (pnIndex.pin), so it is this tracker's chunk for
// pn's number and cannot be freed meanwhile; but the slot e may hold
// another packet than the caller thinks (pn's own life ended and the chunk
// was recycled for other packet numbers before the caller pinned it). The
// packet number in `from` is what makes that safe: a recycled slot's word
// names another packet, so the check below (and, should the slot change
// after the caller loaded it, the compare-and-swap of the full word) fails.
//
// Because every caller goes through this function and a packet leaves
// InFlight by one compare-and-swap, its bytes are released exactly once,
// by the goroutine that moved it.
func (t *Tracker) transition(c *chunk, e *entry, pn, from uint64, to phase, flags uint64) (uint64, bool) {
	w := word(from)
	if w.pn() != pn {
		return 0, false
	}
	switch w.phase() {
	case phaseInFlight:
		if to < phaseLost {
			return 0, false
		}
	case phaseLost:
		if to < phaseAcked {
			return 0, false
		}
	default:
		return 0, false
	}
	if !e.state.CompareAndSwap(from, w.to(to, flags)) {
		return 0, false
	}
	// The slot is ours until unref: the chunk cannot be recycled while this
	// entry's reference is held, so size is still this packet's.
	var n uint64
	if w.phase() == phaseInFlight {
		n = uint64(e.size.Load())
		t.flight.Release(n)
		t.inflightBytes.Add(^(n - 1)) // -n
		t.inflightPkts.Add(-1)
		switch {
		case to == phaseLost && flags&flagProbe != 0:
			t.probed.add(n)
		default:
			t.ctr[to].add(n)
		}
	} else {
		t.lostPending.Add(-1)
	}
	switch to {
	case phaseLost:
		t.lostPending.Add(1)
	case phaseRetransmitted:
	default:
		// Final: the packet leaves its stream's count of unresolved
		// packets (the last one out frees the list) and its slot.
		if r := e.rec.Load(); r != nil {
			t.streams.resolved(r)
		}
		t.pns.unref(c)
	}
	return n, true
}
