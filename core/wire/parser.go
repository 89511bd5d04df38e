package wire

import "io"

// FrameParser iterates over the frames of a decrypted payload without
// allocating:
//
//	var p wire.FrameParser
//	p.Reset(payload)
//	for {
//		f, err := p.Next()
//		if err == io.EOF {
//			break
//		}
//		if err != nil {
//			return err // *FormatError: drop the packet
//		}
//		...
//	}
//
// The zero value is an empty parser. A FrameParser is not safe for
// concurrent use.
type FrameParser struct {
	b   []byte
	off int
	err error
}

// Reset makes p parse payload from its start. The frames Next returns
// reference payload, which must stay unchanged while they are used.
func (p *FrameParser) Reset(payload []byte) {
	p.b, p.off, p.err = payload, 0, nil
}

// Next returns the next frame, io.EOF after the last one, or a
// *FormatError for a malformed frame. An error is sticky: once Next has
// failed, it returns the same error until Reset. The frames that came
// before a malformed one were well formed, but a receiver should drop the
// whole packet: RFC 9000 section 12.4 makes a bad frame a connection
// error, and acting on half a packet helps no one.
func (p *FrameParser) Next() (Frame, error) {
	if p.err != nil {
		return Frame{}, p.err
	}
	if p.off >= len(p.b) {
		return Frame{}, io.EOF
	}
	var f Frame
	var where string
	var err error
	c := cursor{b: p.b, off: p.off + 1}
	switch t := p.b[p.off]; {
	case t == byte(FramePadding):
		f.Type = FramePadding
		for c.off < len(c.b) && c.b[c.off] == 0 {
			c.off++
		}
		f.PaddingLen = c.off - p.off
	case t == byte(FramePing):
		f.Type = FramePing
	case t == byte(FrameAck):
		f.Type = FrameAck
		where, err = parseAck(&c, &f)
	case t&^0x07 == byte(FrameStream):
		f.Type = FrameStream
		where, err = parseStream(t, &c, &f)
	case t == byte(FrameStreamAbort):
		f.Type = FrameStreamAbort
		where, err = parseStreamAbort(&c, &f)
	case t == byte(FrameMaxData):
		f.Type = FrameMaxData
		var ok bool
		if f.MaxData, ok = c.varint(); !ok {
			where, err = "MAX_DATA frame", ErrTruncated
		}
	case t == byte(FrameMaxStreamData):
		f.Type = FrameMaxStreamData
		id, ok1 := c.varint()
		maximum, ok2 := c.varint()
		if !ok1 || !ok2 {
			where, err = "MAX_STREAM_DATA frame", ErrTruncated
		}
		f.MaxStreamData = MaxStreamDataFrame{ID: id, Maximum: maximum}
	case t == byte(FrameMaxStreams):
		f.Type = FrameMaxStreams
		where, err = parseMaxStreams(&c, &f)
	case t == byte(FrameMessage):
		f.Type = FrameMessage
		f.Message = c.rest()
	case t == byte(FrameMessage)|1:
		f.Type = FrameMessage
		where, err = parseLengthPrefixed(&c, &f.Message, "MESSAGE frame")
	case t == byte(FrameClose):
		f.Type = FrameClose
		where, err = parseClose(&c, &f)
	case t == byte(FrameHandshake):
		f.Type = FrameHandshake
		where, err = parseLengthPrefixed(&c, &f.Handshake, "HANDSHAKE frame")
	default:
		where, err = "frame type", ErrUnknownFrame
	}
	if err != nil {
		p.err = formatErr(where, p.off, err)
		return Frame{}, p.err
	}
	p.off = c.off
	return f, nil
}

func parseStreamAbort(c *cursor, f *Frame) (string, error) {
	id, ok1 := c.varint()
	code, ok2 := c.varint()
	size, ok3 := c.varint()
	if !ok1 || !ok2 || !ok3 {
		return "STREAM_ABORT frame", ErrTruncated
	}
	f.StreamAbort = StreamAbortFrame{ID: id, ErrorCode: code, FinalSize: size}
	return "", nil
}

// parseMaxStreams refuses a count above MaxStreamsLimit: no stream id can
// name a stream beyond it, and RFC 9000 section 19.11 makes such a frame a
// FRAME_ENCODING_ERROR.
func parseMaxStreams(c *cursor, f *Frame) (string, error) {
	const where = "MAX_STREAMS frame"
	maximum, ok := c.varint()
	if !ok {
		return where, ErrTruncated
	}
	if maximum > MaxStreamsLimit {
		return where, ErrInvalid
	}
	f.MaxStreams = maximum
	return "", nil
}

func parseClose(c *cursor, f *Frame) (string, error) {
	const where = "CLOSE frame"
	code, ok1 := c.varint()
	n, ok2 := c.varint()
	if !ok1 || !ok2 {
		return where, ErrTruncated
	}
	if n > MaxReasonLen {
		return where, ErrInvalid
	}
	reason, ok := c.bytes(n)
	if !ok {
		return where, ErrTruncated
	}
	f.Close = CloseFrame{ErrorCode: code, Reason: reason}
	return "", nil
}

// parseLengthPrefixed reads a varint length and that many bytes into *dst.
func parseLengthPrefixed(c *cursor, dst *[]byte, where string) (string, error) {
	n, ok := c.varint()
	if !ok {
		return where, ErrTruncated
	}
	if *dst, ok = c.bytes(n); !ok {
		return where, ErrTruncated
	}
	return "", nil
}
