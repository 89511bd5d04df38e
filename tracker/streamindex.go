package tracker

import (
	"sync"
)

// The stream index: for every stream, the packet numbers registered for
// it, in one of streamShards shards chosen by stream id. DropStream detaches
// a stream's list under its shard lock, releases the lock, and visits only
// those packets.
//
// A list may hold packet numbers already resolved (acked, abandoned): they
// are not removed on ACK (that would put a lock on the ACK path) but
// compacted away when the list fills, so a list never holds more than twice
// the stream's packets in flight at its last compaction plus those sent
// since. A resolved packet number found in a list is harmless: its entry is
// no longer InFlight (or its slot belongs to another packet), so nothing is
// released for it.
const streamShards = 64

// streamRec is one stream's list. It belongs to its shard while in the
// shard's map, and to the DropStream call that detached it until recycled.
type streamRec struct {
	pns []uint64
}

// streamShard. Guard map: mu guards m and free; mu is a leaf lock held
// only for map and slice operations and atomic loads of entry states.
type streamShard struct {
	mu   sync.Mutex
	m    map[StreamID]*streamRec
	free []*streamRec
	_    [64]byte // keep neighbouring shards' locks off one cache line
}

type streamIndex struct {
	shards [streamShards]streamShard
}

func (x *streamIndex) init() {
	for i := range x.shards {
		x.shards[i].m = make(map[StreamID]*streamRec)
	}
}

func (x *streamIndex) shard(s StreamID) *streamShard {
	// Fibonacci hashing spreads consecutive stream ids over the shards.
	return &x.shards[(uint64(s)*0x9E3779B97F4A7C15)>>(64-6)]
}

// add registers pn for stream s. p is consulted (lock-free) to compact a
// full list.
func (x *streamIndex) add(p *pnIndex, s StreamID, pn uint64) {
	sh := x.shard(s)
	sh.mu.Lock()
	r := sh.m[s]
	if r == nil {
		if n := len(sh.free); n > 0 {
			r = sh.free[n-1]
			sh.free[n-1] = nil
			sh.free = sh.free[:n-1]
		} else {
			r = &streamRec{pns: make([]uint64, 0, 8)}
		}
		sh.m[s] = r
	}
	if len(r.pns) == cap(r.pns) {
		r.compact(p)
	}
	r.pns = append(r.pns, pn)
	sh.mu.Unlock()
}

// compact removes packet numbers no longer in flight; it leaves the list at
// most half full (growing it if needed) so compaction is amortized O(1).
func (r *streamRec) compact(p *pnIndex) {
	kept := r.pns[:0]
	for _, pn := range r.pns {
		if _, e := p.lookup(pn); e != nil && word(e.state.Load()).inFlightAs(pn) {
			kept = append(kept, pn)
		}
	}
	if len(kept) > cap(r.pns)/2 {
		grown := make([]uint64, len(kept), 2*cap(r.pns))
		copy(grown, kept)
		kept = grown
	}
	r.pns = kept
}

// detach removes stream s's list from the index and returns it (nil if the
// stream has none). The caller owns it until recycle.
func (x *streamIndex) detach(s StreamID) *streamRec {
	sh := x.shard(s)
	sh.mu.Lock()
	r := sh.m[s]
	if r != nil {
		delete(sh.m, s)
	}
	sh.mu.Unlock()
	return r
}

// recycle returns a detached list to its shard's pool.
func (x *streamIndex) recycle(s StreamID, r *streamRec) {
	const maxKeep = 1024 // a list larger than this is left to the GC
	r.pns = r.pns[:0]
	if cap(r.pns) > maxKeep {
		return
	}
	sh := x.shard(s)
	sh.mu.Lock()
	if len(sh.free) < 64 {
		sh.free = append(sh.free, r)
	}
	sh.mu.Unlock()
}

// streams counts the streams with a list.
func (x *streamIndex) streams() int {
	n := 0
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
