package core

import "github.com/petrel-transport/petrel/internal/monotime"

// Keepalive, stale-peer reaping and forgetting, on the wheel.
//
// Each peer with a link has one liveness timer. Touch never touches it
// (Touch is one atomic store on the receive path); instead the timer is
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
		n.checkForget(p, l, now)
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
		n.wheel.Reset(&l.timers.liveness, next)
	default:
		n.wheel.Reset(&l.timers.liveness, ls.Add(n.cfg.KeepaliveInterval))
	}
}

// armForget arms the liveness timer to forget p when its retention ends.
func (n *Node) armForget(p *Peer, l *link) {
	n.wheel.Reset(&l.timers.liveness, monotime.Time(l.lastConnected.Load()).Add(n.cfg.Retention))
}

// checkForget forgets p if it is past retention, not persistent, not
// connected and not dialing; the condition is re-checked under the peer's
// registry lock and the key's table lock, so it cannot race an install.
func (n *Node) checkForget(p *Peer, l *link, now monotime.Time) {
	due := monotime.Time(l.lastConnected.Load()).Add(n.cfg.Retention)
	if now.Before(due) {
		n.wheel.Reset(&l.timers.liveness, due)
		return
	}
	l.mu.Lock()
	n.table.forgetIf(p, func(p *Peer) bool {
		f := p.flags.Load()
		return f&(flagPersistent|flagDialing|flagClosed) == 0 && p.session.Load() == nil
	})
	l.mu.Unlock()
}
