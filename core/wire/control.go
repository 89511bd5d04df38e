package wire

// MaxReasonLen caps the reason phrase of a CLOSE frame. The phrase is a
// diagnostic for logs, not protocol; the cap keeps a CLOSE frame well
// inside the smallest datagram (1200 bytes) with room to spare.
const MaxReasonLen = 256

// AppendPadding appends n PADDING frames (zero bytes, RFC 9000 section
// 19.1). Receivers skip a run of them at once. n <= 0 appends nothing.
func AppendPadding(dst []byte, n int) []byte {
	if n <= 0 {
		return dst
	}
	return append(dst, make([]byte, n)...) // the compiler zeroes in place
}

// AppendPing appends a PING frame (0x01, no fields; RFC 9000 section
// 19.2): it makes a packet ack-eliciting, to probe a path or keep it alive.
func AppendPing(dst []byte) []byte {
	return append(dst, byte(FramePing))
}

// AppendStreamAbortFrame appends a STREAM_ABORT frame, RFC 9000 section
// 19.4's RESET_STREAM:
//
//	0x04 | Stream ID (varint) | Error Code (varint) | Final Size (varint)
func AppendStreamAbortFrame(dst []byte, id, errorCode, finalSize uint64) []byte {
	dst = append(dst, byte(FrameStreamAbort))
	dst = AppendVarint(dst, id)
	dst = AppendVarint(dst, errorCode)
	return AppendVarint(dst, finalSize)
}

// AppendMaxDataFrame appends a MAX_DATA frame (RFC 9000 section 19.9):
//
//	0x10 | Maximum Data (varint)
func AppendMaxDataFrame(dst []byte, maximum uint64) []byte {
	dst = append(dst, byte(FrameMaxData))
	return AppendVarint(dst, maximum)
}

// AppendMaxStreamDataFrame appends a MAX_STREAM_DATA frame (RFC 9000
// section 19.10):
//
//	0x11 | Stream ID (varint) | Maximum Stream Data (varint)
func AppendMaxStreamDataFrame(dst []byte, id, maximum uint64) []byte {
	dst = append(dst, byte(FrameMaxStreamData))
	dst = AppendVarint(dst, id)
	return AppendVarint(dst, maximum)
}

// AppendMaxStreamsFrame appends a MAX_STREAMS frame (RFC 9000 section
// 19.11, the bidirectional type):
//
//	0x12 | Maximum Streams (varint)
//
// maximum is a cumulative count, the streams the peer may open over the
// connection's lifetime (closed ones included), not how many may be open
// at once. It must be at most MaxStreamsLimit, else the receiver refuses
// the frame.
func AppendMaxStreamsFrame(dst []byte, maximum uint64) []byte {
	dst = append(dst, byte(FrameMaxStreams))
	return AppendVarint(dst, maximum)
}

// AppendMessageFrame appends a MESSAGE frame, RFC 9221's DATAGRAM: an
// unreliable message that fits in one packet.
//
//	0x30 | Data            (to the end of the payload: the packet's last frame)
//	0x31 | Length (varint) | Data
func AppendMessageFrame(dst []byte, data []byte, withLength bool) []byte {
	if withLength {
		dst = append(dst, byte(FrameMessage)|1)
		dst = AppendVarint(dst, uint64(len(data)))
	} else {
		dst = append(dst, byte(FrameMessage))
	}
	return append(dst, data...)
}

// MessageFrameLen returns the bytes AppendMessageFrame writes for a
// message of n bytes.
func MessageFrameLen(n int, withLength bool) int {
	if withLength {
		return 1 + VarintLen(uint64(n)) + n
	}
	return 1 + n
}

// AppendCloseFrame appends a CLOSE frame (RFC 9000 section 19.19's
// CONNECTION_CLOSE, without the frame-type field):
//
//	0x1c | Error Code (varint) | Reason Length (varint) | Reason
//
// A reason longer than MaxReasonLen is cut to MaxReasonLen bytes.
func AppendCloseFrame(dst []byte, errorCode uint64, reason string) []byte {
	if len(reason) > MaxReasonLen {
		reason = reason[:MaxReasonLen]
	}
	dst = append(dst, byte(FrameClose))
	dst = AppendVarint(dst, errorCode)
	dst = AppendVarint(dst, uint64(len(reason)))
	return append(dst, reason...)
}

// AppendHandshakeFrame appends a HANDSHAKE frame carrying the transport
// parameters p, encoded by AppendTransportParams:
//
//	0x06 | Length (varint) | Transport Parameters
//
// It returns p's validation error, with dst unchanged, if p is invalid.
func AppendHandshakeFrame(dst []byte, p *TransportParams) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return dst, err
	}
	dst = append(dst, byte(FrameHandshake))
	dst = AppendVarint(dst, uint64(p.encodedLen()))
	return p.append(dst), nil
}
