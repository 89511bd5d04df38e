package session

import (
	"github.com/petrel-transport/petrel/core/wire"
)

// segment is stream data that arrived ahead of the contiguous frontier,
// copied out of the datagram (the driver reuses its buffer).
type segment struct {
	off  uint64
	data []byte
}

// recvStream is the receive side of the message stream: out-of-order
// segments wait until the bytes before them arrive; contiguous bytes are cut
// into messages (a varint length, then the message), which wait in ready
// until ReceiveMessage takes them.
//
// Not safe for concurrent use: the session's mu guards it.
type recvStream struct {
	frontier uint64    // every byte below arrived
	segs     []segment // ahead of frontier, sorted by off, possibly overlapping
	segBytes uint64    // bytes held in segs

	// The message being assembled.
	lenBuf [8]byte // its varint length, as it arrives
	lenHas int     // bytes of lenBuf filled
	msg    []byte  // the message, once its length is known
	msgHas int     // bytes of msg filled
	inMsg  bool    // the length is known

	ready      [][]byte // complete messages, oldest first
	readyHead  int
	readyBytes uint64 // stream bytes (length prefixes included) of ready messages

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
		r.segBytes -= uint64(len(sg.data))
		if e := sg.off + uint64(len(sg.data)); e > r.frontier {
			if err := r.feed(sg.data[r.frontier-sg.off:]); err != nil {
				return err
			}
		}
	}
	if len(r.segs) == 0 {
		r.segs = nil
	}
	return nil
}

// insert keeps a copy of data at off, in offset order.
func (r *recvStream) insert(off uint64, data []byte) {
	i := len(r.segs)
	for i > 0 && r.segs[i-1].off > off {
		i--
	}
	if i > 0 && r.segs[i-1].off == off && len(r.segs[i-1].data) >= len(data) {
		return // the same packet again
	}
	if r.segBytes+uint64(len(data)) > 2*r.window {
		return // overlapping duplicates beyond any honest sender's: drop, it resends
	}
	cp := append([]byte(nil), data...)
	r.segs = append(r.segs, segment{})
	copy(r.segs[i+1:], r.segs[i:])
	r.segs[i] = segment{off, cp}
	r.segBytes += uint64(len(cp))
}

// feed consumes contiguous bytes at the frontier, cutting them into
// messages.
func (r *recvStream) feed(p []byte) error {
	r.frontier += uint64(len(p))
	for len(p) > 0 {
		if !r.inMsg {
			r.lenBuf[r.lenHas] = p[0]
			r.lenHas++
			p = p[1:]
			need := 1 << (r.lenBuf[0] >> 6) // RFC 9000 section 16: the varint's length
			if r.lenHas < need {
				continue
			}
			n, _, err := wire.ReadVarint(r.lenBuf[:r.lenHas])
			if err != nil || n > uint64(r.maxMsg) {
				return ErrProtocol
			}
			r.lenHas = 0
			r.inMsg = true
			r.msg = make([]byte, n)
			r.msgHas = 0
		}
		k := copy(r.msg[r.msgHas:], p)
		r.msgHas += k
		p = p[k:]
		if r.msgHas == len(r.msg) {
			r.ready = append(r.ready, r.msg)
			r.readyBytes += uint64(wire.VarintLen(uint64(len(r.msg))) + len(r.msg))
			r.msg, r.msgHas, r.inMsg = nil, 0, false
		}
	}
	return nil
}

// pop takes the oldest complete message. It reports whether the peer should
// be granted more credit (a MAX_DATA is due: less than half the window left).
func (r *recvStream) pop() (msg []byte, ok, grant bool) {
	if r.readyHead == len(r.ready) {
		return nil, false, false
	}
	msg = r.ready[r.readyHead]
	r.ready[r.readyHead] = nil
	r.readyHead++
	if r.readyHead == len(r.ready) {
		r.ready, r.readyHead = r.ready[:0], 0
		if cap(r.ready) > 64 {
			r.ready = nil
		}
	}
	n := uint64(wire.VarintLen(uint64(len(msg))) + len(msg))
	r.readyBytes -= n
	r.consumed += n
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
	r.segs, r.msg = nil, nil
	r.segBytes = 0
}
