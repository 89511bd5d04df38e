package wire

import "encoding/binary"

// MaxVarint is the largest value a variable-length integer holds, 2^62-1
// (RFC 9000 section 16). Stream ids, offsets, packet numbers and error codes
// are all bounded by it.
const MaxVarint = 1<<62 - 1

// VarintLen returns the bytes AppendVarint writes for v: 1, 2, 4 or 8. It
// returns 0 for v > MaxVarint, which no varint holds.
func VarintLen(v uint64) int {
	switch {
	case v < 1<<6:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<30:
		return 4
	case v <= MaxVarint:
		return 8
	}
	return 0
}

// AppendVarint appends v in the shortest QUIC varint encoding: the two high
// bits of the first byte give the length (00=1, 01=2, 10=4, 11=8 bytes),
// the rest is v big-endian (RFC 9000 section 16). It panics if v >
// MaxVarint, a value the caller must never produce.
func AppendVarint(dst []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(dst, byte(v))
	case v < 1<<14:
		return binary.BigEndian.AppendUint16(dst, uint16(v)|0x4000)
	case v < 1<<30:
		return binary.BigEndian.AppendUint32(dst, uint32(v)|0x8000_0000)
	case v <= MaxVarint:
		return binary.BigEndian.AppendUint64(dst, v|0xc000_0000_0000_0000)
	}
	panic("wire: varint value exceeds 2^62-1")
}

// ReadVarint decodes the varint at the start of b, returning its value and
// length. Any of the four lengths is accepted for any value (RFC 9000
// section 16 allows non-minimal encodings). It returns ErrTruncated if b
// is shorter than the length its first byte announces.
func ReadVarint(b []byte) (v uint64, n int, err error) {
	v, n = readVarint(b)
	if n == 0 {
		return 0, 0, ErrTruncated
	}
	return v, n, nil
}

// readVarint is ReadVarint with n == 0 meaning truncated, for the decoders'
// inner loops.
func readVarint(b []byte) (uint64, int) {
	if len(b) == 0 {
		return 0, 0
	}
	switch b[0] >> 6 {
	case 0:
		return uint64(b[0]), 1
	case 1:
		if len(b) < 2 {
			return 0, 0
		}
		return uint64(binary.BigEndian.Uint16(b) & 0x3fff), 2
	case 2:
		if len(b) < 4 {
			return 0, 0
		}
		return uint64(binary.BigEndian.Uint32(b) & 0x3fff_ffff), 4
	default:
		if len(b) < 8 {
			return 0, 0
		}
		return binary.BigEndian.Uint64(b) & MaxVarint, 8
	}
}

// cursor reads fields from b starting at off. Its methods report false
// instead of reading past the end; off never exceeds len(b).
type cursor struct {
	b   []byte
	off int
}

func (c *cursor) varint() (uint64, bool) {
	v, n := readVarint(c.b[c.off:])
	c.off += n
	return v, n != 0
}

// bytes returns the next n bytes. The comparison is done in uint64 so a
// length read from the wire (up to 2^62-1) cannot overflow int.
func (c *cursor) bytes(n uint64) ([]byte, bool) {
	if n > uint64(len(c.b)-c.off) {
		return nil, false
	}
	s := c.b[c.off : c.off+int(n) : c.off+int(n)]
	c.off += int(n)
	return s, true
}

// rest returns every byte that remains.
func (c *cursor) rest() []byte {
	s := c.b[c.off:len(c.b):len(c.b)]
	c.off = len(c.b)
	return s
}
