package wire

import "time"

// Transport parameters are exchanged inside the handshake payload, which
// is encrypted and authenticated, in a HANDSHAKE frame. As in RFC 9000
// section 18, they are a list of
//
//	Parameter ID (varint) | Value Length (varint) | Value
//
// so a receiver skips parameters it does not know and a later version can
// add some without breaking this one. Every known value is one varint
// filling its Value Length, except conn_id, 8 raw bytes.
const (
	paramConnID               = 0x00 // required
	paramIdleTimeout          = 0x01 // milliseconds
	paramMaxDatagramSize      = 0x02
	paramInitialMaxData       = 0x03
	paramInitialMaxStreamData = 0x04
	paramMaxStreams           = 0x05
	paramMaxAckDelay          = 0x06 // milliseconds
	paramCount                = 7
)

// Defaults of absent parameters and their bounds.
const (
	// DefaultMaxDatagramSize is petrel's datagram size: 1200 bytes, the
	// smallest UDP payload every QUIC path must carry (RFC 9000 section
	// 14), so datagrams are never fragmented by IP. It is also the smallest
	// MaxDatagramSize allowed, as in RFC 9000 section 18.2.
	DefaultMaxDatagramSize = 1200
	// MaxDatagramSizeLimit is the largest UDP payload (65535 - 8 bytes of
	// UDP header), RFC 9000 section 18.2's max_udp_payload_size bound.
	MaxDatagramSizeLimit = 65527
	// DefaultMaxAckDelay is RFC 9000 section 18.2's default max_ack_delay.
	DefaultMaxAckDelay = 25 * time.Millisecond
	// MaxAckDelayLimit: values of 2^14 ms or more are invalid (RFC 9000
	// section 18.2).
	MaxAckDelayLimit = (1<<14 - 1) * time.Millisecond
	// MaxStreamsLimit is the most streams a peer can allow, 2^60: a stream
	// id carries two type bits below the stream number (RFC 9000 sections
	// 2.1 and 19.11).
	MaxStreamsLimit = 1 << 60
)

// TransportParams are the limits one endpoint announces to the other in
// its handshake. The zero value is not valid; start from
// DefaultTransportParams. Durations travel in whole milliseconds.
type TransportParams struct {
	// ConnID is the connection id the peer must put in the packets it
	// sends to this endpoint. Required.
	ConnID ConnID
	// IdleTimeout closes the connection after this long without a packet;
	// 0 (the default) announces none (RFC 9000 section 10.1).
	IdleTimeout time.Duration
	// MaxDatagramSize is the largest UDP payload this endpoint receives,
	// DefaultMaxDatagramSize through MaxDatagramSizeLimit; default 1200.
	MaxDatagramSize uint64
	// InitialMaxData is the connection's initial flow-control limit;
	// default 0.
	InitialMaxData uint64
	// InitialMaxStreamData is each stream's initial flow-control limit;
	// default 0.
	InitialMaxStreamData uint64
	// MaxStreams is how many streams the peer may open, at most
	// MaxStreamsLimit; default 0.
	MaxStreams uint64
	// MaxAckDelay is the longest this endpoint delays an acknowledgement,
	// below 2^14 ms; default DefaultMaxAckDelay.
	MaxAckDelay time.Duration
}

// DefaultTransportParams returns the values an absent parameter takes.
func DefaultTransportParams() TransportParams {
	return TransportParams{
		MaxDatagramSize: DefaultMaxDatagramSize,
		MaxAckDelay:     DefaultMaxAckDelay,
	}
}

// Validate reports, as a *FormatError wrapping ErrInvalid, a field out of
// its documented range.
func (p *TransportParams) Validate() error {
	bad := func(where string) error { return formatErr(where, 0, ErrInvalid) }
	switch {
	case p.IdleTimeout < 0:
		return bad("transport parameter idle_timeout")
	case p.MaxDatagramSize < DefaultMaxDatagramSize || p.MaxDatagramSize > MaxDatagramSizeLimit:
		return bad("transport parameter max_datagram_size")
	case p.InitialMaxData > MaxVarint:
		return bad("transport parameter initial_max_data")
	case p.InitialMaxStreamData > MaxVarint:
		return bad("transport parameter initial_max_stream_data")
	case p.MaxStreams > MaxStreamsLimit:
		return bad("transport parameter max_streams")
	case p.MaxAckDelay < 0 || p.MaxAckDelay > MaxAckDelayLimit:
		return bad("transport parameter max_ack_delay")
	}
	return nil
}
