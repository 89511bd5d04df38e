package core

import (
	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/core/wire"
)

// TimersPending reports whether p's liveness and retry timers are armed.
// Test-only export (this file is compiled only into the package's tests).
func TimersPending(p *Peer) (liveness, retry bool) {
	if l := p.link.Load(); l != nil {
		return l.timers.liveness.Pending(), l.timers.retry.Pending()
	}
	return false, false
}

// SetTestHookDialFailedArmed sets the hook dialFailed runs between arming
// the peer's timers and clearing its dialing flag, and returns a function
// that removes it. Tests that use it must not run in parallel.
func SetTestHookDialFailedArmed(f func(*Peer)) (restore func()) {
	testHookDialFailedArmed = f
	return func() { testHookDialFailedArmed = nil }
}

// TouchGranularity exports touchGranularity to the benchmarks.
const TouchGranularity = touchGranularity

// NodeDriver returns the driver a Node opened by Listen moves its
// datagrams with (a *loop.Gnet or a *loop.Poller), so tests can read its
// Stats. Test-only export.
func NodeDriver(n *Node) Driver { return n.eng.drv }

// SetReplayTableLimit sets the capacity of the responder's timestamp LRU
// for nodes opened from now on, and returns a function that restores it.
// Tests that use it must not run in parallel.
func SetReplayTableLimit(n int) (restore func()) {
	old := replayTableLimit
	replayTableLimit = n
	return func() { replayTableLimit = old }
}

// SessionOf returns the session engine of c (FlightSize, tracker, CIDs).
func SessionOf(c *Conn) *session.Session { return c.s }

// WheelLen returns the number of timers armed on n's wheel: 0 once Close
// returned (invariant 7).
func WheelLen(n *Node) int { return n.wheel.Len() }

// Conns returns every connection n's transport holds (handshaking, live,
// and ended ones not yet removed).
func Conns(n *Node) []*Conn {
	var out []*Conn
	if n.eng != nil {
		n.eng.conns.Range(func(_ wire.ConnID, c *Conn) bool {
			out = append(out, c)
			return true
		})
	}
	return out
}
