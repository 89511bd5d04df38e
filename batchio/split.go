package batchio

// This file cuts a UDP GRO receive back into datagrams. It is pure and
// portable so it can be fuzzed everywhere; only Linux receives with GRO.

// segmentEnd returns the end of the datagram that starts at off inside a
// receive of n bytes coalesced with segment size seg (seg <= 0 or seg >= n
// means the receive is one datagram). It requires 0 <= off <= n; for an
// empty receive it returns 0, the one empty datagram.
func segmentEnd(n, seg, off int) int {
	if seg <= 0 || seg >= n {
		return n
	}
	return min(off+seg, n)
}

// segmentCount returns how many datagrams segmentEnd cuts a receive of n
// bytes with segment size seg into: ceil(n/seg), and 1 for a lone datagram.
func segmentCount(n, seg int) int {
	if seg <= 0 || seg >= n {
		return 1
	}
	return (n + seg - 1) / seg
}
