package wire

// AppendAckFrame appends an ACK frame for ranges, which must be sorted
// largest first, each at most MaxVarint, with at least one missing packet
// number between neighbours. It encodes the longest prefix of ranges whose
// frame fits in budget bytes and returns how many ranges it encoded; 0
// (and dst unchanged) if not even the first fits. A range that breaks the
// order ends the prefix too, so the frame never acknowledges a packet not
// listed. delayMicros above MaxVarint is sent as MaxVarint.
func AppendAckFrame(dst []byte, ranges []AckRange, delayMicros uint64, budget int) ([]byte, int) {
	if len(ranges) == 0 {
		return dst, 0
	}
	r0 := ranges[0]
	if r0.Smallest > r0.Largest || r0.Largest > MaxVarint {
		return dst, 0
	}
	delayMicros = min(delayMicros, MaxVarint)
	fixed := 1 + VarintLen(r0.Largest) + VarintLen(delayMicros) + VarintLen(r0.Largest-r0.Smallest)
	if fixed+1 > budget {
		return dst, 0
	}
	n, pairs, lo := 1, 0, r0.Smallest
	for _, r := range ranges[1:] {
		if r.Smallest > r.Largest || lo < 2 || r.Largest > lo-2 {
			break
		}
		size := VarintLen(lo-r.Largest-2) + VarintLen(r.Largest-r.Smallest)
		if fixed+VarintLen(uint64(n))+pairs+size > budget {
			break
		}
		n, pairs, lo = n+1, pairs+size, r.Smallest
	}
	dst = append(dst, byte(FrameAck))
	dst = AppendVarint(dst, r0.Largest)
	dst = AppendVarint(dst, delayMicros)
	dst = AppendVarint(dst, uint64(n-1))
	dst = AppendVarint(dst, r0.Largest-r0.Smallest)
	lo = r0.Smallest
	for _, r := range ranges[1:n] {
		dst = AppendVarint(dst, lo-r.Largest-2)
		dst = AppendVarint(dst, r.Largest-r.Smallest)
		lo = r.Smallest
	}
	return dst, n
}
