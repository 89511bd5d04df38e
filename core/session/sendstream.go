package session

import "sync"

// chunkSize is the unit of send-buffer memory: 16 KiB, a dozen full packets,
// so a message of a few bytes takes one chunk and a 1 MiB message 64.
const chunkSize = 16 << 10

var chunks = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// sendStream is the send side of one stream: the bytes written and not yet
// acknowledged, in pooled chunks, and the books of what was sent and
// acknowledged.
//
//	acked below base | base ... next: sent at least once | next ... written: never sent
//
// Not safe for concurrent use: the session's mu guards it.
type sendStream struct {
	id        uint64
	base      uint64 // every byte below is acknowledged
	chunkBase uint64 // stream offset of chunks[0][0]; a multiple of chunkSize
	chunks    []*[chunkSize]byte
	next      uint64   // first byte never sent
	written   uint64   // end of the bytes written
	acked     rangeSet // acknowledged ranges at or above base
	filling   bool     // a ReadFrom reads into the tail chunk (outside mu): keep it
	released  bool     // release ran while filling: free once the fill ends
}

// write appends p to the stream.
func (s *sendStream) write(p []byte) {
	for len(p) > 0 {
		idx := int((s.written - s.chunkBase) / chunkSize)
		if idx == len(s.chunks) {
			s.chunks = append(s.chunks, chunks.Get().(*[chunkSize]byte))
		}
		at := int((s.written - s.chunkBase) % chunkSize)
		n := copy(s.chunks[idx][at:], p)
		p = p[n:]
		s.written += uint64(n)
	}
}

// tail returns the free room of the chunk that holds offset written, at
// most max bytes, installing the chunk if needed: ReadFrom reads into it
// without the session's lock (no packer reads at or above written) and
// then advances written.
func (s *sendStream) tail(max int) []byte {
	idx := int((s.written - s.chunkBase) / chunkSize)
	if idx == len(s.chunks) {
		s.chunks = append(s.chunks, chunks.Get().(*[chunkSize]byte))
	}
	at := int((s.written - s.chunkBase) % chunkSize)
	return s.chunks[idx][at:min(chunkSize, at+max)]
}

// endFill ends a ReadFrom's fill; it frees the buffer if release ran
// meanwhile.
func (s *sendStream) endFill() {
	s.filling = false
	if s.released {
		s.release()
	}
}

// appendRange appends the stream's bytes [off, off+n) to dst. The range must
// lie within [base, written).
func (s *sendStream) appendRange(dst []byte, off uint64, n int) []byte {
	for n > 0 {
		rel := off - s.chunkBase
		c := s.chunks[rel/chunkSize]
		at := int(rel % chunkSize)
		k := min(n, chunkSize-at)
		dst = append(dst, c[at:at+k]...)
		off += uint64(k)
		n -= k
	}
	return dst
}

// onAcked records [off, off+n) as acknowledged, advances base over the
// acknowledged prefix and gives back the chunks wholly below it. Acknowledging
// a range twice (a spurious loss whose original was acknowledged late, and its
// retransmission) is harmless.
func (s *sendStream) onAcked(off uint64, n uint32) {
	end := off + uint64(n)
	if end <= s.base {
		return
	}
	s.acked.add(max(off, s.base), end)
	f, _ := s.acked.first()
	if f.lo != s.base {
		return
	}
	s.base = f.hi
	s.acked.trimBelow(s.base)
	s.freeBelow(s.base)
}

// isAcked reports whether every byte of [off, off+n) was acknowledged.
func (s *sendStream) isAcked(off uint64, n uint32) bool {
	end := off + uint64(n)
	return end <= s.base || s.acked.covers(max(off, s.base), end)
}

// freeBelow returns the chunks that hold only bytes below off.
func (s *sendStream) freeBelow(off uint64) {
	k := 0
	for k < len(s.chunks) && s.chunkBase+chunkSize <= off {
		chunks.Put(s.chunks[k])
		s.chunks[k] = nil
		s.chunkBase += chunkSize
		k++
	}
	if k > 0 {
		s.chunks = append(s.chunks[:0], s.chunks[k:]...)
	}
	if s.base == s.written && len(s.chunks) == 1 && s.written%chunkSize != 0 && !s.filling {
		// Everything is acknowledged and the last chunk is partly used:
		// give it back too; the next write starts a fresh one at the
		// current offset's chunk boundary.
		chunks.Put(s.chunks[0])
		s.chunks[0] = nil
		s.chunks = s.chunks[:0]
		s.chunkBase = s.written - s.written%chunkSize
	}
	if len(s.chunks) == 0 && cap(s.chunks) > keptChunkSlots {
		s.chunks = nil
	}
}

// keptChunkSlots is the capacity of the chunk list an idle stream keeps: 32
// bytes, so a session that goes idle and writes again (every request-reply
// exchange) does not allocate the list anew, while one that buffered a large
// message gives its long list back.
const keptChunkSlots = 4

// release gives every chunk back (the session ended).
func (s *sendStream) release() {
	if s.filling {
		s.released = true // the fill's end frees them
		return
	}
	s.released = false
	for i, c := range s.chunks {
		chunks.Put(c)
		s.chunks[i] = nil
	}
	s.chunks = nil
	s.acked = rangeSet{}
}
