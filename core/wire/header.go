package wire

import "encoding/binary"

// ShortHeader is the header of a protected data packet.
type ShortHeader struct {
	KeyPhase bool
	DCID     ConnID
	// PN is the packet number: the full number when encoding (its low
	// PNLen bytes are written), the truncated number as on the wire when
	// parsed (reconstruct it with DecodePacketNumber).
	PN uint64
	// PNLen is the packet-number length, 1 to 4 (PacketNumberLen chooses it).
	PNLen int
	// Length counts the bytes after the Length field: the packet number
	// and the sealed payload including its TagLen-byte tag.
	Length int
}

// ShortHeaderLen returns the length of a header written by
// AppendShortHeader: flags, DCID, the 2-byte Length and the packet number.
func ShortHeaderLen(pnLen int) int {
	return lengthOff + 2 + pnLen
}

// AppendShortHeader appends the header h. Length is always written as a
// 2-byte varint, so a sender may write the header before it knows the
// payload's size and fix it afterwards with PutLength. It panics if PNLen is
// outside 1..4 or Length is negative or larger than
// MaxPacketSize-ShortHeaderLen(PNLen).
func AppendShortHeader(dst []byte, h *ShortHeader) []byte {
	if h.PNLen < 1 || h.PNLen > 4 {
		panic("wire: packet number length outside 1..4")
	}
	if h.Length < 0 || h.Length > MaxPacketSize-lengthOff-2 {
		panic("wire: short header Length out of range")
	}
	flags := byte(FixedBit) | byte(h.PNLen-1)
	if h.KeyPhase {
		flags |= KeyPhaseBit
	}
	dst = append(dst, flags)
	dst = append(dst, h.DCID[:]...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(h.Length)|0x4000)
	for i := h.PNLen - 1; i >= 0; i-- {
		dst = append(dst, byte(h.PN>>(8*i)))
	}
	return dst
}

// PutLength writes length into the Length field of the short-header packet
// pkt, which must have been written by AppendShortHeader (2-byte Length).
// It returns ErrTooLarge if the packet would exceed MaxPacketSize, and a
// *FormatError if pkt does not start with such a header.
func PutLength(pkt []byte, length int) error {
	if len(pkt) < lengthOff+2 {
		return formatErr("short header", 0, ErrTruncated)
	}
	if pkt[0]&(FormHandshake|FixedBit) != FixedBit || pkt[lengthOff]>>6 != 1 {
		return formatErr("short header", 0, ErrInvalid)
	}
	if length < 0 || length > MaxPacketSize-lengthOff-2 {
		return ErrTooLarge
	}
	binary.BigEndian.PutUint16(pkt[lengthOff:], uint16(length)|0x4000)
	return nil
}

// ParseShortHeader parses the short header at the start of b. h.PN is the
// truncated packet number; hdrLen is the length of the header through the
// packet number (the AEAD's associated data), so the sealed payload is
// b[hdrLen : hdrLen-h.PNLen+h.Length]. It checks that the form bit is
// clear, the fixed bit set, the reserved bits clear, that Length leaves
// room for the packet number and a tag, and that the packet fits in b and
// in MaxPacketSize.
func ParseShortHeader(b []byte) (h ShortHeader, hdrLen int, err error) {
	const where = "short header"
	if len(b) == 0 {
		return h, 0, formatErr(where, 0, ErrTruncated)
	}
	flags := b[0]
	if flags&(FormHandshake|FixedBit) != FixedBit || flags&reservedBits != 0 {
		return h, 0, formatErr(where, 0, ErrInvalid)
	}
	if len(b) < lengthOff+1 {
		return h, 0, formatErr(where, 0, ErrTruncated)
	}
	length, n := readVarint(b[lengthOff:])
	if n == 0 {
		return h, 0, formatErr(where, lengthOff, ErrTruncated)
	}
	pnLen := int(flags&pnLenBits) + 1
	end := lengthOff + n // end of the Length field
	if length < uint64(pnLen+TagLen) || length > uint64(MaxPacketSize-end) {
		return h, 0, formatErr(where, lengthOff, ErrInvalid)
	}
	if length > uint64(len(b)-end) {
		return h, 0, formatErr(where, lengthOff, ErrTruncated)
	}
	var pn uint64
	for _, c := range b[end : end+pnLen] {
		pn = pn<<8 | uint64(c)
	}
	h = ShortHeader{
		KeyPhase: flags&KeyPhaseBit != 0,
		PN:       pn,
		PNLen:    pnLen,
		Length:   int(length),
	}
	copy(h.DCID[:], b[1:lengthOff])
	return h, end + pnLen, nil
}
