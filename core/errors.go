package core

import (
	"errors"
	"net"

	"github.com/petrel-transport/petrel/core/session"
)

// closedError is the type of ErrClosed: it matches net.ErrClosed through
// errors.Is, so code that already handles a closed network connection
// handles a closed Node too.
type closedError struct{}

func (closedError) Error() string        { return "core: node closed" }
func (closedError) Is(target error) bool { return target == net.ErrClosed }

// ErrClosed is returned by every Node method called after Close began, and by
// Close itself after the first call. errors.Is(ErrClosed, net.ErrClosed) holds.
var ErrClosed error = closedError{}

// ErrDrainTimeout is returned by the first Close when work still in flight
// (dials, session processing, timer callbacks) did not finish within
// Config.DrainTimeout. The stragglers keep running until they notice the
// cancelled context; their results are discarded.
var ErrDrainTimeout = errors.New("core: close: in-flight work did not drain before the timeout")

// ErrUnknownPeer is returned for a PeerKey that has no record.
var ErrUnknownPeer = errors.New("core: unknown peer")

// ErrSelf is returned when asked to connect to or accept the node's own key.
var ErrSelf = errors.New("core: peer key is the node's own key")

// ErrDialInProgress is returned by Connect when a dial to the peer is already
// in flight (at most one dial per peer runs at a time).
var ErrDialInProgress = errors.New("core: a dial to this peer is already in flight")

// ErrNoDialer is returned by Connect and by AddPeer(persistent) when the Node
// has no Dialer.
var ErrNoDialer = errors.New("core: node has no Dialer")

// ErrKept is returned by Connect when the peer already had a live session
// that won the double-connection rule: the dialed session was closed and the
// existing one stays.
var ErrKept = errors.New("core: existing session kept by the double-connection rule")

// Disconnect reasons passed to Config.OnDisconnect.
var (
	// ErrReplaced: a newer or rule-winning session replaced this one.
	ErrReplaced = errors.New("core: session replaced")
	// ErrIdleTimeout: nothing heard from the peer for Config.IdleTimeout.
	// It is the session engine's own error, so a transport connection that
	// timed out matches it however the timeout was noticed (the node's
	// reaper or the session's timer).
	ErrIdleTimeout = session.ErrIdleTimeout
	// ErrLocalDisconnect: Node.Disconnect ended the session.
	ErrLocalDisconnect = errors.New("core: disconnected locally")
	// ErrSessionDied: the session's Serve returned without an error but the
	// session was dead (closed by the peer or the transport).
	ErrSessionDied = errors.New("core: session died")
)
