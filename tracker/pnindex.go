package tracker

import (
	"sync"
	"sync/atomic"
)

// The packet-number index: entries live by value in chunks of chunkSize
// consecutive packet numbers; a directory (a power-of-two ring of chunk
// pointers) maps chunk number pn>>chunkBits to its chunk. A lookup is two
// atomic loads and never takes a lock; only installing a chunk, freeing one
// and growing the directory take mu.
//
// Chunks come from a pool shared by every tracker of the process
// (chunkPool) when traffic needs them and go back as soon as they hold
// nothing: a chunk is freed when its reference count reaches zero. The
// count is the number of its slots claimed and not yet final (in flight or
// lost) plus the pins of readers working on it. So a tracker with nothing
// in flight or lost holds no chunk, and an idle connection no per-packet
// storage.
//
// A chunk may thus move to another tracker, whose packet numbers overlap
// this one's: a reader holding a chunk it found earlier could take another
// connection's packet for its own. So every reader that may change an
// entry pins the chunk first (pin: a reference, then a check that the
// chunk is still this index's chunk for that number), and a pinned chunk
// cannot be freed, let alone handed to another tracker. Within a tracker,
// a slot recycled for another packet is told apart by the packet number in
// its state word, which the pinned reader's compare-and-swap checks.
const (
	chunkBits = 10
	chunkSize = 1 << chunkBits
	chunkMask = chunkSize - 1

	// maxSpanChunks bounds the distance between the oldest chunk in use and
	// the newest (2^28 packet numbers, a 2 MiB directory at most), so a
	// stray packet number cannot make the directory huge.
	maxSpanChunks = 1 << 18

	minDirSize = 16
)

// chunkPool holds free chunks for every tracker of the process. See
// getChunk and putChunk.
var chunkPool sync.Pool

// testChunkPool, if set by a test, replaces chunkPool by a plain LIFO list
// (under pnIndex locks of one tracker only), so a test can tell which chunk
// is recycled.
var testChunkPool *[]*chunk

func getChunk() *chunk {
	if l := testChunkPool; l != nil {
		if n := len(*l); n > 0 {
			c := (*l)[n-1]
			*l = (*l)[:n-1]
			return c
		}
		return new(chunk)
	}
	if c, _ := chunkPool.Get().(*chunk); c != nil {
		return c
	}
	return new(chunk)
}

func putChunk(c *chunk) {
	if l := testChunkPool; l != nil {
		*l = append(*l, c)
		return
	}
	chunkPool.Put(c)
}

// chunk holds the entries of packet numbers [index<<chunkBits, (index+1)<<chunkBits).
//
// Guard map: refs, owner, index and life are atomic; owner, index and life
// are written only while refs is zero (the chunk is free), by install
// under the new owner's mu, before refs publishes the chunk. entries are
// atomic (see entry).
type chunk struct {
	refs    atomic.Int64
	index   atomic.Uint64
	owner   atomic.Pointer[pnIndex]
	life    atomic.Uint32 // installations so far
	entries [chunkSize]entry
}

// tryRef takes a reference unless the chunk is free (refs == 0).
func (c *chunk) tryRef() bool {
	for {
		r := c.refs.Load()
		if r <= 0 {
			return false
		}
		if c.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// unref drops one reference; the last one frees the chunk to its owner.
func unref(c *chunk) {
	if c.refs.Add(-1) == 0 {
		c.owner.Load().free(c)
	}
}

// directory is a power-of-two ring of chunk pointers.
//
// Guard map: mask and the slots slice are immutable after newDirectory; each
// slot is atomic, read without a lock and stored only under pnIndex.mu.
type directory struct {
	mask  uint64
	slots []atomic.Pointer[chunk]
}

// get returns the chunk installed in d for chunk number k, or nil (a slot
// may hold a chunk of another number that shares it).
func (d *directory) get(k uint64) *chunk {
	c := d.slots[k&d.mask].Load()
	if c == nil || c.index.Load() != k {
		return nil
	}
	return c
}

func newDirectory(n int) *directory {
	return &directory{mask: uint64(n - 1), slots: make([]atomic.Pointer[chunk], n)}
}

// pnIndex maps packet numbers to entries.
//
// Guard map: dir, sentEnd, lo, hi and live are atomic; dir, lo, hi and live
// are written only under mu. mu is a leaf lock: nothing but the shared
// chunk pool is called while it is held.
type pnIndex struct {
	dir     atomic.Pointer[directory]
	sentEnd atomic.Uint64 // 1 + the largest packet number sent (0: none)
	lo, hi  atomic.Uint64 // chunk numbers bounding every installed chunk (when live > 0)
	live    atomic.Int64  // installed chunks not yet freed

	mu sync.Mutex
}

func (p *pnIndex) init() { p.dir.Store(newDirectory(minDirSize)) }

// chunkOf returns the chunk currently installed for chunk number k, or nil.
// The result may be freed (and reused by another tracker) at any moment:
// only a reader that merely loads state words may use it unpinned.
func (p *pnIndex) chunkOf(k uint64) *chunk { return p.dir.Load().get(k) }

// lookup returns the entry slot for pn and its chunk, or nil, unpinned
// (see chunkOf). The slot may belong to another packet (validate its state
// word).
func (p *pnIndex) lookup(pn uint64) (*chunk, *entry) {
	c := p.chunkOf(pn >> chunkBits)
	if c == nil {
		return nil, nil
	}
	return c, &c.entries[pn&chunkMask]
}

// pin returns the chunk installed for chunk number k holding a reference
// for the caller (who drops it with unref), or nil.
func (p *pnIndex) pin(k uint64) *chunk {
	c := p.chunkOf(k)
	if c == nil || !p.pinned(c, k) {
		return nil
	}
	return c
}

// pinned takes a reference on c and reports whether c is this index's chunk
// for number k; if not, it gives the reference back.
func (p *pnIndex) pinned(c *chunk, k uint64) bool {
	if !c.tryRef() {
		return false
	}
	if c.owner.Load() != p || c.index.Load() != k {
		unref(c) // freed and reinstalled under us, here or elsewhere
		return false
	}
	return true
}

// lookupPinned is lookup with the chunk pinned.
func (p *pnIndex) lookupPinned(pn uint64) (*chunk, *entry) {
	c := p.pin(pn >> chunkBits)
	if c == nil {
		return nil, nil
	}
	return c, &c.entries[pn&chunkMask]
}

// acquire returns the chunk for pn holding one reference for the caller's
// slot, installing a chunk if none is live. It fails with ErrWindow if pn
// is too far from the packets in flight.
func (p *pnIndex) acquire(pn uint64) (*chunk, error) {
	k := pn >> chunkBits
	for {
		if c := p.pin(k); c != nil {
			return c, nil
		}
		if c, err := p.install(k); c != nil || err != nil {
			return c, err
		}
	}
}

// install installs a chunk from the pool for chunk number k holding one
// reference for the caller, unless a live one is already there (then it
// returns nil and the caller retries acquire).
func (p *pnIndex) install(k uint64) (*chunk, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.dir.Load()
	if old := d.slots[k&d.mask].Load(); old != nil && old.index.Load() == k && old.refs.Load() > 0 {
		return nil, nil
	}
	lo, hi := k, k
	if p.live.Load() > 0 {
		lo, hi = min(p.lo.Load(), k), max(p.hi.Load(), k)
	}
	if hi-lo >= maxSpanChunks {
		return nil, ErrWindow
	}
	if hi-lo >= uint64(len(d.slots)) {
		d = p.growLocked(d, hi-lo+1)
	}
	c := getChunk()
	// A recycled chunk still holds the final state words of its last life,
	// packet numbers included, and connections reuse packet numbers (each
	// starts at 0): a word left for packet pn would answer for this
	// tracker's pn before it is sent (Retransmit of an unsent packet said
	// ErrAcked, not ErrNotLost; found by FuzzTracker). Clear them while
	// refs is zero: no pinned holder sees the stores, and an unpinned
	// reader only loads words and checks their packet number.
	for i := range c.entries {
		c.entries[i].state.Store(0)
	}
	c.owner.Store(p)
	c.index.Store(k)
	c.life.Add(1)
	d.slots[k&d.mask].Store(c)
	p.lo.Store(lo)
	p.hi.Store(hi)
	p.live.Add(1)
	// Publish the chunk to pinners last: a reader that found this chunk
	// object in its previous life here, for the same number, could pin it
	// as soon as refs leaves zero, and its packets must then be covered by
	// live, lo and hi.
	c.refs.Store(1)
	return c, nil
}

// growLocked replaces the directory by one with room for span chunks.
func (p *pnIndex) growLocked(old *directory, span uint64) *directory {
	n := uint64(len(old.slots))
	for n < span {
		n *= 2
	}
	d := newDirectory(int(n))
	for i := range old.slots {
		if c := old.slots[i].Load(); c != nil {
			d.slots[c.index.Load()&d.mask].Store(c)
		}
	}
	p.dir.Store(d)
	return d
}

// unref drops one reference on c, one of this index's chunks.
func (p *pnIndex) unref(c *chunk) { unref(c) }

// free unlinks a dead chunk and gives it back to the shared pool. With no
// chunk left, a directory grown past its minimum size is replaced by a
// minimal one: an idle index holds nothing sized to its past traffic.
func (p *pnIndex) free(c *chunk) {
	p.mu.Lock()
	k := c.index.Load()
	d := p.dir.Load()
	if d.slots[k&d.mask].Load() == c {
		d.slots[k&d.mask].Store(nil)
	}
	if p.live.Add(-1) > 0 {
		lo, hi := p.lo.Load(), p.hi.Load()
		for lo < hi && d.get(lo) == nil {
			lo++
		}
		for hi > lo && d.get(hi) == nil {
			hi--
		}
		p.lo.Store(lo)
		p.hi.Store(hi)
	} else if len(d.slots) > minDirSize {
		p.dir.Store(newDirectory(minDirSize))
	}
	p.mu.Unlock()
	putChunk(c)
}

// advance records that pn was sent.
func (p *pnIndex) advance(pn uint64) {
	end := pn + 1
	for {
		old := p.sentEnd.Load()
		if end <= old || p.sentEnd.CompareAndSwap(old, end) {
			return
		}
	}
}
