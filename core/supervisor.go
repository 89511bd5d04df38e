package core

import (
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// Reconnect supervision of persistent peers. Each persistent peer has one
// retry timer on the node's wheel (no goroutine, no time.AfterFunc). Its
// health is the count of consecutive failed dials, link.attempt, reset to 0
// by every installed session. After a disconnect the redial waits
// backoff(0); after the k-th consecutive failure it waits backoff(k):
//
//	backoff(k) = min(BackoffBase * 2^k, BackoffMax), jittered uniformly
//	             over [d*(1-j), d*(1+j)] with j = BackoffJitter.
//
// The backoff is per peer and counts failed dials, never lost packets (the
// "10 losses -> 60 s" lesson of DESIGN.md).

// backoff returns the jittered delay after k consecutive failures.
func (n *Node) backoff(k uint32) time.Duration {
	d := n.cfg.BackoffMax
	if k < 63 {
		if b := n.cfg.BackoffBase << k; b>>k == n.cfg.BackoffBase && b < d {
			d = b
		}
	}
	if j := n.cfg.BackoffJitter; j > 0 {
		d = time.Duration(float64(d) * (1 + j*(2*n.randFloat()-1)))
	}
	return d
}

// scheduleRetry arms p's retry timer. failed says a dial just failed (one
// more consecutive failure); otherwise the session just ended.
func (n *Node) scheduleRetry(p *Peer, l *link, now monotime.Time, failed bool) {
	var k uint32
	if failed {
		k = l.attempt.Add(1)
	} else {
		l.attempt.Store(0)
	}
	at := now.Add(n.backoff(k))
	l.retryAt.Store(int64(at))
	n.wheel.Reset(&l.timers.retry, at)
}

// onRetry is the retry timer's callback, on the wheel's goroutine.
func (n *Node) onRetry(p *Peer, now monotime.Time) {
	if n.ctx.Err() != nil {
		return // Close began: a timer started before Close does nothing after it
	}
	if !p.Persistent() || p.Forgotten() || p.liveRef() != nil {
		return
	}
	l := p.link.Load()
	if f := n.cfg.OnReconnectAttempt; f != nil {
		f(p, int(l.attempt.Load()))
	}
	if n.ctx.Err() != nil {
		return // Close began while the callback ran
	}
	if err := n.startDial(p); err == ErrDialInProgress {
		// A dial (a user's Connect) is in flight: if it fails it
		// reschedules, if it succeeds install cancels this timer; re-arm in
		// case it ends some other way, so supervision is never dropped.
		n.wheel.Reset(&l.timers.retry, now.Add(n.backoff(l.attempt.Load())))
	}
}

// afterDisconnect arms what follows a session's end: a redial for a
// persistent peer, the forget timer for any other.
func (n *Node) afterDisconnect(p *Peer, now monotime.Time) {
	if n.ctx.Err() != nil || p.Forgotten() || p.liveRef() != nil {
		return
	}
	l := p.link.Load()
	n.wheel.Cancel(&l.timers.liveness)
	if p.Persistent() {
		n.scheduleRetry(p, l, now, false)
		return
	}
	n.armForget(p, l)
}

// Health is a snapshot of a peer's reconnect health tracker.
type Health struct {
	// Failures is the number of consecutive failed dials since the last
	// installed session: the backoff exponent.
	Failures int
	// NextRetry is when the last scheduled supervised redial is (or was)
	// due; zero if none was ever scheduled.
	NextRetry monotime.Time
}

// Health returns the peer's reconnect health. For monitoring and tests.
func (p *Peer) Health() Health {
	if l := p.link.Load(); l != nil {
		return Health{Failures: int(l.attempt.Load()), NextRetry: monotime.Time(l.retryAt.Load())}
	}
	return Health{}
}

// NextRetry returns Health().NextRetry.
func (p *Peer) NextRetry() monotime.Time { return p.Health().NextRetry }
