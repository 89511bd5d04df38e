package core

import (
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
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
// lock, and then the sweep removes it. A record is never created once Close
// has begun: the Node's calls fail at enter, and the table itself refuses
// to create (table.closed, checked inside the key's compute; Table.settle
// waits out every compute that saw it unset, so the sweep's Range visits the
// record such a compute created). A timer is never armed after the sweep (arm re-checks closed).
// So when Close returns every record in the table is Closed, with no
// session and no timer armed.

// enter admits one unit of a Node call's work: it reports false once Close
// has begun (the caller returns ErrClosed), and otherwise registers the work
// so Close waits for it (the caller defers n.work.done()). Close begins with
// table.closed.Store(true): a call that passed enter either sees the node
// open and is drained before Close's sweep, or had its work.add refused; a
// call that checks after closed is set always fails. So "Close has begun" is one
// atomic instant that every Node method agrees on.
func (n *Node) enter() bool {
	if n.table.closed.Load() || !n.work.add() {
		return false
	}
	if n.table.closed.Load() {
		n.work.done()
		return false
	}
	return true
}

// arm sets p's timer t to fire at at, unless Close has begun or p has been
// forgotten. The re-check after the wheel call is what makes it total: Close
// sets closed before its sweep cancels the timers, and Forget marks the
// record forgotten before it cancels them, so an arming that raced either
// (a caller paused between its own check and the wheel call) sees the flag
// here and cancels what it armed. Every timer arming of the Node goes
// through arm.
func (n *Node) arm(p *Peer, t *wheel.Timer, at monotime.Time) {
	n.wheel.Reset(t, at)
	if n.table.closed.Load() || p.Forgotten() {
		n.wheel.Cancel(t)
	}
}

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
	// Close has begun: from here the table creates no record, enter
	// fails and arm undoes.
	n.table.closed.Store(true)
	n.cancel()
	var err error
	if !n.work.drain(n.cfg.DrainTimeout) {
		err = ErrDrainTimeout
	}
	n.table.settle()
	now := n.clock.Now()
	n.table.Range(func(p *Peer) bool {
		n.sweep(p, now)
		return true
	})
	if n.eng != nil {
		if cerr := n.eng.close(); err == nil {
			err = cerr
		}
	}
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
	if !n.enter() {
		return 0, ErrClosed
	}
	defer n.work.done()
	n.advMu.Lock()
	defer n.advMu.Unlock()
	return n.wheel.Advance(now), nil
}

// maxIdleSleep bounds how long the driver sleeps with timers far off or
// none: a defence in depth, so that a wake-up missed by a bug costs at most
// this much lateness, at 1 wake-up a second instead of 1,000.
const maxIdleSleep = time.Second

// drive is the production wheel driver. With the system clock it sleeps
// until the wheel's next event (or an arming earlier than it wakes it)
// instead of ticking: an idle node no longer wakes every Tick. In a
// profile of 1,000 nodes in one process (bench's BenchmarkPeers) the 1 ms
// ticker and the Advances it drove took about a third of the CPU. Another
// Clock may jump in ways the wheel cannot foresee, so it keeps the ticker.
func (n *Node) drive() {
	defer n.work.done()
	if _, system := n.clock.(systemClock); !system {
		n.driveTicker()
		return
	}
	t := time.NewTimer(n.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		case <-n.wheel.Wakeups():
		}
		n.advance()
		next, ok := n.wheel.NextDeadline() // by the goroutine that advances, as it requires
		d := maxIdleSleep
		if ok {
			d = min(d, time.Duration(next-n.clock.Now()))
		}
		t.Reset(max(d, 0))
	}
}

// driveTicker advances the wheel every Tick until the root context is
// cancelled: the driver for a Clock other than the system's.
func (n *Node) driveTicker() {
	t := time.NewTicker(n.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			n.advance()
		}
	}
}

// advance moves the wheel to the clock's now, serialised with Node.Advance.
func (n *Node) advance() {
	n.advMu.Lock()
	n.wheel.Advance(n.clock.Now())
	n.advMu.Unlock()
}
