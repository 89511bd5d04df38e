package wire

import "iter"

// AckRange is a run of acknowledged packet numbers, Smallest through
// Largest inclusive.
type AckRange struct {
	Smallest, Largest uint64
}

// AckFrame is a parsed ACK frame (RFC 9000 section 19.3):
//
//	0x02 | Largest Acknowledged (varint) | ACK Delay (varint) |
//	ACK Range Count (varint) | First ACK Range (varint) |
//	(Gap (varint) | ACK Range Length (varint)) * ACK Range Count
//
// The first range is [Largest-First, Largest]. Each further range lies
// below the previous one: its largest is the previous smallest minus Gap
// minus 2 (the 2 because ranges are separated by at least one missing
// number and both bounds are inclusive), its smallest that minus the range
// length (RFC 9000 section 19.3.1). The parser checks every range (none
// goes below zero) and keeps the raw pairs; Ranges and All decode them
// again on demand, so an ACK of any size is parsed without allocating.
// The zero value has no ranges.
type AckFrame struct {
	Largest uint64
	// DelayMicros is the time the receiver held the acknowledgement of
	// Largest, in microseconds (RFC 9000 section 13.2.5; no exponent).
	DelayMicros uint64

	first  uint64 // First ACK Range
	ranges int    // ranges in all, the first included; 0 in the zero value
	raw    []byte // the validated Gap/Length pairs
}

// RangeCount returns the number of ranges, the first included.
func (a *AckFrame) RangeCount() int { return a.ranges }

// Ranges returns an iterator over the ranges, largest first.
func (a *AckFrame) Ranges() AckRangeIter {
	return AckRangeIter{raw: a.raw, left: a.ranges, hi: a.Largest, first: a.first}
}

// All returns the ranges, largest first, as a range-over-func sequence.
func (a *AckFrame) All() iter.Seq[AckRange] {
	return func(yield func(AckRange) bool) {
		it := a.Ranges()
		for r, ok := it.Next(); ok; r, ok = it.Next() {
			if !yield(r) {
				return
			}
		}
	}
}

// AckRangeIter walks the ranges of an AckFrame without allocating.
type AckRangeIter struct {
	raw     []byte // Gap/Length pairs not yet read
	left    int    // ranges not yet returned
	started bool
	first   uint64 // First ACK Range
	hi, lo  uint64 // bounds of the range returned last (hi: Largest before)
}

// Next returns the next range, largest first, and false after the last.
func (it *AckRangeIter) Next() (AckRange, bool) {
	if it.left <= 0 {
		return AckRange{}, false
	}
	length := it.first
	if it.started {
		gap, n1 := readVarint(it.raw)
		ln, n2 := readVarint(it.raw[n1:])
		// The parser validated the pairs; the checks only keep an
		// iterator over a hand-made AckFrame from wrapping around.
		if n1 == 0 || n2 == 0 || it.lo < gap+2 {
			it.left = 0
			return AckRange{}, false
		}
		it.raw = it.raw[n1+n2:]
		it.hi = it.lo - gap - 2
		length = ln
	}
	if length > it.hi {
		it.left = 0
		return AckRange{}, false
	}
	it.started = true
	it.lo = it.hi - length
	it.left--
	return AckRange{Smallest: it.lo, Largest: it.hi}, true
}

func parseAck(c *cursor, f *Frame) (string, error) {
	const where = "ACK frame"
	largest, ok1 := c.varint()
	delay, ok2 := c.varint()
	count, ok3 := c.varint()
	first, ok4 := c.varint()
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return where, ErrTruncated
	}
	if first > largest {
		return where, ErrInvalid
	}
	lo := largest - first
	start := c.off
	// Each pair takes at least 2 bytes, so a count beyond what remains
	// fails on truncation within len/2 iterations, whatever its value.
	for i := uint64(0); i < count; i++ {
		gap, ok1 := c.varint()
		length, ok2 := c.varint()
		if !ok1 || !ok2 {
			return where, ErrTruncated
		}
		if lo < gap+2 || lo-gap-2 < length {
			return where, ErrInvalid // a range would go below packet 0
		}
		lo = lo - gap - 2 - length
	}
	f.Ack = AckFrame{
		Largest:     largest,
		DelayMicros: delay,
		first:       first,
		ranges:      int(count) + 1, // count < len(payload)/2: fits int
		raw:         c.b[start:c.off:c.off],
	}
	return "", nil
}
