package loop

import (
	"math/bits"
	"sync/atomic"

	"github.com/petrel-transport/petrel/batchio"
)

// WakeupBuckets is the number of buckets of Stats.PerWakeup.
const WakeupBuckets = 12

// Stats are cumulative counters of a driver since it was created, summed
// over its loops.
type Stats struct {
	// Wakeups counts the times a loop woke for a readable socket and read
	// it until empty (gnet: one OnTraffic; poller: one batchio Drain)
	// delivering at least one datagram.
	Wakeups uint64
	// Datagrams counts the Messages handed to HandleBatch. It equals the
	// sum over PerWakeup of each bucket's wakeups times their datagrams.
	Datagrams uint64
	// EngineReads counts the Messages the event loop read itself, one
	// recvfrom per wakeup, before batchio drained the rest (gnet only).
	EngineReads uint64
	// MaxPerWakeup is the most datagrams one wakeup delivered.
	MaxPerWakeup uint64
	// PerWakeup is the distribution of datagrams per wakeup: bucket i < 11
	// counts wakeups that delivered [2^i, 2^(i+1)) datagrams, the last
	// bucket those that delivered 2048 or more.
	PerWakeup [WakeupBuckets]uint64
	// WriteParks counts the waits of WriteBatch for a full send buffer to
	// drain (EAGAIN, then parked in Go's poller until writable). The gnet
	// driver counts each; the poller driver's writes park inside batchio,
	// where they cannot be seen, so it reports 0.
	WriteParks uint64
	// WriteRechecks counts parks that waited the full recheck interval
	// (20 ms) for writability and tried again (gnet driver): a lost
	// wakeup costs that much, never a stuck loop.
	WriteRechecks uint64
	// ReadErrors counts reads that failed with an error other than the
	// socket being empty or closed; the loop carries on.
	ReadErrors uint64
	// IO is the batchio.Stats of every socket, summed.
	IO batchio.Stats
}

// bucketOf returns the PerWakeup bucket of a wakeup that delivered n >= 1
// datagrams.
func bucketOf(n int) int {
	return min(bits.Len(uint(n))-1, WakeupBuckets-1)
}

// loopCounters are one loop's counters: written by that loop only, read by
// Stats. The padding keeps two loops' counters off one cache line.
type loopCounters struct {
	_           [64]byte
	wakeups     atomic.Uint64
	datagrams   atomic.Uint64
	engineReads atomic.Uint64
	maxWakeup   atomic.Uint64
	readErrors  atomic.Uint64
	buckets     [WakeupBuckets]atomic.Uint64
	_           [64]byte
}

// wakeup records a wakeup that delivered n datagrams (nothing if n == 0);
// the datagrams themselves were counted by delivering.
func (c *loopCounters) wakeup(n int) {
	if n <= 0 {
		return
	}
	c.wakeups.Add(1)
	c.buckets[bucketOf(n)].Add(1)
	if uint64(n) > c.maxWakeup.Load() { // single writer: no lost update
		c.maxWakeup.Store(uint64(n))
	}
}

// delivering counts a batch about to be handed to the Handler: counted
// before, so a Handler that has seen k datagrams reads Stats.Datagrams >= k.
func (c *loopCounters) delivering(n int) { c.datagrams.Add(uint64(n)) }

// addTo adds c's counters into s.
func (c *loopCounters) addTo(s *Stats) {
	s.Wakeups += c.wakeups.Load()
	s.Datagrams += c.datagrams.Load()
	s.EngineReads += c.engineReads.Load()
	s.MaxPerWakeup = max(s.MaxPerWakeup, c.maxWakeup.Load())
	s.ReadErrors += c.readErrors.Load()
	for i := range c.buckets {
		s.PerWakeup[i] += c.buckets[i].Load()
	}
}

// addIO adds one socket's batchio.Stats into s.
func addIO(s *batchio.Stats, b batchio.Stats) {
	s.Received += b.Received
	s.Sent += b.Sent
	s.RecvCalls += b.RecvCalls
	s.SendCalls += b.SendCalls
	s.RawSendCalls += b.RawSendCalls
	s.Coalesced += b.Coalesced
	s.GSOSends += b.GSOSends
	s.Truncated += b.Truncated
	s.KernelDrops += b.KernelDrops
	s.GSODisabled += b.GSODisabled
}
