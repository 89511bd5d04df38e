package wire

// STREAM frame flag bits, the low three bits of types 0x08..0x0f (RFC 9000
// section 19.8).
const (
	streamOffBit = 0x04 // an Offset field is present; absent means 0
	streamLenBit = 0x02 // a Length field is present; absent means "to the end"
	streamFinBit = 0x01 // the data ends the stream
)

// AppendStreamFrame appends a STREAM frame:
//
//	0x08|OFF|LEN|FIN | Stream ID (varint) | [Offset (varint)] |
//	[Length (varint)] | Stream Data
//
// The Offset field is written only when offset is not 0. Without a Length
// (withLength false) the data runs to the end of the payload, so such a
// frame must be the packet's last; it saves the length's bytes on the
// full-sized frames that carry bulk data. id and offset must be at most
// MaxVarint, and offset+len(data) too (RFC 9000 section 19.8), else the
// receiver refuses the frame.
func AppendStreamFrame(dst []byte, id, offset uint64, data []byte, fin, withLength bool) []byte {
	t := byte(FrameStream)
	if offset != 0 {
		t |= streamOffBit
	}
	if withLength {
		t |= streamLenBit
	}
	if fin {
		t |= streamFinBit
	}
	dst = append(dst, t)
	dst = AppendVarint(dst, id)
	if offset != 0 {
		dst = AppendVarint(dst, offset)
	}
	if withLength {
		dst = AppendVarint(dst, uint64(len(data)))
	}
	return append(dst, data...)
}

// StreamFrameHeaderLen returns the bytes AppendStreamFrame writes before
// the data: the frame's overhead.
func StreamFrameHeaderLen(id, offset uint64, dataLen int, withLength bool) int {
	n := 1 + VarintLen(id)
	if offset != 0 {
		n += VarintLen(offset)
	}
	if withLength {
		n += VarintLen(uint64(dataLen))
	}
	return n
}

// StreamDataRoom returns the most stream data a STREAM frame for (id,
// offset) can carry in room bytes, header included; 0 if none fits (check
// StreamFrameHeaderLen(id, offset, 0, withLength) <= room before sending
// an empty frame that only carries FIN).
func StreamDataRoom(id, offset uint64, room int, withLength bool) int {
	avail := room - StreamFrameHeaderLen(id, offset, 0, false)
	if avail <= 0 {
		return 0
	}
	if !withLength {
		return avail
	}
	// The Length field's size depends on the length it holds: try each
	// varint size and keep the longest data that fits with it.
	best := 0
	for _, l := range [...]struct{ size, max int }{{1, 1<<6 - 1}, {2, 1<<14 - 1}, {4, 1<<30 - 1}} {
		if n := min(avail-l.size, l.max); n > best {
			best = n
		}
	}
	return best
}

func parseStream(t byte, c *cursor, f *Frame) (string, error) {
	const where = "STREAM frame"
	id, ok := c.varint()
	if !ok {
		return where, ErrTruncated
	}
	var offset uint64
	if t&streamOffBit != 0 {
		if offset, ok = c.varint(); !ok {
			return where, ErrTruncated
		}
	}
	var data []byte
	if t&streamLenBit != 0 {
		n, ok := c.varint()
		if !ok {
			return where, ErrTruncated
		}
		if data, ok = c.bytes(n); !ok {
			return where, ErrTruncated
		}
	} else {
		data = c.rest()
	}
	// offset <= MaxVarint and len(data) < 2^31 on 32-bit, 2^63 on 64-bit
	// platforms, so the sum cannot wrap uint64.
	if offset+uint64(len(data)) > MaxVarint {
		return where, ErrInvalid
	}
	f.Stream = StreamFrame{ID: id, Offset: offset, Data: data, Fin: t&streamFinBit != 0}
	return "", nil
}
