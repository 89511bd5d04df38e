package core_test

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// keyN returns a distinct non-zero key whose order follows n (big-endian in
// the first bytes), plus a scrambled tail so keys look random to the hash.
func keyN(n uint64) core.PeerKey {
	var k core.PeerKey
	binary.BigEndian.PutUint64(k[0:8], n+1)
	x := (n + 1) * 0x9e3779b97f4a7c15
	for i := 8; i < len(k); i += 8 {
		x ^= x >> 29
		x *= 0xbf58476d1ce4e5b9
		binary.LittleEndian.PutUint64(k[i:i+8], x)
	}
	return k
}

// addrN returns a distinct IPv4 address:port for n.
func addrN(n uint32) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), uint16(1000+n%50000))
}

// fakeClock is a core.Clock the test moves by hand.
type fakeClock struct{ t atomic.Int64 }

func newFakeClock(start monotime.Time) *fakeClock {
	c := &fakeClock{}
	c.t.Store(int64(start))
	return c
}

func (c *fakeClock) Now() monotime.Time        { return monotime.Time(c.t.Load()) }
func (c *fakeClock) Set(t monotime.Time)       { c.t.Store(int64(t)) }
func (c *fakeClock) Add(d int64) monotime.Time { return monotime.Time(c.t.Add(d)) }

// bounded returns the loop condition of a stress loop: round i runs if i < n
// and the wall-time budget has not run out (round 0 always runs). Stress
// loops are bounded in count and in time so the package stays fast under
// -race on a busy machine; the budget bounds work, it asserts nothing.
func bounded(n int, budget time.Duration) func(i int) bool {
	deadline := time.Now().Add(budget)
	return func(i int) bool { return i < n && (i == 0 || time.Now().Before(deadline)) }
}
