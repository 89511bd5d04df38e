package core

import "github.com/petrel-transport/petrel/internal/monotime"

// Keepalive, stale-peer reaping and forgetting, on the wheel.
//
// Each peer with a link has one liveness timer. Touch never touches it
// (Touch is one atomic load, and a store at most once per
// touchGranularity, on the receive path); instead the timer is
// re-armed lazily: when it fires it reads last-seen and either acts or
// re-arms itself for the remainder. So a tick costs O(timers due), never
// O(all peers), and a busy peer's timer fires about once per keepalive
// interval however many packets it receives.
//
// While connected (ls = last seen, K = KeepaliveInterval, I = IdleTimeout):
//
//	now - ls >= I  -> reap: remove the session (ErrIdleTimeout)
//	now - ls >= K  -> send a keepalive, re-arm at min(now+K, ls+I)
//	otherwise      -> re-arm at ls+K
//
// While disconnected and not persistent: forget the record once
// Retention has passed since its last session ended (or since it was
// added), re-arming for the remainder if it is not due yet.

// onLiveness is the liveness timer's callback, on the wheel's goroutine.
func (n *Node) onLiveness(p *Peer, now monotime.Time) {
	if n.ctx.Err() != nil {
		return // Close began: a timer started before Close does nothing after it
	}
	l := p.link.Load()
	r := p.session.Load()
	if r == nil {
		if l.forgetting.Load() {
			n.checkForget(p, l, now)
		}
		// Otherwise this is a keepalive arming firing after its session
		// left the slot: the remover arms the forget check once it has
		// recorded the end time (armTimers), so judging retention here,
		// against the previous end time, could forget a record as it
		// disconnects.
		return
	}
	ls := p.LastSeen()
	idle := now.Sub(ls)
	switch {
	case !r.s.IsAlive() || idle >= n.cfg.IdleTimeout:
		// Stale (or a zombie whose processing has not noticed yet).
		if n.table.removeExact(p, r) {
			why := ErrIdleTimeout
			if !r.s.IsAlive() {
				why = ErrSessionDied
			}
			n.ended(p, r, why, now)
		}
	case idle >= n.cfg.KeepaliveInterval:
		_ = r.s.Keepalive(now)
		next := min(now.Add(n.cfg.KeepaliveInterval), ls.Add(n.cfg.IdleTimeout))
		n.rearmLiveness(p, l, r, next, now)
	default:
		n.rearmLiveness(p, l, r, ls.Add(n.cfg.KeepaliveInterval), now)
	}
}

// rearmLiveness re-arms the liveness timer at next for the installed session
// r, then re-checks the slot: if r has left it meanwhile, the re-arm may have
// overridden what its remover (or a new installer) armed, so armTimers arms
// for the slot's current state (see armTimers).
func (n *Node) rearmLiveness(p *Peer, l *link, r *sessionRef, next, now monotime.Time) {
	n.arm(p, &l.timers.liveness, next)
	if p.session.Load() != r {
		n.armTimers(p, l, now)
	}
}

// armForget arms the liveness timer to forget p when its retention ends.
func (n *Node) armForget(p *Peer, l *link) {
	l.forgetting.Store(true)
	n.arm(p, &l.timers.liveness, monotime.Time(l.lastConnected.Load()).Add(n.cfg.Retention))
}

// checkForget forgets p if it is past retention, not persistent, not
// connected and not dialing; the condition is re-checked under the peer's
// registry lock and the key's table lock, so it cannot race an install.
func (n *Node) checkForget(p *Peer, l *link, now monotime.Time) {
	due := monotime.Time(l.lastConnected.Load()).Add(n.cfg.Retention)
	if now.Before(due) {
		n.arm(p, &l.timers.liveness, due)
		if p.session.Load() != nil {
			n.armTimers(p, l, now) // an install raced the re-arm: arm for it
		}
		return
	}
	l.mu.Lock()
	n.table.forgetIf(p, func(p *Peer) bool {
		f := p.flags.Load()
		return f&(flagPersistent|flagDialing|flagClosed) == 0 && p.session.Load() == nil
	})
	l.mu.Unlock()
}
