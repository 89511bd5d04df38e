package tracker

import (
	"sync"
	"sync/atomic"
)

// The stream index: for every stream with packets in flight or lost, the
// packet numbers registered for it, in one of streamShards shards chosen
// by stream id. DropStream walks a stream's list in batches copied under
// the shard lock, releasing the lock before resolving each batch, and
// visits only that stream's packets.
//
// A list holds every packet of the stream still in flight or lost, and may
// hold packet numbers already resolved (acked, abandoned, retransmitted):
// they are not removed on ACK (that would put a lock on the ACK path) but
// compacted away when the list fills or holds twice the stream's
// unresolved packets (plus 8), so DropStream's walk stays proportional to
// the stream's packets in flight or lost. A resolved packet number found in a list is harmless: its entry is
// no longer InFlight or Lost (or its slot belongs to another packet), so
// nothing is released or dropped for it.
//
// A list counts its unresolved packets (live). The packet whose resolution
// brings the count to zero removes the list from the map (under the shard
// lock, if the count is still zero and no dropper walks it), and the list
// goes back to a pool shared by all trackers: a finished stream leaves
// nothing behind, and a stream that sends again gets a fresh list. So the
// index holds lists only for streams with packets in flight or lost, and a
// tracker with none holds no list.
//
// A dropper removes the list from the map only when it reaches its end
// under the lock, after resolving every earlier batch: from then on all of
// the stream's packets are out of flight, and later packets start a new
// list. Concurrent DropStreams of one stream each walk the whole list (no
// compaction runs while one is walking), so each returns only after every
// packet it could see is out of flight: DropStream is linearizable per
// packet.
const streamShards = 64

// streamRec is one stream's list.
//
// Guard map: id is atomic, stored under the shard lock before the list is
// put in the map; it names the list's stream as long as one of its packets
// is unresolved (the list is not recycled while it has one), so a reader
// without the lock trusts it only after checking that its packet was still
// unresolved. live is atomic: raised under the shard lock when a packet is
// registered, lowered by the transition that resolves one. Everything else
// is guarded by the shard's mu.
type streamRec struct {
	id       atomic.Uint64 // StreamID
	live     atomic.Int64  // packets registered here and not yet resolved
	pns      []uint64
	droppers int  // DropStream calls walking pns
	detached bool // removed from the map: the last dropper recycles it
}

// recPool holds stream lists for every tracker of the process: a list is
// taken when a stream starts sending and given back when it has nothing
// unresolved. Lists larger than maxKeptList are left to the GC.
var recPool = sync.Pool{New: func() any { return &streamRec{pns: make([]uint64, 0, 8)} }}

const maxKeptList = 1024

// mapPool holds empty shard maps for every tracker of the process: a shard
// takes one when its first stream starts and gives it back when its last
// stream's list goes, so an idle tracker holds no map.
var mapPool sync.Pool

func getMap() map[StreamID]*streamRec {
	if m, _ := mapPool.Get().(map[StreamID]*streamRec); m != nil {
		return m
	}
	return make(map[StreamID]*streamRec)
}

// deleteLocked removes stream s's list from the shard's map, giving the
// map back to the pool if it is now empty. The shard's mu is held.
func (sh *streamShard) deleteLocked(s StreamID) {
	delete(sh.m, s)
	if len(sh.m) == 0 {
		mapPool.Put(sh.m)
		sh.m = nil
	}
}

func putRec(r *streamRec) {
	if cap(r.pns) > maxKeptList {
		return
	}
	r.pns = r.pns[:0]
	r.droppers = 0
	r.detached = false
	recPool.Put(r)
}

// streamShard. Guard map: mu guards m; mu is a leaf lock held only for map
// and slice operations, the shared pools and atomic operations on entry
// state words and the sending frontier.
type streamShard struct {
	mu sync.Mutex
	m  map[StreamID]*streamRec // nil while the shard has no stream
	_  [48]byte                // keep neighbouring shards' locks off one cache line
}

type streamIndex struct {
	shards [streamShards]streamShard
}

func (x *streamIndex) init() {}

func (x *streamIndex) shard(s StreamID) *streamShard {
	// Fibonacci hashing spreads consecutive stream ids over the shards.
	return &x.shards[(uint64(s)*0x9E3779B97F4A7C15)>>(64-6)]
}

// add registers packet pn of entry e for stream s and, under the same
// lock, advances the sending frontier to pn and publishes the packet by
// storing published into its state word. If lost is not nil (Retransmit),
// it first moves the lost packet's state word from lostFrom to lostTo with
// one compare-and-swap, under the lock, and registers nothing if that
// fails: then it returns false; the new packet then takes the lost one's
// place in the list's count. p is consulted (lock-free) to compact a full
// list.
func (x *streamIndex) add(p *pnIndex, s StreamID, pn uint64, e *entry, published uint64, lost *atomic.Uint64, lostFrom, lostTo uint64) bool {
	sh := x.shard(s)
	sh.mu.Lock()
	if lost != nil && !lost.CompareAndSwap(lostFrom, lostTo) {
		sh.mu.Unlock()
		return false
	}
	r := sh.m[s]
	if r == nil {
		r = recPool.Get().(*streamRec)
		r.id.Store(uint64(s))
		if sh.m == nil {
			sh.m = getMap()
		}
		sh.m[s] = r
	}
	live := r.live.Load()
	if lost == nil {
		r.live.Add(1)
	}
	// Compact a full list, or one holding twice its unresolved packets (a
	// list taken from the pool may have room for many more): the work is
	// at most twice the packets appended since the last compaction.
	if r.droppers == 0 && (len(r.pns) == cap(r.pns) || len(r.pns) >= 2*int(live)+8) {
		r.compact(p)
	}
	r.pns = append(r.pns, pn)
	e.rec.Store(r)
	p.advance(pn)
	e.state.Store(published)
	sh.mu.Unlock()
	return true
}

// resolved takes one packet off r's count of unresolved packets; the last
// one removes the list from the map and recycles it, unless a packet was
// registered since or a dropper walks it (the dropper then does).
func (x *streamIndex) resolved(r *streamRec) {
	id := StreamID(r.id.Load()) // read while our packet still holds the list
	if r.live.Add(-1) != 0 {
		return
	}
	sh := x.shard(id)
	sh.mu.Lock()
	if sh.m[id] != r || r.live.Load() != 0 || r.droppers != 0 {
		sh.mu.Unlock() // removed by another, revived, or being dropped
		return
	}
	sh.deleteLocked(id)
	sh.mu.Unlock()
	putRec(r)
}

// compact removes packet numbers no longer in flight or lost; it leaves
// the list at most half full (growing it if needed) so compaction is
// amortized O(1).
func (r *streamRec) compact(p *pnIndex) {
	kept := r.pns[:0]
	for _, pn := range r.pns {
		if _, e := p.lookup(pn); e != nil && word(e.state.Load()).unresolvedAs(pn) {
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

// dropBatch is how many packet numbers a dropper copies per lock hold.
const dropBatch = 64

// beginDrop registers a dropper on stream s's list and returns it (nil if
// the stream has none).
func (x *streamIndex) beginDrop(s StreamID) *streamRec {
	sh := x.shard(s)
	sh.mu.Lock()
	r := sh.m[s]
	if r != nil {
		r.droppers++
	}
	sh.mu.Unlock()
	return r
}

// nextBatch copies the packet numbers of r from position i into buf and
// returns how many. At the end of the list (0) it removes the list from
// the map, in the same critical section: from then on every packet the
// list held is resolved (the dropper resolved each before coming back),
// and a Retransmit of one of them fails.
func (x *streamIndex) nextBatch(s StreamID, r *streamRec, i int, buf *[dropBatch]uint64) int {
	sh := x.shard(s)
	sh.mu.Lock()
	n := 0
	if i < len(r.pns) {
		n = copy(buf[:], r.pns[i:])
	} else if !r.detached {
		sh.deleteLocked(s)
		r.detached = true
	}
	sh.mu.Unlock()
	return n
}

// endDrop unregisters a dropper; the last one recycles the detached list.
func (x *streamIndex) endDrop(s StreamID, r *streamRec) {
	sh := x.shard(s)
	sh.mu.Lock()
	r.droppers--
	recycle := r.droppers == 0 && r.detached
	sh.mu.Unlock()
	if recycle {
		putRec(r)
	}
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
