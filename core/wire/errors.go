package wire

import (
	"errors"
	"strconv"
)

// The sentinels a *FormatError wraps. They name the reason a datagram is
// dropped, so a receiver can count drops by reason (DESIGN.md invariant 8).
var (
	// ErrTruncated: the input ends before a field or a length it announced.
	ErrTruncated = errors.New("wire: truncated")
	// ErrUnknownFrame: a frame type this version does not know. The payload
	// cannot be parsed further, since frame lengths are implied by type.
	ErrUnknownFrame = errors.New("wire: unknown frame type")
	// ErrInvalid: a field holds a value the layout forbids (a reserved or
	// fixed bit, an ACK range below zero, an offset beyond 2^62-1, a
	// stream count beyond 2^60, a transport parameter out of range).
	ErrInvalid = errors.New("wire: invalid field")
	// ErrDuplicateParam: a known transport parameter appears twice (RFC
	// 9000 section 7.4: an endpoint must not send a parameter more than once).
	ErrDuplicateParam = errors.New("wire: duplicate transport parameter")
	// ErrMissingParam: a required transport parameter is absent.
	ErrMissingParam = errors.New("wire: missing transport parameter")
	// ErrTooLarge: an encoder was asked for a length its field cannot hold.
	// Returned by PutLength; never a decoding error.
	ErrTooLarge = errors.New("wire: too large")
)

// FormatError reports malformed input: where decoding stopped and why.
// Err is one of the package's sentinels; errors.Is matches it.
type FormatError struct {
	Where  string // the structure being decoded, e.g. "ACK frame"
	Offset int    // byte offset of that structure within the decoder's input
	Err    error  // the reason: ErrTruncated, ErrInvalid, ...
}

func (e *FormatError) Error() string {
	return "wire: " + e.Where + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Err.Error()
}

func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(where string, off int, err error) error {
	return &FormatError{Where: where, Offset: off, Err: err}
}
