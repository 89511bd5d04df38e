package wire

import "strconv"

// FrameType is the first byte of a frame. Every type is below 0x40, so
// the byte is also the 1-byte varint QUIC uses for frame types (RFC 9000
// section 12.4); a later version can add varint types without changing
// these.
type FrameType uint8

// Frame types, numbered as their RFC 9000 section 19 counterparts where
// one exists. STREAM and MESSAGE occupy ranges whose low bits are flags;
// a parsed Frame's Type is always the base value.
const (
	FramePadding       FrameType = 0x00 // RFC 9000 19.1
	FramePing          FrameType = 0x01 // RFC 9000 19.2
	FrameAck           FrameType = 0x02 // RFC 9000 19.3 (without ECN counts)
	FrameStreamAbort   FrameType = 0x04 // RFC 9000 19.4, RESET_STREAM
	FrameHandshake     FrameType = 0x06 // transport parameters, in place of CRYPTO
	FrameStream        FrameType = 0x08 // 0x08..0x0f, RFC 9000 19.8
	FrameMaxData       FrameType = 0x10 // RFC 9000 19.9
	FrameMaxStreamData FrameType = 0x11 // RFC 9000 19.10
	FrameMaxStreams    FrameType = 0x12 // RFC 9000 19.11, for bidirectional streams
	FrameClose         FrameType = 0x1c // RFC 9000 19.19, CONNECTION_CLOSE
	FrameMessage       FrameType = 0x30 // 0x30..0x31, RFC 9221 DATAGRAM
)

func (t FrameType) String() string {
	switch t {
	case FramePadding:
		return "PADDING"
	case FramePing:
		return "PING"
	case FrameAck:
		return "ACK"
	case FrameStreamAbort:
		return "STREAM_ABORT"
	case FrameHandshake:
		return "HANDSHAKE"
	case FrameStream:
		return "STREAM"
	case FrameMaxData:
		return "MAX_DATA"
	case FrameMaxStreamData:
		return "MAX_STREAM_DATA"
	case FrameMaxStreams:
		return "MAX_STREAMS"
	case FrameClose:
		return "CLOSE"
	case FrameMessage:
		return "MESSAGE"
	}
	return "FrameType(0x" + strconv.FormatUint(uint64(t), 16) + ")"
}

// AckEliciting reports whether a packet holding a frame of type t must be
// acknowledged: every frame but PADDING, ACK and CLOSE (RFC 9002 section 2).
func (t FrameType) AckEliciting() bool {
	return t != FramePadding && t != FrameAck && t != FrameClose
}

// Frame is one parsed frame: Type says which of the other fields is set.
// Byte slices reference the payload given to FrameParser.Reset.
type Frame struct {
	Type FrameType

	// PaddingLen is the length of a PADDING run (FramePadding): the parser
	// returns a whole run of zero bytes as one frame.
	PaddingLen int

	Ack           AckFrame           // FrameAck
	Stream        StreamFrame        // FrameStream
	StreamAbort   StreamAbortFrame   // FrameStreamAbort
	MaxData       uint64             // FrameMaxData: the connection's new limit
	MaxStreamData MaxStreamDataFrame // FrameMaxStreamData
	MaxStreams    uint64             // FrameMaxStreams: the new cumulative stream limit
	Close         CloseFrame         // FrameClose

	// Message is the datagram of a MESSAGE frame (FrameMessage).
	Message []byte
	// Handshake holds the encoded transport parameters of a HANDSHAKE
	// frame (FrameHandshake); decode them with ParseTransportParams.
	Handshake []byte
}

// StreamFrame carries stream data (RFC 9000 section 19.8).
type StreamFrame struct {
	ID     uint64
	Offset uint64 // stream offset of Data[0]
	Data   []byte
	Fin    bool // the stream ends at Offset+len(Data)
}

// StreamAbortFrame ends a stream abruptly (RFC 9000 section 19.4): the
// sender will send nothing more on it, and the receiver may free it.
type StreamAbortFrame struct {
	ID        uint64
	ErrorCode uint64
	FinalSize uint64 // the stream's size as the sender last knew it
}

// MaxStreamDataFrame raises one stream's flow-control limit (RFC 9000
// section 19.10).
type MaxStreamDataFrame struct {
	ID      uint64
	Maximum uint64
}

// CloseFrame closes the connection (RFC 9000 section 19.19).
type CloseFrame struct {
	ErrorCode uint64
	Reason    []byte // at most MaxReasonLen bytes, for diagnostics only
}
