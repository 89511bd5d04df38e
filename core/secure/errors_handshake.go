package secure

import (
	"errors"
	"fmt"
)

// Errors of the handshake, matchable with errors.Is. A responder drops the
// datagram that caused any of them and counts it by reason in
// ResponderStats; none of them concerns an established connection.
var (
	// ErrMalformed: too short, wrong type, unknown version or suite, or a
	// payload too large.
	ErrMalformed = errors.New("secure: malformed handshake message")
	// ErrMAC1: the message's first MAC does not verify: it is not addressed
	// to this node's static key (the initiator dialled the wrong key) or it
	// was damaged. Checked before any Diffie-Hellman, so garbage costs one
	// BLAKE2s.
	ErrMAC1 = errors.New("secure: handshake message not addressed to this static key (mac1)")
	// ErrCookieRequired: the responder asks for a cookie and the initiation
	// carried none valid for its source address; a cookie reply goes back.
	ErrCookieRequired = errors.New("secure: retry cookie required")
	// ErrDecrypt: the Noise message failed to authenticate.
	ErrDecrypt = errors.New("secure: handshake message failed to authenticate")
	// ErrReplay: the initiation's timestamp is not newer than one already
	// accepted from the same static key.
	ErrReplay = errors.New("secure: replayed initiation")
	// ErrOverBudget: the responder's handshake budget is exhausted; an
	// authenticated refusal goes back so the initiator learns why.
	ErrOverBudget = errors.New("secure: handshake budget exhausted")
	// ErrAmplification: sending the reply would exceed three times the bytes
	// received from an address not yet validated (RFC 9000 section 8.1).
	ErrAmplification = errors.New("secure: reply exceeds the anti-amplification limit")
	// ErrUnexpected: a response or cookie reply that matches no initiation
	// in flight, or arrives after the handshake finished.
	ErrUnexpected = errors.New("secure: unexpected handshake message")
	// ErrRefused is matched by every *RefusedError.
	ErrRefused = errors.New("secure: handshake refused by the responder")
)

// RefuseReason says why a responder refused an authenticated initiation.
type RefuseReason uint8

const (
	// RefuseBusy: the responder's handshake (transient) budget is full.
	RefuseBusy RefuseReason = iota + 1
	// RefuseNotAllowed: the responder's application does not accept this
	// peer.
	RefuseNotAllowed
)

func (r RefuseReason) String() string {
	switch r {
	case RefuseBusy:
		return "responder busy: its budget of handshaking and transient peers is full"
	case RefuseNotAllowed:
		return "peer not allowed by the responder"
	}
	return fmt.Sprintf("reason %d", uint8(r))
}

// RefusedError is the initiator's error for an authenticated refusal: the
// responder proved its identity and said no.
type RefusedError struct{ Reason RefuseReason }

func (e *RefusedError) Error() string { return "secure: handshake refused: " + e.Reason.String() }

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }
