package wire

import (
	"math"
	"time"
)

// values returns the varint-valued parameters in id order (conn_id aside).
func (p *TransportParams) values() [paramCount - 1]uint64 {
	return [...]uint64{
		uint64(p.IdleTimeout / time.Millisecond),
		p.MaxDatagramSize,
		p.InitialMaxData,
		p.InitialMaxStreamData,
		p.MaxStreams,
		uint64(p.MaxAckDelay / time.Millisecond),
	}
}

// encodedLen returns the length of p's encoding; p must be valid.
func (p *TransportParams) encodedLen() int {
	n := 2 + ConnIDLen
	for _, v := range p.values() {
		n += 2 + VarintLen(v) // id and length take 1 byte each
	}
	return n
}

// append writes every parameter, in id order; p must be valid.
func (p *TransportParams) append(dst []byte) []byte {
	dst = append(dst, paramConnID, ConnIDLen)
	dst = append(dst, p.ConnID[:]...)
	for i, v := range p.values() {
		dst = append(dst, byte(paramIdleTimeout+i), byte(VarintLen(v)))
		dst = AppendVarint(dst, v)
	}
	return dst
}

// AppendTransportParams appends the encoding of p, every parameter
// included, or returns p's validation error with dst unchanged.
func AppendTransportParams(dst []byte, p *TransportParams) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return dst, err
	}
	return p.append(dst), nil
}

// ParseTransportParams decodes transport parameters, skipping unknown
// ones; absent parameters take their defaults. It returns a *FormatError
// wrapping ErrTruncated, ErrInvalid (a malformed or out-of-range value),
// ErrDuplicateParam (a known parameter twice; duplicates of unknown ones
// are not tracked) or ErrMissingParam (no conn_id).
func ParseTransportParams(b []byte) (TransportParams, error) {
	p := DefaultTransportParams()
	var seen uint32
	c := cursor{b: b}
	for c.off < len(b) {
		start := c.off
		id, ok1 := c.varint()
		n, ok2 := c.varint()
		if !ok1 || !ok2 {
			return TransportParams{}, formatErr("transport parameter", start, ErrTruncated)
		}
		val, ok := c.bytes(n)
		if !ok {
			return TransportParams{}, formatErr("transport parameter", start, ErrTruncated)
		}
		if id >= paramCount {
			continue
		}
		if seen&(1<<id) != 0 {
			return TransportParams{}, formatErr("transport parameter", start, ErrDuplicateParam)
		}
		seen |= 1 << id
		if where, ok := p.set(id, val); !ok {
			return TransportParams{}, formatErr(where, start, ErrInvalid)
		}
	}
	if seen&(1<<paramConnID) == 0 {
		return TransportParams{}, formatErr("transport parameter conn_id", len(b), ErrMissingParam)
	}
	if err := p.Validate(); err != nil {
		return TransportParams{}, err
	}
	return p, nil
}

// set stores the value of the known parameter id, or names the parameter
// whose value is malformed or out of range.
func (p *TransportParams) set(id uint64, val []byte) (string, bool) {
	if id == paramConnID {
		if len(val) != ConnIDLen {
			return "transport parameter conn_id", false
		}
		copy(p.ConnID[:], val)
		return "", true
	}
	v, n := readVarint(val)
	if n == 0 || n != len(val) {
		return "transport parameter value", false
	}
	switch id {
	case paramIdleTimeout:
		if v > math.MaxInt64/uint64(time.Millisecond) {
			return "transport parameter idle_timeout", false
		}
		p.IdleTimeout = time.Duration(v) * time.Millisecond
	case paramMaxDatagramSize:
		p.MaxDatagramSize = v
	case paramInitialMaxData:
		p.InitialMaxData = v
	case paramInitialMaxStreamData:
		p.InitialMaxStreamData = v
	case paramMaxStreams:
		p.MaxStreams = v
	case paramMaxAckDelay:
		if v > uint64(MaxAckDelayLimit/time.Millisecond) {
			return "transport parameter max_ack_delay", false
		}
		p.MaxAckDelay = time.Duration(v) * time.Millisecond
	}
	return "", true
}
