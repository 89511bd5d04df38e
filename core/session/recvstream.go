package session

import (
	"slices"
	"sync"

	"github.com/petrel-transport/petrel/core/wire"
)

// segment is stream data that arrived ahead of the contiguous frontier,
// copied out of the datagram into a pooled buffer (the driver reuses its
// own).
type segment struct {
	off uint64
	buf *[]byte
}

var segBufs = sync.Pool{New: func() any { b := make([]byte, 0, smallBuf); return &b }}

// msgSpan is a complete message waiting in the stream buffer.
type msgSpan struct {
	off uint64 // stream offset of its first byte (after the length)
	n   int
}

// recvStream is the receive side of the message stream. Contiguous bytes
// are kept in pooled chunks from the read point (consumed) to the frontier;
// as they arrive they are cut into messages (a varint length, then the
// message) whose spans wait in ready until ReceiveMessage copies them out.
// Segments ahead of the frontier wait in pooled packet-sized buffers. So the
// receive path allocates nothing, and an idle stream holds no memory.
//
// Not safe for concurrent use: the session's mu guards it.
type recvStream struct {
	frontier uint64    // every byte below arrived
	segs     []segment // ahead of frontier, sorted by off, possibly overlapping
	segBytes uint64    // bytes held in segs

	data sendStream // bytes [consumed, frontier) (its base is consumed)

	// The message being cut.
	lenBuf [8]byte // its varint length, as it arrives
	lenHas int     // bytes of lenBuf filled
	need   int     // bytes of the message still to arrive
	inMsg  bool    // the length is known
	start  uint64  // offset of the message's first byte

	ready     []msgSpan // complete messages, oldest first
	readyHead int

	consumed uint64 // stream bytes handed to ReceiveMessage
	limit    uint64 // the MAX_DATA limit granted to the peer
	window   uint64 // the receive window
	maxMsg   int
}

// onData applies a STREAM frame's data at off. It returns ErrProtocol for
// data beyond the granted limit or a message above the maximum.
func (r *recvStream) onData(off uint64, data []byte) error {
	end := off + uint64(len(data))
	if end > r.limit {
		return ErrProtocol
	}
	if end <= r.frontier {
		return nil // a duplicate: everything here arrived before
	}
	if off > r.frontier {
		r.insert(off, data)
		return nil
	}
	if err := r.feed(data[r.frontier-off:]); err != nil {
		return err
	}
	// Segments that became contiguous.
	for len(r.segs) > 0 && r.segs[0].off <= r.frontier {
		sg := r.segs[0]
		r.segs[0] = segment{}
		r.segs = r.segs[1:]
		b := *sg.buf
		r.segBytes -= uint64(len(b))
		if e := sg.off + uint64(len(b)); e > r.frontier {
			if err := r.feed(b[r.frontier-sg.off:]); err != nil {
				putSeg(sg.buf)
				return err
			}
		}
		putSeg(sg.buf)
	}
	if len(r.segs) == 0 {
		r.segs = nil
	}
	return nil
}

func putSeg(b *[]byte) {
	*b = (*b)[:0]
	segBufs.Put(b)
}

// insert keeps a copy of data at off, in offset order.
func (r *recvStream) insert(off uint64, data []byte) {
	i := len(r.segs)
	for i > 0 && r.segs[i-1].off > off {
		i--
	}
	if i > 0 && r.segs[i-1].off == off && len(*r.segs[i-1].buf) >= len(data) {
		return // the same packet again
	}
	if r.segBytes+uint64(len(data)) > 2*r.window || len(data) > smallBuf {
		return // beyond any honest sender's: drop, it resends
	}
	b := segBufs.Get().(*[]byte)
	*b = append((*b)[:0], data...)
	r.segs = append(r.segs, segment{})
	copy(r.segs[i+1:], r.segs[i:])
	r.segs[i] = segment{off, b}
	r.segBytes += uint64(len(data))
}

// feed appends contiguous bytes at the frontier (length prefixes included:
// offsets stay the stream's) and cuts them into messages.
func (r *recvStream) feed(p []byte) error {
	pos := r.frontier
	r.frontier += uint64(len(p))
	r.data.write(p)
	for len(p) > 0 {
		if !r.inMsg {
			r.lenBuf[r.lenHas] = p[0]
			r.lenHas++
			p = p[1:]
			pos++
			if r.lenHas < 1<<(r.lenBuf[0]>>6) { // RFC 9000 section 16: the varint's length
				continue
			}
			n, _, err := wire.ReadVarint(r.lenBuf[:r.lenHas])
			if err != nil || n > uint64(r.maxMsg) {
				return ErrProtocol
			}
			r.lenHas, r.inMsg, r.need, r.start = 0, true, int(n), pos
		}
		k := min(r.need, len(p))
		r.need -= k
		p = p[k:]
		pos += uint64(k)
		if r.need == 0 {
			r.ready = append(r.ready, msgSpan{off: r.start, n: int(pos - r.start)})
			r.inMsg = false
		}
	}
	return nil
}

// pop copies the oldest complete message into dst (appending) and returns
// it. grant reports that the peer should be given more credit (less than
// half the window left).
func (r *recvStream) pop(dst []byte) (msg []byte, ok, grant bool) {
	if r.readyHead == len(r.ready) {
		return dst, false, false
	}
	m := r.ready[r.readyHead]
	r.ready[r.readyHead] = msgSpan{}
	r.readyHead++
	if r.readyHead == len(r.ready) {
		r.ready, r.readyHead = r.ready[:0], 0
	}
	msg = r.data.appendRange(slices.Grow(dst, m.n), m.off, m.n)
	end := m.off + uint64(m.n)
	r.consumed = end
	r.data.onAcked(r.data.base, uint32(end-r.data.base)) // frees the chunks read
	return msg, true, r.limit-r.consumed < r.window/2
}

// grant moves the limit to a full window past what the reader consumed and
// returns it.
func (r *recvStream) grant() uint64 {
	r.limit = max(r.limit, r.consumed+r.window)
	return r.limit
}

func (r *recvStream) pending() int { return len(r.ready) - r.readyHead }

// release drops the partial data (the session ended); complete messages
// stay for ReceiveMessage.
func (r *recvStream) release() {
	for _, sg := range r.segs {
		putSeg(sg.buf)
	}
	r.segs, r.segBytes = nil, 0
}
