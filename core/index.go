package core

import (
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
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
// one power-of-two slot array (linear probing, from the hash's low bits). A
// slot is the record pointer and the key's words: nil pointer = empty (ends
// a probe), x.tomb = deleted (a probe passes over it), anything else = live.
// An array is never more than 3/4 used (live plus tombstones), so every
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
// Every word of a slot is read and written atomically, so a torn read is
// only ever rejected, never a data race. Growing copies the live entries to
// a new array and publishes it with one pointer store; the old array is never
// written again, so a reader still on it sees a consistent past state, and
// any later change to the new array moves the count it will check.
//
// # Hash flooding
//
// Keys come from the network (an attacker chooses addresses, and can grind
// public keys), so slots are chosen by a hash keyed with a per-index random
// seed (a wyhash-style multiply-fold over every key word): without the seed
// an attacker cannot aim keys at one probe run.
//
// Concurrency: Load, Range and Size are safe from any goroutine at any time.
// Compute serialises with the other writers of its key's shard; its callback
// runs under that shard's lock and must not call Compute on a key of the same
// index (other indexes are fine: the Table's lock order is peers -> byAddr).
//
// Guard map: seed and tomb are immutable after newIndex; each shard's mu
// guards its array's writes and its used count; seq, tab and live are atomic.
type index[K indexKey, V any] struct {
	seed   [5]uint64
	tomb   *V // the deleted-slot marker: a pointer no caller can hold
	shards [indexShards]indexShard[K, V]
}

// indexKey is the shape of an index key: whole 64-bit words, so that every
// word of a slot is loaded and stored atomically.
type indexKey interface{ [3]uint64 | [4]uint64 }

const (
	indexShardBits = 6
	indexShards    = 1 << indexShardBits // writers contend per shard; 64 keeps that rare at any core count petrel targets
	indexMinSlots  = 8
)

type indexShard[K indexKey, V any] struct {
	seq  atomic.Uint64                    // even: stable; odd: a key is being written
	tab  atomic.Pointer[indexArray[K, V]] // the current array
	live atomic.Int64                     // live entries (Size)
	mu   sync.Mutex                       // serialises writers
	used int                              // live + tombstones in tab; guarded by mu
	_    [64 - 40]byte                    // one shard per cache line: readers of one shard never share a line a writer of another dirties
}

type indexArray[K indexKey, V any] struct {
	mask  uint64
	slots []indexSlot[K, V]
}

type indexSlot[K indexKey, V any] struct {
	p atomic.Pointer[V]
	k K // every word accessed with sync/atomic
}

// newIndex returns an empty index presized for about sizeHint entries.
func newIndex[K indexKey, V any](sizeHint int) *index[K, V] {
	x := &index[K, V]{tomb: new(V)}
	for i := range x.seed {
		x.seed[i] = rand.Uint64() | 1
	}
	per := max(sizeHint/indexShards, 0)
	n := slotsFor(per)
	for i := range x.shards {
		x.shards[i].tab.Store(newIndexArray[K, V](n))
	}
	return x
}

// slotsFor returns the array size that holds n entries at most half full.
func slotsFor(n int) int {
	if n < indexMinSlots/2 {
		return indexMinSlots
	}
	return 1 << bits.Len(uint(2*n-1))
}

func newIndexArray[K indexKey, V any](n int) *indexArray[K, V] {
	return &indexArray[K, V]{mask: uint64(n - 1), slots: make([]indexSlot[K, V], n)}
}

// mix is the 64x64->128 multiply folded to 64 bits (wyhash's mum).
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hash mixes every word of k with the seed. The shard comes from the top
// bits and the slot from the low bits.
func (x *index[K, V]) hash(k *K) uint64 {
	h := x.seed[4]
	for i := 0; i < len(*k); i += 2 {
		b := x.seed[i+1]
		if i+1 < len(*k) {
			b ^= (*k)[i+1]
		}
		h ^= mix((*k)[i]^x.seed[i], b)
	}
	return mix(h, x.seed[4]^0x9e3779b97f4a7c15)
}

func (x *index[K, V]) shard(h uint64) *indexShard[K, V] {
	return &x.shards[h>>(64-indexShardBits)]
}

// Load returns the record stored under k.
func (x *index[K, V]) Load(k K) (*V, bool) {
	h := x.hash(&k)
	sh := x.shard(h)
	for spins := 0; ; spins++ {
		if seq := sh.seq.Load(); seq&1 == 0 {
			p := sh.tab.Load().find(h, &k, x.tomb)
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
func (a *indexArray[K, V]) find(h uint64, k *K, tomb *V) *V {
	for i := h & a.mask; ; i = (i + 1) & a.mask {
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

func (s *indexSlot[K, V]) holds(k *K) bool {
	for i := range len(*k) {
		if atomic.LoadUint64(&s.k[i]) != (*k)[i] {
			return false
		}
	}
	return true
}

// Compute calls f with k's current record (nil, false if absent) under k's
// shard lock and applies its answer: del removes the entry (nothing if
// absent); otherwise v is stored under k unless v is nil. Concurrent Loads see
// the entry before or after, never a mix.
func (x *index[K, V]) Compute(k K, f func(cur *V, loaded bool) (v *V, del bool)) {
	h := x.hash(&k)
	sh := x.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	a := sh.tab.Load()
	at, free := a.lookup(h, &k, x.tomb)
	var cur *V
	if at >= 0 {
		cur = a.slots[at].p.Load()
	}
	v, del := f(cur, at >= 0)
	switch {
	case at >= 0 && del:
		a.slots[at].p.Store(x.tomb)
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
func (a *indexArray[K, V]) lookup(h uint64, k *K, tomb *V) (at, free int) {
	free = -1
	for i := h & a.mask; ; i = (i + 1) & a.mask {
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
// clearing tombstones) first when that would fill a past 3/4. Called under
// the shard lock.
func (x *index[K, V]) insert(sh *indexShard[K, V], a *indexArray[K, V], h uint64, free int, k *K, v *V) {
	reuse := a.slots[free].p.Load() != nil // a tombstone
	if !reuse && 4*(sh.used+1) > 3*len(a.slots) {
		// Rebuild off to the side, then publish: readers on the old
		// array see it unchanged.
		n := slotsFor(int(sh.live.Load()) + 1)
		b := newIndexArray[K, V](n)
		for i := range a.slots {
			s := &a.slots[i]
			if p := s.p.Load(); p != nil && p != x.tomb {
				b.place(x.hash(&s.k), &s.k, p)
			}
		}
		b.place(h, k, v)
		sh.tab.Store(b)
		sh.used = int(sh.live.Add(1))
		return
	}
	s := &a.slots[free]
	sh.seq.Add(1) // odd: the slot's key changes
	for i := range len(*k) {
		atomic.StoreUint64(&s.k[i], (*k)[i])
	}
	s.p.Store(v)
	sh.seq.Add(1)
	sh.live.Add(1)
	if !reuse {
		sh.used++
	}
}

// place stores (k, v) in the first empty slot of k's run in an array not yet
// published.
func (a *indexArray[K, V]) place(h uint64, k *K, v *V) {
	i := h & a.mask
	for a.slots[i].p.Load() != nil {
		i = (i + 1) & a.mask
	}
	s := &a.slots[i]
	for j := range len(*k) {
		atomic.StoreUint64(&s.k[j], (*k)[j])
	}
	s.p.Store(v)
}

// Range calls f for every live record until f returns false. No lock is
// held across f, so f may call back into the index. A record present for the
// whole Range is visited exactly once (entries never move within an array,
// and an array replaced during the walk is no longer written); one added or
// removed meanwhile may or may not be visited, and a key removed and added
// again may be visited with both records.
func (x *index[K, V]) Range(f func(*V) bool) {
	for i := range x.shards {
		a := x.shards[i].tab.Load()
		for j := range a.slots {
			if p := a.slots[j].p.Load(); p != nil && p != x.tomb && !f(p) {
				return
			}
		}
	}
}

// Barrier returns once every Compute that was running when it was called
// has returned: a flag the callbacks check, set before Barrier, is seen by
// every Compute that runs after it, and whatever the earlier ones stored is
// visible to a Range that starts after Barrier returns.
func (x *index[K, V]) Barrier() {
	for i := range x.shards {
		x.shards[i].mu.Lock()
		//lint:ignore SA2001 the empty critical section is the point: it waits out the holder
		x.shards[i].mu.Unlock()
	}
}

// Size returns the number of live entries (exact at quiescence).
func (x *index[K, V]) Size() int {
	n := int64(0)
	for i := range x.shards {
		n += x.shards[i].live.Load()
	}
	return int(n)
}
