package netem

import (
	"math"
	"math/bits"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// bottleneck is the serializer of a rate-limited link: one datagram at a
// time, rate bytes per second, behind a FIFO of at most limit bytes.
//
// It keeps a busy period rather than a running busyUntil: from start, the
// bytes admitted since are serialized back to back, so the k-th of them
// has left at start + ceil(k*1e9/rate) ns. Each departure is rounded up on
// its own, from the exact sum, so rounding never accumulates: a saturated
// link moves exactly rate bytes per second however long it runs (a running
// busyUntil += ceil(size*1e9/rate) would drift by up to 1 ns per datagram).
// The period ends when the link falls idle; the next datagram starts a new
// one.
//
// The queue is measured as a fluid, the bytes not yet serialized at now:
// bytes - floor((now-start)*rate/1e9). That counts the unsent part of the
// datagram on the wire, which is what "bytes waiting to be serialized"
// means for a byte-limited FIFO.
type bottleneck struct {
	rate      uint64        // bytes per second, > 0
	limit     int64         // queue bound in bytes
	start     monotime.Time // start of the current busy period
	bytes     uint64        // bytes admitted since start
	busyUntil monotime.Time // when the last admitted byte leaves
}

// backlog returns the bytes admitted but not yet serialized at now.
func (b *bottleneck) backlog(now monotime.Time) int64 {
	if now >= b.busyUntil {
		return 0
	}
	// now < busyUntil implies (now-start)*rate < bytes*1e9, so sent < bytes.
	sent := mulDivFloor(uint64(now-b.start), b.rate, uint64(time.Second))
	return int64(b.bytes - sent)
}

// admit offers a datagram of size bytes at now. It returns the instant its
// last byte leaves the bottleneck, or false if the queue has no room
// (tail drop). now must not be before an earlier call's now.
func (b *bottleneck) admit(now monotime.Time, size int) (monotime.Time, bool) {
	if now >= b.busyUntil {
		b.start, b.bytes = now, 0
	}
	if b.backlog(now)+int64(size) > b.limit {
		return 0, false
	}
	b.bytes += uint64(size)
	d := mulDivCeil(b.bytes, uint64(time.Second), b.rate)
	b.busyUntil = addSat(b.start, d)
	return b.busyUntil, true
}

// mulDivFloor returns floor(a*b/c) with a 128-bit product, saturating at
// the largest uint64. c must not be zero.
func mulDivFloor(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return math.MaxUint64
	}
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// mulDivCeil returns ceil(a*b/c) with a 128-bit product, saturating at the
// largest uint64. c must not be zero.
func mulDivCeil(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return math.MaxUint64
	}
	q, r := bits.Div64(hi, lo, c)
	if r != 0 && q != math.MaxUint64 {
		q++
	}
	return q
}

// addSat returns t+d, saturating at the largest Time: a bottleneck so slow
// that a datagram leaves after the year 2262 simply never delivers it.
func addSat(t monotime.Time, d uint64) monotime.Time {
	if d > uint64(math.MaxInt64-t) {
		return math.MaxInt64
	}
	return t + monotime.Time(d)
}
