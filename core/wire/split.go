package wire

// SplitPacket splits the first packet off a buffer that may hold several
// coalesced packets (a UDP GRO buffer whose segment size the kernel did
// not report, or a datagram carrying more than one packet): pkt is the
// first packet, rest what follows it. A handshake packet is never
// coalesced, so one is returned whole with rest nil. A short-header packet
// is delimited by its Length; its header is validated as by
// ParseShortHeader.
func SplitPacket(b []byte) (pkt, rest []byte, err error) {
	if len(b) == 0 {
		return nil, nil, formatErr("packet", 0, ErrTruncated)
	}
	if IsHandshake(b) {
		return b, nil, nil
	}
	h, hdrLen, err := ParseShortHeader(b)
	if err != nil {
		return nil, nil, err
	}
	end := hdrLen - h.PNLen + h.Length
	return b[:end:end], b[end:], nil
}
