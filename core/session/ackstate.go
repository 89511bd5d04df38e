package session

import (
	"time"

	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// maxAckRanges bounds the ranges kept (and so sent) for the peer: 32 ranges
// describe any loss pattern of a few RTTs; older ones are forgotten, which
// costs the peer at worst a spurious retransmission of data it sent long ago.
const maxAckRanges = 32

// ackState is the receive side's acknowledgement books (RFC 9000 section
// 13.2): the packet numbers received, kept as ranges, largest first, and when
// the next ACK is due.
//
// Not safe for concurrent use: the session's mu guards it.
type ackState struct {
	ranges     []wire.AckRange // largest first, disjoint, non-adjacent
	largest    uint64          // wire.NoPacketReceived before the first
	largestAt  monotime.Time   // when largest arrived, for the ACK delay
	unacked    int             // ack-eliciting packets since the last ACK sent
	pending    bool            // something received is not acknowledged yet
	now        bool            // an ACK is due at once (gap, duplicate, second packet)
	maxDelay   time.Duration   // max_ack_delay announced to the peer
	lastSentAt monotime.Time
}

func newAckState(maxDelay time.Duration) ackState {
	return ackState{largest: wire.NoPacketReceived, maxDelay: maxDelay}
}

// onPacket records packet pn received at now. It returns whether an ACK is
// due at once; otherwise, for an ack-eliciting packet, the caller arms the
// delayed-ACK timer (RFC 9000 section 13.2.1: an ACK after every second
// ack-eliciting packet or after max_ack_delay, at once for a packet out of
// order).
func (a *ackState) onPacket(pn uint64, eliciting bool, now monotime.Time) bool {
	first := a.largest == wire.NoPacketReceived
	gap := !first && pn != a.largest+1
	if first || pn > a.largest {
		a.largest, a.largestAt = pn, now
	}
	a.insert(pn)
	a.pending = true
	if !eliciting {
		return a.now
	}
	a.unacked++
	if gap || a.unacked >= 2 {
		a.now = true
	}
	return a.now
}

// onDuplicate notes a packet received again: it is acknowledged again at
// once (its first ACK may have been lost), never processed twice.
func (a *ackState) onDuplicate() {
	a.pending, a.now = true, true
}

// insert adds pn to the ranges.
func (a *ackState) insert(pn uint64) {
	r := a.ranges
	i := 0
	for i < len(r) && r[i].Smallest > pn+1 { // ranges wholly above pn (not adjacent)
		i++
	}
	switch {
	case i < len(r) && pn >= r[i].Smallest && pn <= r[i].Largest:
		return // already in
	case i < len(r) && pn+1 == r[i].Smallest:
		r[i].Smallest = pn
		if i+1 < len(r) && r[i+1].Largest+1 == pn { // joins the next range below
			r[i].Smallest = r[i+1].Smallest
			r = append(r[:i+1], r[i+2:]...)
		}
	case i < len(r) && r[i].Largest+1 == pn:
		r[i].Largest = pn
	default:
		if i == len(r) && len(r) >= maxAckRanges {
			return // older than every range kept: forgotten (see maxAckRanges)
		}
		r = append(r, wire.AckRange{})
		copy(r[i+1:], r[i:])
		r[i] = wire.AckRange{Smallest: pn, Largest: pn}
		if len(r) > maxAckRanges {
			r = r[:maxAckRanges]
		}
	}
	a.ranges = r
}

// appendFrame appends an ACK frame for the ranges within budget bytes at
// now, and marks the acknowledgements sent. It appends nothing when nothing
// is pending or nothing fits.
func (a *ackState) appendFrame(dst []byte, budget int, now monotime.Time) []byte {
	out, n := a.encode(dst, budget, now)
	if n > 0 {
		a.commit(now)
	}
	return out
}

// encode appends an ACK frame within budget bytes without marking anything
// sent; it returns the ranges encoded (0: nothing appended).
func (a *ackState) encode(dst []byte, budget int, now monotime.Time) ([]byte, int) {
	if !a.pending || len(a.ranges) == 0 || budget <= 0 {
		return dst, 0
	}
	delay := uint64(0)
	if d := now.Sub(a.largestAt); d > 0 {
		delay = uint64(d / time.Microsecond)
	}
	return wire.AppendAckFrame(dst, a.ranges, delay, budget)
}

// commit marks the acknowledgements sent (an encoded frame left).
func (a *ackState) commit(now monotime.Time) {
	a.pending, a.now, a.unacked = false, false, 0
	a.lastSentAt = now
}
