package tracker

import (
	"sync"
	"sync/atomic"
)

// The packet-number index: entries live by value in chunks of chunkSize
// consecutive packet numbers; a directory (a power-of-two ring of chunk
// pointers) maps chunk number pn>>chunkBits to its chunk. A lookup is two
// atomic loads and never takes a lock; only installing a chunk, freeing one
// and growing the directory take mu, once per chunkSize packets.
//
// A chunk is freed (unlinked and pooled) when its reference count reaches
// zero. The count is the number of occupied slots (OnSent has claimed them
// and they are not yet resolved) plus frontierRef while the sender may still
// send into the chunk (until a packet number at or past its end was sent).
// Readers hold no reference: a reader holding a freed or recycled chunk
// finds an entry whose state word names another packet (or a final phase),
// so its compare-and-swap fails. That is what makes recycling safe.
const (
	chunkBits = 10
	chunkSize = 1 << chunkBits
	chunkMask = chunkSize - 1

	// frontierRef is the reference the sending frontier holds on a chunk.
	frontierRef  = 1 << 32
	occupiedMask = frontierRef - 1

	// maxSpanChunks bounds the distance between the oldest chunk in use and
	// the newest (2^28 packet numbers, a 2 MiB directory at most), so a
	// stray packet number cannot make the directory huge.
	maxSpanChunks = 1 << 18

	minDirSize = 16
	// maxPoolSize is how many freed chunks a tracker keeps for reuse
	// (8 x 32 KiB). Chunks are pooled per tracker, never across trackers:
	// packet numbers identify entries only within one connection, so a
	// chunk passed to another tracker could be mistaken for this one's by
	// a stale reader.
	maxPoolSize = 8
)

// chunk holds the entries of packet numbers [index<<chunkBits, (index+1)<<chunkBits).
//
// Guard map: refs and index are atomic (index is written under pnIndex.mu
// before the chunk is published); frontier is guarded by pnIndex.mu;
// entries are atomic (see entry).
type chunk struct {
	refs     atomic.Int64
	index    atomic.Uint64
	life     atomic.Uint32 // installations so far: written under pnIndex.mu before publishing
	frontier bool
	entries  [chunkSize]entry
}

// tryRef takes a reference unless the chunk is dead (refs == 0).
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

// occupied reports whether any slot of the chunk may be InFlight.
func (c *chunk) occupied() bool { return c.refs.Load()&occupiedMask != 0 }

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
// are written only under mu; mu also guards pool and every chunk's frontier
// flag. mu is a leaf lock: nothing is called while it is held.
type pnIndex struct {
	dir     atomic.Pointer[directory]
	sentEnd atomic.Uint64 // 1 + the largest packet number sent (0: none)
	lo, hi  atomic.Uint64 // chunk numbers bounding every installed chunk (when live > 0)
	live    atomic.Int64  // installed chunks not yet freed

	mu   sync.Mutex
	pool []*chunk
}

func (p *pnIndex) init() { p.dir.Store(newDirectory(minDirSize)) }

// chunkOf returns the chunk currently installed for chunk number k, or nil.
// The result may be freed at any moment; callers validate entry states.
func (p *pnIndex) chunkOf(k uint64) *chunk { return p.dir.Load().get(k) }

// lookup returns the entry slot for pn and its chunk, or nil. The slot may
// belong to another packet (validate its state word).
func (p *pnIndex) lookup(pn uint64) (*chunk, *entry) {
	c := p.chunkOf(pn >> chunkBits)
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
		if c := p.chunkOf(k); c != nil && c.tryRef() {
			if c.index.Load() == k {
				return c, nil
			}
			p.unref(c) // recycled under us: give the reference back
			continue
		}
		if c, err := p.install(k); c != nil || err != nil {
			return c, err
		}
	}
}

// install installs a fresh chunk for chunk number k holding one reference
// for the caller, unless a live one is already there (then it returns nil
// and the caller retries acquire).
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
	var c *chunk
	if n := len(p.pool); n > 0 {
		c = p.pool[n-1]
		p.pool[n-1] = nil
		p.pool = p.pool[:n-1]
	} else {
		c = new(chunk)
	}
	c.index.Store(k)
	c.life.Add(1)
	refs := int64(1)
	c.frontier = p.sentEnd.Load() < (k+1)<<chunkBits
	if c.frontier {
		refs += frontierRef
	}
	c.refs.Store(refs)
	d.slots[k&d.mask].Store(c)
	p.lo.Store(lo)
	p.hi.Store(hi)
	p.live.Add(1)
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

// unref drops one reference; the last one frees the chunk.
func (p *pnIndex) unref(c *chunk) {
	if c.refs.Add(-1) == 0 {
		p.free(c)
	}
}

// free unlinks a dead chunk and pools it.
func (p *pnIndex) free(c *chunk) {
	p.mu.Lock()
	defer p.mu.Unlock()
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
	}
	if len(p.pool) < maxPoolSize {
		p.pool = append(p.pool, c)
	}
}

// advance records that pn was sent and drops the frontier reference of
// every chunk the sending frontier has now passed.
func (p *pnIndex) advance(pn uint64) {
	end := pn + 1
	for {
		old := p.sentEnd.Load()
		if end <= old {
			return
		}
		if p.sentEnd.CompareAndSwap(old, end) {
			// Chunks whose end lies in (old, end] were passed by this call.
			if old>>chunkBits != end>>chunkBits {
				p.passFrontier(old>>chunkBits, end>>chunkBits)
			}
			return
		}
	}
}

// passFrontier drops the frontier reference of chunks [from, to).
func (p *pnIndex) passFrontier(from, to uint64) {
	var dead [4]*chunk
	n := 0
	p.mu.Lock()
	if p.live.Load() > 0 {
		from, to = max(from, p.lo.Load()), min(to, p.hi.Load()+1)
		d := p.dir.Load()
		for k := from; k < to; k++ {
			c := d.get(k)
			if c == nil || !c.frontier {
				continue
			}
			c.frontier = false
			if c.refs.Add(-frontierRef) == 0 {
				if n == len(dead) {
					// Rare (a jump over many chunks): free later ones now.
					p.mu.Unlock()
					for _, x := range dead[:n] {
						p.free(x)
					}
					n = 0
					p.mu.Lock()
					d = p.dir.Load()
				}
				dead[n] = c
				n++
			}
		}
	}
	p.mu.Unlock()
	for _, c := range dead[:n] {
		p.free(c)
	}
}
