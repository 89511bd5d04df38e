package core

import (
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// Shutdown (invariant 7 of DESIGN.md: after Close returns no goroutine of
// the node runs, no timer fires, no dial completes):
//
//  1. closed is set and the root context is cancelled: every dial's context
//     and every session's processing context are children of it; every
//     timer callback checks it first and stops.
//  2. The in-flight tracker stops admitting work (a dial, Advance, Accept or
//     session goroutine that has not started yet never will) and Close waits
//     for the admitted work to finish, at most DrainTimeout. Session
//     goroutines return because their context is cancelled and end their
//     sessions with reason ErrClosed.
//  3. Sweep: every record is marked Closed under its registry lock; any
//     session still installed is removed, closed and its disconnect
//     announced; both peer timers are cancelled.
//
// A session installed concurrently with Close is either refused (swapPeer
// sees closed under the peer's lock) or installed before the sweep takes that
// lock, and then the sweep removes it.

// Close shuts the node down: it cancels the root context, waits (at most
// Config.DrainTimeout) for in-flight work, and ends every session. It returns
// nil, or ErrDrainTimeout if work did not drain in time. Close is
// idempotent: later calls return ErrClosed at once. It never sleeps a fixed
// time. Do not call it from a callback: the callback is part of the work
// Close waits for, so Close would return only at the drain timeout.
func (n *Node) Close() error {
	first := false
	n.closeOnce.Do(func() {
		first = true
		n.closeErr = n.shutdown()
	})
	if !first {
		return ErrClosed
	}
	return n.closeErr
}

func (n *Node) shutdown() error {
	n.closed.Store(true)
	n.table.closed.Store(true)
	n.cancel()
	var err error
	if !n.work.drain(n.cfg.DrainTimeout) {
		err = ErrDrainTimeout
	}
	now := n.clock.Now()
	n.table.Range(func(p *Peer) bool {
		n.sweep(p, now)
		return true
	})
	return err
}

// sweep closes one record (Close step 3).
func (n *Node) sweep(p *Peer, now monotime.Time) {
	var r *sessionRef
	if l := p.link.Load(); l != nil {
		l.mu.Lock()
		p.setFlag(flagClosed)
		r = p.session.Load()
		if r != nil && !n.table.removeExact(p, r) {
			r = nil
		}
		l.mu.Unlock()
		n.wheel.Cancel(&l.timers.liveness)
		n.wheel.Cancel(&l.timers.retry)
	} else {
		p.setFlag(flagClosed)
	}
	if r != nil {
		n.ended(p, r, ErrClosed, now)
	}
	n.publish(p)
}

// Advance moves the node's timer wheel to now and runs the timers due, on
// the calling goroutine; it returns how many fired. Use it only with
// Config.ManualAdvance (otherwise the node's own driver advances the wheel).
// After Close it returns ErrClosed and fires nothing. Calls are serialised;
// it must not be called from a callback (that would deadlock).
func (n *Node) Advance(now monotime.Time) (int, error) {
	if !n.work.add() {
		return 0, ErrClosed
	}
	defer n.work.done()
	n.advMu.Lock()
	defer n.advMu.Unlock()
	return n.wheel.Advance(now), nil
}

// drive is the production wheel driver: it advances the wheel every Tick
// until the root context is cancelled.
func (n *Node) drive() {
	defer n.work.done()
	t := time.NewTicker(n.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			n.advMu.Lock()
			n.wheel.Advance(n.clock.Now())
			n.advMu.Unlock()
		}
	}
}
