package core

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// Session lifecycle, one pipeline for incoming and outgoing connections:
//
//	Accept / dial ──> install (registry Swap under the peer's lock)
//	   ──> replaced session ended (ErrReplaced), OnConnect, state Connected,
//	       liveness timer armed, Serve(ctx) on a tracked goroutine
//	   ──> Serve returns / reaper / Disconnect / Close removes the session
//	       (exactly one remover) ──> ended: ctx cancelled, Close, estimates
//	       kept, OnDisconnect, state Disconnected, retry or forget armed.

// AcceptSession installs an incoming session from peer key at addr (the
// transport calls it once the handshake has authenticated the peer, so addr
// becomes the peer's address). build constructs the Session; it runs only if
// the new connection wins the double-connection rule (see registry.go),
// under the peer's registry lock, and must be short (the rules of
// Table.Swap's build apply: no Accept, Connect or Forget of the same key from
// inside it). When the result is Kept the caller closes the connection it
// offered.
func (n *Node) AcceptSession(key PeerKey, addr netip.AddrPort, build func() Session) (SwapResult, error) {
	if key == n.cfg.Local {
		return SwapResult{}, ErrSelf
	}
	if !n.enter() {
		return SwapResult{}, ErrClosed
	}
	defer n.work.done()
	p, created, ok := n.table.loadOrCreate(key, addr)
	if !ok {
		return SwapResult{}, ErrClosed
	}
	if !created && addr.IsValid() && p.Addr() != normAddr(addr) {
		n.table.SetAddr(p, addr)
	}
	n.resumeOrReset(p, n.clock.Now())
	return n.install(p, true, build)
}

// Connect dials peer key (which must have a record, see AddPeer) and
// installs the session, blocking until the dial ends. The dial is bounded by
// ctx, Config.DialTimeout (wall-clock time) and Close. It returns the
// existing session and ErrKept if the peer already had a live session that
// won the double-connection rule (the dialled one is closed), and
// ErrDialInProgress if another dial to the peer is in flight. If the peer is
// forgotten (Forget) while the dial is in flight, the dialled session is
// closed, the key gets no record back, and Connect returns ErrUnknownPeer.
func (n *Node) Connect(ctx context.Context, key PeerKey) (Session, error) {
	if n.cfg.Dialer == nil {
		return nil, ErrNoDialer
	}
	if !n.enter() {
		return nil, ErrClosed
	}
	defer n.work.done()
	p, ok := n.table.Load(key)
	if !ok {
		return nil, ErrUnknownPeer
	}
	if !p.setFlag(flagDialing) {
		return nil, ErrDialInProgress
	}
	n.publish(p)
	return n.dial(ctx, p)
}

// startDial dials p on a tracked goroutine (the supervisor's and AddPeer's
// path). It returns ErrDialInProgress or ErrClosed if no dial was started.
func (n *Node) startDial(p *Peer) error {
	if !p.setFlag(flagDialing) {
		return ErrDialInProgress
	}
	if !n.enter() {
		p.clearFlag(flagDialing)
		return ErrClosed
	}
	n.publish(p)
	go func() {
		defer n.work.done()
		_, _ = n.dial(n.ctx, p)
	}()
	return nil
}

// dial runs one dial of p, which the caller marked dialing, and installs the
// result. It clears the dialing flag when done.
func (n *Node) dial(ctx context.Context, p *Peer) (Session, error) {
	l := n.table.linkOf(p)
	l.counters.dials.Add(1)
	n.resumeOrReset(p, n.clock.Now())

	dctx, cancel := context.WithTimeout(ctx, n.cfg.DialTimeout)
	stop := func() bool { return false }
	if ctx != n.ctx {
		stop = context.AfterFunc(n.ctx, cancel) // Close cancels dials made under a caller's ctx
	}
	var s Session
	var err error
	if n.ctx.Err() == nil {
		s, err = n.cfg.Dialer.Dial(dctx, p)
	} else {
		err = ErrClosed
	}
	stop()
	cancel()

	if n.ctx.Err() != nil {
		// Close began while we dialled: a dial started before Close does
		// nothing after it. Whatever the dialer produced is discarded.
		if s != nil {
			_ = s.Close()
		}
		return nil, n.dialFailed(p, l, ErrClosed)
	}
	if err == nil && s == nil {
		err = errors.New("core: Dialer returned neither a session nor an error")
	}
	if errors.Is(err, errCrossed) {
		if ex := p.Session(); ex != nil {
			// The peer's crossing dial won and its connection is installed:
			// not a failure, the outcome ErrKept names.
			n.armTimers(p, l, n.clock.Now())
			p.clearFlag(flagDialing)
			n.publish(p)
			return ex, ErrKept
		}
	}
	if err != nil {
		if s != nil {
			_ = s.Close() // a Dialer that returns both is not trusted with either
		}
		return nil, n.dialFailed(p, l, fmt.Errorf("core: dial %v: %w", p.key, err))
	}
	res, err := n.install(p, false, func() Session { return s })
	n.publish(p) // install cleared the dialing flag
	switch {
	case err != nil:
		_ = s.Close()
		return nil, err
	case res.Kept:
		_ = s.Close()
		return res.Existing, ErrKept
	}
	return s, nil
}

// dialFailed books a failed dial, schedules the next supervised attempt and
// clears the dialing flag (in that order, so that when the state change to
// Disconnected is observed the retry is already armed).
func (n *Node) dialFailed(p *Peer, l *link, err error) error {
	l.counters.dialFailures.Add(1)
	if n.ctx.Err() == nil && p.liveRef() == nil {
		l.attempt.Add(1) // one more consecutive failure: the backoff grows
	}
	// armTimers, not a bare re-arm: a session installed meanwhile (an
	// incoming connection) keeps its liveness timer.
	n.armTimers(p, l, n.clock.Now())
	if testHookDialFailedArmed != nil {
		testHookDialFailedArmed(p)
	}
	p.clearFlag(flagDialing)
	if !p.Persistent() {
		// The forget check skips a dialing record without re-arming: one
		// that fired since the arming above saw the flag still set, so arm
		// it again now that the flag is clear, or the record past its
		// retention is never forgotten. (A persistent peer's redial stays
		// armed before the flag clears, as said above.)
		n.armTimers(p, l, n.clock.Now())
	}
	n.publish(p)
	return err
}

// testHookDialFailedArmed, if set (tests only, see export_test.go), runs in
// dialFailed between the arming of the timers and the clearing of the
// dialing flag.
var testHookDialFailedArmed func(p *Peer)

// install offers a session to p through the registry and, if it was
// installed, runs the connect half of the pipeline.
//
// An outgoing install (from dial) clears the peer's dialing flag as soon as
// the registry has decided, before the new session can be observed or end:
// a session that dies at once must find the peer not dialing, or its
// supervised redial would be dropped as "dial in progress".
func (n *Node) install(p *Peer, incoming bool, build func() Session) (SwapResult, error) {
	dialer := p // the record whose dialing flag this install ends
	for {
		res, nr, old, err := n.table.swapPeer(p, incoming, build, n.ctx)
		if !incoming && dialer != nil {
			dialer.clearFlag(flagDialing)
			dialer = nil
		}
		if err == errForgotten {
			if !incoming {
				// An outgoing dial belongs to the record that started it,
				// and Forget ended that record: its late session must not
				// bring the key back (the caller closes it).
				return SwapResult{}, ErrUnknownPeer
			}
			// An incoming connection forgotten between lookup and lock:
			// the remote chose to connect, so the key's current record (a
			// new one if need be) takes the session.
			var ok bool
			if p, _, ok = n.table.loadOrCreate(p.key, p.Addr()); !ok {
				return SwapResult{}, ErrClosed
			}
			continue
		}
		if err != nil || res.Kept {
			return res, err
		}
		now := n.clock.Now()
		l := p.link.Load()
		p.Touch(now) // a new session counts as contact
		l.attempt.Store(0)
		n.armTimers(p, l, now)
		if old != nil {
			n.ended(p, old, ErrReplaced, now)
		}
		n.announceConnect(p, nr)
		n.publish(p)
		if w, ok := nr.s.(selfReporting); ok {
			// No goroutine per session: the session reports its end.
			w.watch(func(err error) { n.sessionEnded(p, nr, err) })
		} else if n.work.add() {
			go n.serve(p, nr)
		} // else Close has begun: its sweep removes and ends nr.
		return res, nil
	}
}

// reasonCloser is a Session that can carry the reason of its end to its
// user (Err) and its peer (the CLOSE frame): the transport's Conn.
type reasonCloser interface {
	closeWith(why error)
}

// selfReporting is a Session that reports its own end instead of being
// served on a goroutine (the transport's Conn: an idle connection then costs
// no goroutine stack). watch is called once, after the session was
// installed; the session calls end exactly once when it ends — at once if
// it already has.
type selfReporting interface {
	watch(end func(err error))
}

// sessionEnded is serve's tail for a selfReporting session.
func (n *Node) sessionEnded(p *Peer, r *sessionRef, err error) {
	if !n.enter() {
		return // Close has begun: its sweep removes and ends r
	}
	defer n.work.done()
	n.serveEnded(p, r, err)
}

// serve runs one session's processing and, when it returns, ends the
// session unless another actor removed it first.
func (n *Node) serve(p *Peer, r *sessionRef) {
	defer n.work.done()
	n.serveEnded(p, r, r.s.Serve(r.ctx))
}

// serveEnded ends r, whose processing returned err, unless another actor
// removed it first.
func (n *Node) serveEnded(p *Peer, r *sessionRef, err error) {
	if !n.table.removeExact(p, r) {
		r.end()
		return
	}
	switch {
	case n.ctx.Err() != nil:
		err = ErrClosed
	case err == nil || errors.Is(err, context.Canceled):
		err = ErrSessionDied
	}
	n.ended(p, r, err, n.clock.Now())
}

// ended runs the disconnect half of the pipeline for a session the caller
// removed from p's slot (the caller is its only owner now).
func (n *Node) ended(p *Peer, r *sessionRef, why error, now monotime.Time) {
	r.end()
	if rc, ok := r.s.(reasonCloser); ok {
		rc.closeWith(why) // the connection, and its peer, learn why
	} else {
		_ = r.s.Close()
	}
	if l := p.link.Load(); l != nil {
		l.keep(r.s.Estimates())
		l.lastConnected.Store(int64(now))
		l.attempt.Store(0) // after a disconnect the redial waits backoff(0)
		// Arm the retry and publish the state before announcing: whoever
		// observes the disconnect sees the peer Disconnected (or already
		// reconnected) with its redial scheduled.
		n.armTimers(p, l, now)
	}
	n.settleSlot(p)
	n.publish(p)
	n.announceDisconnect(p, r, why)
}

// Disconnect ends peer key's current session (reason ErrLocalDisconnect). A
// persistent peer is redialled by its supervisor. It reports whether there
// was a session to end.
func (n *Node) Disconnect(key PeerKey) (bool, error) {
	if !n.enter() { // tracked: Close waits for its callbacks
		return false, ErrClosed
	}
	defer n.work.done()
	p, ok := n.table.Load(key)
	if !ok {
		return false, ErrUnknownPeer
	}
	r := p.session.Load()
	if r == nil || !n.table.removeExact(p, r) {
		return false, nil
	}
	n.ended(p, r, ErrLocalDisconnect, n.clock.Now())
	return true, nil
}

// RemoveIfMatches ends peer key's session only if it is still s (reason
// ErrLocalDisconnect) and reports whether it did; exactly one caller gets
// true for a session, and the node announces its disconnect once. It is the
// Node-level form of Table.RemoveIfMatches: on a Node's table use this one,
// so the disconnect pipeline (callbacks, estimates, redial) runs.
//
// Once Close has begun it returns false: Close's sweep ends every session.
func (n *Node) RemoveIfMatches(key PeerKey, s Session) bool {
	if !n.enter() { // tracked: Close waits for its callbacks
		return false
	}
	defer n.work.done()
	p, ok := n.table.Load(key)
	if !ok {
		return false
	}
	r := n.table.removeRef(p, s)
	if r == nil {
		return false
	}
	n.ended(p, r, ErrLocalDisconnect, n.clock.Now())
	return true
}

// Forget removes peer key's record: its session (if any) is ended with
// ErrLocalDisconnect and its timers are cancelled; a dial to it in flight
// has its session closed and discarded when it completes (it recreates no
// record). It reports whether the record existed.
func (n *Node) Forget(key PeerKey) (bool, error) {
	if !n.enter() { // tracked: Close waits for its callbacks
		return false, ErrClosed
	}
	defer n.work.done()
	p, ok := n.table.Load(key)
	if !ok {
		return false, nil
	}
	l := n.table.linkOf(p)
	l.mu.Lock() // lock order: link.mu -> table shard locks
	removed := n.table.forgetIf(p, nil)
	r := p.session.Load()
	if r != nil && !n.table.removeExact(p, r) {
		r = nil
	}
	l.mu.Unlock()
	n.wheel.Cancel(&l.timers.liveness)
	n.wheel.Cancel(&l.timers.retry)
	if r != nil {
		n.ended(p, r, ErrLocalDisconnect, n.clock.Now())
	}
	return removed, nil
}

// resumeOrReset decides, before a session starts, whether p resumes with its
// retained estimates: it does if its last session ended less than
// Config.Retention before now; otherwise the estimates are cleared and the
// session starts fresh.
func (n *Node) resumeOrReset(p *Peer, now monotime.Time) {
	l := n.table.linkOf(p)
	if now.Sub(monotime.Time(l.lastConnected.Load())) >= n.cfg.Retention {
		l.keep(Estimates{})
	}
}
