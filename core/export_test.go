package core

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
