package session

import "sync/atomic"

// rxBuf is the receive side of one byte stream: a ring of pooled 16 KiB
// chunks indexed by stream offset, into which the receive path copies each
// STREAM frame's data at its offset, in whatever order fragments arrive,
// and from which the reader copies the contiguous prefix out.
//
// The two sides share no lock. The receive path (one goroutine at a time:
// it runs under the session's mu) writes only at offsets at or above the
// contiguous frontier and publishes the frontier with an atomic store once
// the bytes below it are in place; the reader (one goroutine at a time: the
// Stream's readMu) reads only below the frontier it loaded and publishes
// how far it read (consumed) with an atomic store. Chunks wholly below
// consumed are given back by reclaim, and the ring is grown by ensure, both
// under mu only: the reader never frees or installs a chunk, so its loads of
// the ring and of the chunks it names are ordered after the stores that
// filled them by the frontier's store and load (Go memory model: a
// synchronized-before edge through sync/atomic).
//
// Ending the stream early must give the chunks back while a reader may be
// copying from them: state arbitrates. The reader sets rxReading around its
// copy; kill sets rxDead. Whichever of the two sees the other's bit frees
// the chunks (free), so they go back once, after the last copy.
type rxBuf struct {
	ring     atomic.Pointer[[]*[chunkSize]byte] // len is a power of two
	frontier atomic.Uint64                      // every byte below arrived
	consumed atomic.Uint64                      // every byte below was read (or discarded)
	state    atomic.Uint32                      // rxReading | rxDead

	// mu (the session's) guards the fields below.
	ranges rangeSet // bytes received at or above frontier
	freed  uint64   // chunks below this (a multiple of chunkSize) were given back
	top    uint64   // one past the highest chunk index installed
}

const (
	rxReading uint32 = 1 << iota
	rxDead
)

// minRing is the smallest ring: 8 chunks, 128 KiB of window, 64 bytes of
// slots.
const minRing = 8

// writeLocked stores data at off. The caller has cut data to [frontier,
// limit) and checked the stream is alive. It reports whether the frontier
// moved.
func (b *rxBuf) writeLocked(off uint64, data []byte) bool {
	if len(data) == 0 {
		return false
	}
	end := off + uint64(len(data))
	b.reclaimLocked()
	b.ensureLocked(end)
	ring := *b.ring.Load()
	mask := uint64(len(ring) - 1)
	for p, at := data, off; len(p) > 0; {
		idx := at / chunkSize
		c := ring[idx&mask]
		if c == nil {
			c = chunks.Get().(*[chunkSize]byte)
			ring[idx&mask] = c
		}
		n := copy(c[at%chunkSize:], p)
		p = p[n:]
		at += uint64(n)
	}
	b.ranges.add(off, end)
	f, _ := b.ranges.first()
	front := b.frontier.Load()
	if f.lo != front {
		return false
	}
	b.ranges.trimBelow(f.hi)
	b.frontier.Store(f.hi)
	return true
}

// ensureLocked makes the ring span every chunk from the oldest still held
// up to the one holding end-1, growing it if needed (the reader may hold
// the old ring: it stays valid for the bytes it may read).
func (b *rxBuf) ensureLocked(end uint64) {
	last := (end - 1) / chunkSize
	first := b.freed / chunkSize
	rp := b.ring.Load()
	if rp != nil && last-first < uint64(len(*rp)) {
		b.top = max(b.top, last+1)
		return
	}
	n := minRing
	for uint64(n) <= last-first {
		n *= 2
	}
	ring := make([]*[chunkSize]byte, n)
	if rp != nil {
		old := *rp
		om := uint64(len(old) - 1)
		for i := first; i < b.top; i++ {
			ring[i&uint64(n-1)] = old[i&om]
		}
	}
	b.ring.Store(&ring)
	b.top = max(b.top, last+1)
}

// reclaimLocked gives back the chunks wholly below what the reader
// consumed.
func (b *rxBuf) reclaimLocked() {
	rp := b.ring.Load()
	if rp == nil {
		return
	}
	ring := *rp
	mask := uint64(len(ring) - 1)
	upTo := b.consumed.Load() / chunkSize // chunks below this index are read
	for i := b.freed / chunkSize; i < upTo && i < b.top; i++ {
		if c := ring[i&mask]; c != nil {
			chunks.Put(c)
			ring[i&mask] = nil
		}
	}
	if upTo*chunkSize > b.freed {
		b.freed = upTo * chunkSize
	}
	if b.freed >= b.top*chunkSize && b.consumed.Load() == b.frontier.Load() && len(b.ranges.s) == 0 {
		// Nothing held: drop the ring too, so an idle stream costs no
		// slots. The reader may still hold it; it reads nothing from it
		// (consumed == frontier).
		b.ring.Store(nil)
		b.top = b.freed / chunkSize
	}
}

// read copies bytes from consumed up to the frontier into p and advances
// consumed; it returns 0 with nothing to read. Only the reader calls it,
// between enter and exit.
func (b *rxBuf) read(p []byte) int {
	c := b.consumed.Load()
	f := b.frontier.Load()
	if f <= c || len(p) == 0 {
		return 0
	}
	ring := *b.ring.Load()
	mask := uint64(len(ring) - 1)
	n := 0
	for n < len(p) && c < f {
		chunk := ring[(c/chunkSize)&mask]
		at := c % chunkSize
		k := copy(p[n:], chunk[at:min(chunkSize, at+(f-c))])
		n += k
		c += uint64(k)
	}
	b.consumed.Store(c)
	return n
}

// enter marks a copy in progress; false once the buffer was killed.
func (b *rxBuf) enter() bool {
	return b.state.CompareAndSwap(0, rxReading)
}

// exit ends a copy; it reports whether the buffer was killed meanwhile (the
// caller must then free it, under mu).
func (b *rxBuf) exit() bool {
	return b.state.And(^rxReading)&rxDead != 0
}

// killLocked ends the buffer: nothing more is written or read. It frees the
// chunks at once unless a copy is in progress (its exit reports it).
func (b *rxBuf) killLocked() {
	if b.state.Or(rxDead)&(rxReading|rxDead) == 0 {
		b.freeLocked()
	}
}

// freeLocked gives every chunk and the ring back.
func (b *rxBuf) freeLocked() {
	if rp := b.ring.Load(); rp != nil {
		ring := *rp
		for i, c := range ring {
			if c != nil {
				chunks.Put(c)
				ring[i] = nil
			}
		}
		b.ring.Store(nil)
	}
	b.ranges = rangeSet{}
}

// dead reports whether kill ran.
func (b *rxBuf) dead() bool { return b.state.Load()&rxDead != 0 }
