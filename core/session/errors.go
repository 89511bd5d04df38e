package session

import (
	"errors"
	"fmt"
	"net"
)

// Errors.
var (
	// ErrClosed is returned by calls on a session closed locally. It
	// matches net.ErrClosed.
	ErrClosed = fmt.Errorf("session: closed: %w", net.ErrClosed)
	// ErrIdleTimeout ends a session that heard nothing for its idle
	// timeout (RFC 9000 section 10.1).
	ErrIdleTimeout = errors.New("session: idle timeout")
	// ErrMessageTooLarge is returned by SendMessage for a message above
	// Config.MaxMessageSize.
	ErrMessageTooLarge = errors.New("session: message larger than the maximum")
	// ErrRetransmitLimit ends a session whose data was lost more often
	// than Config.MaxRetransmits: the path is gone.
	ErrRetransmitLimit = errors.New("session: data lost after the retransmission limit")
	// ErrProtocol ends a session whose peer broke the protocol (an ACK of
	// a packet never sent, data beyond the flow-control limit, a message
	// above the maximum).
	ErrProtocol = errors.New("session: protocol violation")
)

// Close codes carried by CLOSE frames.
const (
	CodeNoError  = 0x0 // a local Close
	CodeProtocol = 0x1 // ErrProtocol
	CodeInternal = 0x2 // a local failure (keys exhausted, retransmit limit)
)

// PeerClosedError ends a session the peer closed with a CLOSE frame.
type PeerClosedError struct {
	Code   uint64
	Reason string
}

func (e *PeerClosedError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("session: closed by peer (code %d)", e.Code)
	}
	return fmt.Sprintf("session: closed by peer (code %d): %s", e.Code, e.Reason)
}

// Is makes every PeerClosedError match net.ErrClosed: the connection is gone.
func (e *PeerClosedError) Is(target error) bool { return target == net.ErrClosed }
