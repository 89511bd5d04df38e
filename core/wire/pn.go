package wire

import "math/bits"

// NoPacketReceived is the largest packet number to pass to
// DecodePacketNumber before any packet has been received. It is all ones,
// so largest+1, the packet number expected next, wraps to 0: the first
// packet of a connection is number 0 (RFC 9000 section 12.3).
const NoPacketReceived = ^uint64(0)

// PacketNumberLen returns how many bytes (1 to 4) to send of packet number
// pn so that the receiver can reconstruct it: enough for twice the range
// of packets not yet acknowledged, counted from largestAcked, or from -1
// when hasAcked is false (RFC 9000 section 17.1 and Appendix A.2). pn must
// be above largestAcked; otherwise, and if more than 2^31 packets are
// unacknowledged, it returns 4.
func PacketNumberLen(pn, largestAcked uint64, hasAcked bool) int {
	var unacked uint64
	switch {
	case !hasAcked:
		unacked = pn + 1
	case pn > largestAcked:
		unacked = pn - largestAcked
	default:
		return 4
	}
	// The receiver's window is centred on the number it expects next, so
	// the sender needs ceil(log2(unacked)) bits plus one for the sign.
	minBits := bits.Len64(unacked-1) + 1
	n := (minBits + 7) / 8
	if n > 4 || unacked == 0 {
		return 4
	}
	return n
}

// DecodePacketNumber reconstructs a full packet number from the pnLen-byte
// truncated number received, as the value nearest to largest+1 among those
// whose low pnLen bytes equal truncated (RFC 9000 Appendix A.3); largest is
// the largest packet number received so far in the packet-number space,
// NoPacketReceived if none. The result is kept at or below MaxVarint, the
// largest packet number (RFC 9000 section 12.3). largest must be at most
// MaxVarint or be NoPacketReceived (other values give an unspecified
// result, never a panic). pnLen outside 1..4 is treated as 4, and bits of
// truncated above pnLen bytes are ignored.
func DecodePacketNumber(largest uint64, truncated uint64, pnLen int) uint64 {
	if pnLen < 1 || pnLen > 4 {
		pnLen = 4
	}
	expected := largest + 1
	win := uint64(1) << (8 * pnLen)
	hwin := win / 2
	mask := win - 1
	candidate := expected&^mask | truncated&mask
	// The RFC writes "candidate <= expected - hwin"; adding hwin on the
	// left instead keeps the comparison from wrapping below zero.
	switch {
	case candidate+hwin <= expected && candidate < MaxVarint+1-win:
		candidate += win
	case candidate > expected+hwin && candidate >= win:
		candidate -= win
	}
	if candidate > MaxVarint && candidate >= win {
		candidate -= win
	}
	return candidate
}
