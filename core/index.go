package core

import (
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// index is the Table's concurrent map from a fixed-size key to a record:
// open addressing with the key stored inline in the slot, so a lookup that
// hits costs one cache miss (the slot) where a map with out-of-line entries
// (xsync.MapOf, sync.Map) costs two. Readers take no lock, write no shared
// memory and allocate nothing; writers serialise per shard.
//
// # Layout
//
// indexShards shards, chosen by the top bits of a keyed hash; each shard owns
// one slot array of any size (linear probing from the key's home slot: the
// hash bits below the shard's, mapped onto the array by fastrange). A
// slot is the record pointer and the key's words: nil pointer = empty (ends
// a probe), tomb = deleted (a probe passes over it), anything else = live.
// An array is never more than 4/5 used (live plus tombstones), so every
// probe ends at an empty slot.
//
// # Reading without a lock
//
// Each shard has a sequence count, even while stable. A writer makes it odd
// around every change that gives a slot a new key (an insert into an empty or
// deleted slot), so a reader that loads the same even count before and after
// its probe saw no key change, and the key it matched is the one the
// pointer belongs to. Deleting a slot and replacing a live slot's pointer
// change one word atomically and need no count change: a reader sees the old
// or the new pointer, each a correct answer at some instant of its probe.
// Every word of a slot is a typed atomic (8-byte aligned on every GOARCH,
// where a plain uint64 is not on 386, arm or 32-bit mips), so a torn read is
// only ever rejected, never a data race. Growing copies the live entries to
// a new array and publishes it (publish: the array, its size and its first
// slot, inside an odd count, so Load reads a matching size and first slot);
// the old array is never written again, so a Range still walking it sees a
// consistent past state.
//
// # Hash flooding
//
// Keys come from the network (an attacker chooses addresses, and can grind
// public keys), so slots are chosen by a hash keyed with a per-index random
// seed (a wyhash-style multiply-fold over every key word): without the seed
// an attacker cannot aim keys at one probe run.
//
// Both of the Table's maps are an index of *Peer: keys are four words (a
// PeerKey, or an address padded with a zero word), so one concrete type
// serves both and the lookup compiles to straight-line code, with no generic
// dictionary and no call for the hash.
//
// Concurrency: Load, Range and Size are safe from any goroutine at any time.
// Compute serialises with the other writers of its key's shard; its callback
// runs under that shard's lock and must not call Compute on a key of the same
// index (other indexes are fine: the Table's lock order is peers -> byAddr).
//
// Guard map: seed is immutable after newIndex; each shard's mu guards its
// array's writes and its used count; seq, tab, n, base and live are atomic.
type index struct {
	shards [indexShards]indexShard // first, so each shard starts a cache line
	seed   [4]uint64
}

// ikey is an index key: whole 64-bit words, so that every word of a slot is
// one atomic.Uint64.
type ikey = [4]uint64

// tomb marks a deleted slot: a record no caller can hold.
var tomb = new(Peer)

const (
	indexShardBits = 6
	indexShards    = 1 << indexShardBits // writers contend per shard; 64 keeps that rare at any core count petrel targets
	indexMinSlots  = 8
)

type indexShard struct {
	seq  atomic.Uint64              // even: stable; odd: a key is being written or an array published
	tab  atomic.Pointer[indexArray] // the current array (writers, Range)
	n    atomic.Uint64              // tab's size and first slot, for Load:
	base atomic.Pointer[indexSlot]  // one dependent load fewer (see Load)
	live atomic.Int64               // live entries (Size)
	mu   sync.Mutex                 // serialises writers
	used int                        // live + tombstones in tab; guarded by mu
	_    [64 - 56]byte              // one shard per cache line: readers of one shard never share a line a writer of another dirties
}

// publish makes a the shard's array. n and base change together inside an
// odd seq, so a Load that saw the same even seq before and after reading
// them has a matching pair.
func (sh *indexShard) publish(a *indexArray) {
	sh.seq.Add(1)
	sh.tab.Store(a)
	sh.n.Store(a.n)
	sh.base.Store(&a.slots[0])
	sh.seq.Add(1)
}

type indexArray struct {
	n     uint64 // len(slots)
	slots []indexSlot
}

// home returns the first slot of h's probe run: the hash bits below the
// shard's, mapped onto [0, n) by a multiply (Lemire's fastrange), so an
// array can have any size, not only a power of two.
func (a *indexArray) home(h uint64) uint64 {
	i, _ := bits.Mul64(h<<indexShardBits, a.n)
	return i
}

// next returns the slot after i, wrapping.
func (a *indexArray) next(i uint64) uint64 {
	if i++; i == a.n {
		return 0
	}
	return i
}

type indexSlot struct {
	p atomic.Pointer[Peer]
	k [4]atomic.Uint64 // the key's words (stale in a tombstone, zero when empty)
}

// key returns the slot's key. Under the shard lock (or on an array not yet
// published) it is exact; a lock-free reader validates with the shard's seq.
func (s *indexSlot) key() ikey {
	return ikey{s.k[0].Load(), s.k[1].Load(), s.k[2].Load(), s.k[3].Load()}
}

// newIndex returns an empty index presized for about sizeHint entries.
func newIndex(sizeHint int) *index {
	x := &index{}
	for i := range x.seed {
		x.seed[i] = rand.Uint64() | 1
	}
	per := max(sizeHint/indexShards, 0)
	n := slotsFor(per)
	for i := range x.shards {
		x.shards[i].publish(newIndexArray(n))
	}
	return x
}

// slotsFor returns the array size for n entries: 5/8 full. An array is
// rebuilt when an insert would fill it past 4/5 (insert), so it is between
// 5/8 and 4/5 full, and a hit probes 1.8 to 3 slots on average (linear
// probing; Knuth, TAOCP vol. 3, 6.4). The load is high on purpose, for
// memory (208 B per peer at a million peers, both indexes and the Peer
// together): a lookup is bound by the one cache miss on its slot, and in
// interleaved measurements lookups at 5/8 and 3/4 full cost no more than at
// 1/2 full.
func slotsFor(n int) int {
	return max(indexMinSlots, 8*n/5+1)
}

func newIndexArray(n int) *indexArray {
	return &indexArray{n: uint64(n), slots: make([]indexSlot, n)}
}

// mix is the 64x64->128 multiply folded to 64 bits (wyhash's mum).
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hash mixes every word of k with the seed: each half of the key is one
// 128-bit product, folded, and the two halves are mixed by a third (the
// first two run in parallel). The halves must not be combined by a plain
// XOR: h(a, b) = F(a) ^ G(b) makes h(a,b) ^ h(a',b) ^ h(a,b') ^ h(a',b')
// zero for every seed, so whether two addresses share a probe run would not
// depend on the port, and the top bits of each half, a multiplicative
// sequence of the word that varies (an address, a port), would line up for
// some seeds: runs of hundreds of slots for sequential addresses or address
// x port grids (TestIndexProbeRunsStructuredKeys). The shard comes from the
// top bits, the slot from the rest (home).
func (x *index) hash(k *ikey) uint64 {
	return mix(mix(k[0]^x.seed[0], k[1]^x.seed[1]), mix(k[2]^x.seed[2], k[3]^x.seed[3]))
}

func (x *index) shard(h uint64) *indexShard {
	return &x.shards[h>>(64-indexShardBits)]
}

// Load returns the record stored under k.
//
// It is written for the cache miss it cannot avoid (the slot): no calls
// (the hash and the probe are spelled out here; hash and find are the same
// code for writers and the retry path), and the array's size and first slot
// read from the shard's own cache line rather than through tab, so the
// slot's address depends on one L1 load fewer. The (n, base) pair is
// checked against seq before the probe indexes with it, so a probe never
// runs off an array; slots are reached with unsafe.Add, bounded by that n.
func (x *index) Load(k ikey) (*Peer, bool) {
	h := mix(mix(k[0]^x.seed[0], k[1]^x.seed[1]), mix(k[2]^x.seed[2], k[3]^x.seed[3])) // x.hash(&k)
	sh := &x.shards[h>>(64-indexShardBits)]
	if seq := sh.seq.Load(); seq&1 == 0 {
		n, base := sh.n.Load(), sh.base.Load()
		if sh.seq.Load() == seq {
			i, _ := bits.Mul64(h<<indexShardBits, n) // indexArray.home
			for {
				s := (*indexSlot)(unsafe.Add(unsafe.Pointer(base), uintptr(i)*unsafe.Sizeof(indexSlot{})))
				p := s.p.Load()
				if p == nil || p != tomb && s.holds(&k) {
					if sh.seq.Load() == seq {
						return p, p != nil
					}
					break
				}
				if i++; i == n {
					i = 0
				}
			}
		}
	}
	return x.loadRetry(sh, h, &k)
}

// loadRetry is Load's slow path: a writer moved the shard's seq during the
// first probe.
func (x *index) loadRetry(sh *indexShard, h uint64, k *ikey) (*Peer, bool) {
	for spins := 0; ; spins++ {
		if seq := sh.seq.Load(); seq&1 == 0 {
			p := sh.tab.Load().find(h, k)
			if sh.seq.Load() == seq {
				return p, p != nil
			}
		}
		if spins >= 16 {
			runtime.Gosched() // a writer was descheduled mid-store
		}
	}
}

// find returns the live record under k, or nil. The caller validates the
// result against the shard's seq.
func (a *indexArray) find(h uint64, k *ikey) *Peer {
	for i := a.home(h); ; i = a.next(i) {
		s := &a.slots[i]
		p := s.p.Load()
		if p == nil {
			return nil
		}
		if p != tomb && s.holds(k) {
			return p
		}
	}
}

func (s *indexSlot) holds(k *ikey) bool {
	return s.k[0].Load() == k[0] && s.k[1].Load() == k[1] &&
		s.k[2].Load() == k[2] && s.k[3].Load() == k[3]
}

// Compute calls f with k's current record (nil, false if absent) under k's
// shard lock and applies its answer: del removes the entry (nothing if
// absent); otherwise v is stored under k unless v is nil. Concurrent Loads see
// the entry before or after, never a mix.
func (x *index) Compute(k ikey, f func(cur *Peer, loaded bool) (v *Peer, del bool)) {
	h := x.hash(&k)
	sh := x.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	a := sh.tab.Load()
	at, free := a.lookup(h, &k)
	var cur *Peer
	if at >= 0 {
		cur = a.slots[at].p.Load()
	}
	v, del := f(cur, at >= 0)
	switch {
	case at >= 0 && del:
		a.slots[at].p.Store(tomb)
		sh.live.Add(-1)
	case at >= 0 && v != nil:
		if v != cur {
			a.slots[at].p.Store(v)
		}
	case at < 0 && !del && v != nil:
		x.insert(sh, a, h, free, &k, v)
	}
}

// lookup returns the slot holding k (at, or -1) and the slot an insert of k
// would use: the first tombstone on k's probe run, else the empty slot that
// ended it. Called under the shard lock.
func (a *indexArray) lookup(h uint64, k *ikey) (at, free int) {
	free = -1
	for i := a.home(h); ; i = a.next(i) {
		p := a.slots[i].p.Load()
		switch {
		case p == nil:
			if free < 0 {
				free = int(i)
			}
			return -1, free
		case p == tomb:
			if free < 0 {
				free = int(i)
			}
		case a.slots[i].holds(k):
			return int(i), free
		}
	}
}

// insert stores v under the absent key k at slot free of a, growing (or
// clearing tombstones) first when that would fill a past 4/5. Called under
// the shard lock.
func (x *index) insert(sh *indexShard, a *indexArray, h uint64, free int, k *ikey, v *Peer) {
	reuse := a.slots[free].p.Load() != nil // a tombstone
	if !reuse && 5*(sh.used+1) > 4*len(a.slots) {
		// Rebuild off to the side, then publish: readers on the old
		// array see it unchanged.
		n := slotsFor(int(sh.live.Load()) + 1)
		b := newIndexArray(n)
		for i := range a.slots {
			s := &a.slots[i]
			if p := s.p.Load(); p != nil && p != tomb {
				sk := s.key()
				b.place(x.hash(&sk), &sk, p)
			}
		}
		b.place(h, k, v)
		sh.publish(b)
		sh.used = int(sh.live.Add(1))
		return
	}
	s := &a.slots[free]
	sh.seq.Add(1) // odd: the slot's key changes
	storeKey(s, k)
	s.p.Store(v)
	sh.seq.Add(1)
	sh.live.Add(1)
	if !reuse {
		sh.used++
	}
}

// place stores (k, v) in the first empty slot of k's run in an array not yet
// published.
func (a *indexArray) place(h uint64, k *ikey, v *Peer) {
	i := a.home(h)
	for a.slots[i].p.Load() != nil {
		i = a.next(i)
	}
	s := &a.slots[i]
	storeKey(s, k)
	s.p.Store(v)
}

// storeKey writes k into s word by word, atomically (readers may be
// probing s; the shard's seq tells them to retry).
func storeKey(s *indexSlot, k *ikey) {
	for i := range k {
		s.k[i].Store(k[i])
	}
}

// Range calls f for every live record until f returns false. No lock is
// held across f, so f may call back into the index. A record present for the
// whole Range is visited exactly once (entries never move within an array,
// and an array replaced during the walk is no longer written); one added or
// removed meanwhile may or may not be visited, and a key removed and added
// again may be visited with both records.
func (x *index) Range(f func(*Peer) bool) {
	for i := range x.shards {
		a := x.shards[i].tab.Load()
		for j := range a.slots {
			if p := a.slots[j].p.Load(); p != nil && p != tomb && !f(p) {
				return
			}
		}
	}
}

// Barrier returns once every Compute that was running when it was called
// has returned: a flag the callbacks check, set before Barrier, is seen by
// every Compute that runs after it, and whatever the earlier ones stored is
// visible to a Range that starts after Barrier returns.
func (x *index) Barrier() {
	for i := range x.shards {
		x.shards[i].mu.Lock()
		//lint:ignore SA2001 the empty critical section is the point: it waits out the holder
		x.shards[i].mu.Unlock()
	}
}

// Size returns the number of live entries (exact at quiescence).
func (x *index) Size() int {
	n := int64(0)
	for i := range x.shards {
		n += x.shards[i].live.Load()
	}
	return int(n)
}
